/*
 * slots.h: where tracked-job records live, and how an id finds one: the record slots of a
 * registry (job.h). Internal to libjobq.
 *
 * The records form a table of N = 64 << k slots, made of segments that are never freed before
 * the registry is (segment 0 and 1 hold 64 records, segment i > 1 holds 64 << (i - 1)), so a
 * growing table never moves a record. An id is a counter c, which every new job takes the next
 * of, and the table's epoch k at that moment: id = c << JOBQ__EPOCH_BITS | k. The job's record
 * is slot c mod (64 << k). So ids grow and never come back, and a lookup is the slot's address
 * and a compare of the id under the record's lock, with no table to insert into or delete from
 * and no lock beside the record's: a submit registers its job by marking the record listed
 * under that lock (job.c).
 *
 * A submit takes the next id; if its slot's record is busy (its job waits, runs or is kept),
 * the id is skipped and the next tried, and after 16 busy slots in a row the table doubles
 * (a new epoch). Records are thus reused in the order of their ids, a table's length behind:
 * a single submitter walks them in address order, and retention, which frees the oldest first,
 * frees them in the same order.
 *
 * A free record's lock may be taken by a lookup at any time (it then finds it not listed), so
 * the header (mu, refs, listed, busy, owns, id; job.h) is never cleared or poisoned; see
 * jobq__slots_take.
 *
 * Not taken: an id table beside the records (the earlier design), which every submit and every
 * prune wrote under a shard lock, on lines that the submitter and the pruning thread passed
 * between them; and ids that name a slot and its use count, which would not grow with time
 * (docs/BENCHMARKS.md, the fourteenth round).
 */
#ifndef JOBQ_SLOTS_H
#define JOBQ_SLOTS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "lock.h"

struct jobq__job;

#define JOBQ__EPOCH_BITS 5
#define JOBQ__SEG0 64u
#define JOBQ__NSEG 21 /* at most 64 << 20 records */

/* An id's counter: it grows by one with each id handed out (skipped ones included). */
static inline uint64_t jobq__id_counter(uint64_t id)
{
	return id >> JOBQ__EPOCH_BITS;
}

/* How many slots the table had in id's epoch. */
static inline uint64_t jobq__id_table(uint64_t id)
{
	return (uint64_t)JOBQ__SEG0 << (id & ((1u << JOBQ__EPOCH_BITS) - 1));
}

/* The slot of id's record: its counter modulo its epoch's table. */
static inline uint32_t jobq__id_slot(uint64_t id)
{
	return (uint32_t)(jobq__id_counter(id) & (jobq__id_table(id) - 1));
}

struct jobq__slots {
	/* Written under grow_mu before the epoch that uses them is published in next. */
	struct jobq__job *seg[JOBQ__NSEG];
	/* The next id to hand out (its epoch in the low bits): taken with an add, moved to the
	 * next epoch with a CAS under grow_mu. */
	alignas(64) _Atomic uint64_t next;
	jobq__lock_t grow_mu;
};

/* Makes the first 64 slots. 0 or JOBQ_ENOMEM. */
int jobq__slots_init(struct jobq__slots *s);
/* A record for a new job, zeroed but for its header, with its id set and marked busy; its lock
 * is free unless a lookup holds it for a moment. NULL when the table could not grow. */
struct jobq__job *jobq__slots_take(struct jobq__slots *s);
/* Makes j's slot free (j stripped, not listed); the next id that maps there may take it. */
void jobq__slots_free(struct jobq__job *j);
/* The record in id's slot (it may hold another job, or none: compare under its lock), or NULL
 * if id was never handed out. Any thread. */
struct jobq__job *jobq__slots_find(struct jobq__slots *s, uint64_t id);
/* How many slots the table has now (acquire), and the record in slot n below that. */
uint32_t jobq__slots_size(struct jobq__slots *s);
struct jobq__job *jobq__slots_at(const struct jobq__slots *s, uint32_t n);
/* Frees the segments (the records must be stripped first). */
void jobq__slots_fini(struct jobq__slots *s);

#endif
