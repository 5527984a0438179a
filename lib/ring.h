/*
 * ring.h: a bounded lock-free multi-producer multi-consumer queue of (function, argument) pairs.
 * See ring.c for the algorithm. Internal to libjobq.
 */
#ifndef JOBQ_RING_H
#define JOBQ_RING_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JOBQ_CACHELINE 128 /* two 64-byte lines: the adjacent-line prefetcher pairs them */

typedef void (*jobq__item_fn)(void *arg);

/* An item as the pop hands it over. */
struct jobq__item {
	jobq__item_fn fn;
	void *arg;
};

/* One queued item: 24 bytes, well inside DESIGN.md's 32 bytes per queued job. */
struct jobq__slot {
	_Atomic uint64_t seq;
	jobq__item_fn fn;
	void *arg;
};

struct jobq__ring {
	alignas(JOBQ_CACHELINE) _Atomic uint64_t head; /* next position to push */
	alignas(JOBQ_CACHELINE) _Atomic uint64_t tail; /* next position to pop */
	alignas(JOBQ_CACHELINE) uint64_t mask;
	struct jobq__slot *slots;
};

/* capacity is rounded up to a power of two (at least 1). Returns 0 or JOBQ_ENOMEM. */
int jobq__ring_init(struct jobq__ring *r, size_t capacity);
void jobq__ring_fini(struct jobq__ring *r);
/* false when the ring is full; never blocks, and goes on after jobq__ring_close. */
bool jobq__ring_push(struct jobq__ring *r, jobq__item_fn fn, void *arg);
/* A push in two halves. The claim takes position *pos: 0, JOBQ_EAGAIN when the ring is full,
 * or JOBQ_ECLOSED when refuse_closed is set and jobq__ring_close has run. The ring counts the
 * item from then on (size, pushed), but no consumer gets past it until the publish, which must
 * follow, and after which the producer may no longer touch the ring. */
int jobq__ring_claim(struct jobq__ring *r, bool refuse_closed, uint64_t *pos);
void jobq__ring_publish(struct jobq__ring *r, uint64_t pos, jobq__item_fn fn, void *arg);
/* From now on claims with refuse_closed fail; the others go on. Any thread. */
void jobq__ring_close(struct jobq__ring *r);
/* Pops up to k items (k >= 1) with one claim: those published in a row from the next one on,
 * into out[0..n). Returns n; 0 when the ring is empty or its next item is not published yet.
 * Never blocks. */
unsigned jobq__ring_pop_many(struct jobq__ring *r, struct jobq__item *out, unsigned k);
/* The next item to pop is published: a hint. It reads tail and that item's slot, as a pop
 * does, and not head, which every push writes (jobq__ring_size reads it). */
bool jobq__ring_ready(const struct jobq__ring *r);
/* Items pushed and not yet popped; exact when no push or pop is in progress. */
uint64_t jobq__ring_size(const struct jobq__ring *r);
/* Pushes ever made (claimed positions); counts every push that got in before a close, when read
 * after it. */
uint64_t jobq__ring_pushed(const struct jobq__ring *r);

#endif
