/*
 * slots.h: where tracked-job records live, and how an id names one: the record slots of a
 * registry (job.h). Internal to libjobq.
 *
 * Records are carved from segments that are never freed before the registry is: segment k holds
 * SLOTS_SEG0 << k records, so slot n is found by arithmetic, and an id is the slot in its low
 * JOBQ__SLOT_BITS bits and the slot's use count (its generation) above them. A lookup is then a
 * slot's address and a compare of the id under the record's lock, with no table to insert into
 * or delete from and no lock beside the record's: a submit registers its job by marking the
 * record listed under that lock (job.c).
 *
 * A freed record is spare: stripped, it waits on the spare list for the next submit, which
 * takes it with its next generation's id. A lookup may lock a spare record at any time (it then
 * finds it not listed), so the header (mu, listed, id) is never cleared or poisoned; see
 * jobq__slots_take.
 *
 * Not taken: an id table beside the records (the earlier design), which every submit and every
 * prune wrote under a shard lock, on lines that the submitter and the pruning thread passed
 * between them (docs/BENCHMARKS.md, the fourteenth round).
 */
#ifndef JOBQ_SLOTS_H
#define JOBQ_SLOTS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "lock.h"

struct jobq__job;

/* 2^26 slots (64 << 20, less 64) in 20 segments; the generation has the other 38 bits, so an
 * id comes back only after its slot has served 2^38 jobs. */
#define JOBQ__SLOT_BITS 26
#define JOBQ__NSEG 20

struct jobq__slots {
	struct jobq__job *seg[JOBQ__NSEG]; /* written before used publishes them */
	/* Slots below this have been handed out at least once: a lookup never looks past it,
	 * so a record is looked at only after its lock was made. Stored under mu, with release;
	 * read without it, with acquire. */
	_Atomic uint32_t used;
	/* Guards the spare list; the other fields are written under it too. */
	jobq__lock_t mu;
	struct jobq__job *spare;
};

/* A record for a new job, zeroed but for its header, with its id set; its lock is free unless
 * a lookup holds it for a moment. A spare one; else, if fresh_ok, a never-used slot. NULL when
 * there is none, or a segment could not be allocated. */
struct jobq__job *jobq__slots_take(struct jobq__slots *s, bool fresh_ok);
/* Makes the chain first..last (through link, stripped, not listed) spare. */
void jobq__slots_put(struct jobq__slots *s, struct jobq__job *first, struct jobq__job *last);
/* The record in id's slot (it may hold another job, or none: compare under its lock), or NULL
 * if id names no slot that was ever used. Any thread. */
struct jobq__job *jobq__slots_find(struct jobq__slots *s, uint64_t id);
/* The record in slot n, for n below used (read with acquire). Any thread. */
struct jobq__job *jobq__slots_at(const struct jobq__slots *s, uint32_t n);
/* Frees the segments (the records must be stripped first). */
void jobq__slots_fini(struct jobq__slots *s);

#endif
