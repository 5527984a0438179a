/*
 * slots.c: the record slots of a registry (see slots.h): segments, slot arithmetic, the spare
 * list and ids.
 *
 * Threads: take and put from any thread that submits or prunes, under mu; find from any thread,
 * without a lock (it reads used, then a segment pointer written before used covered it).
 * Under AddressSanitizer a spare record's body is poisoned, so a use after its job's end is
 * still caught until the record is reused.
 */
#include "slots.h"

#include <stddef.h>
#include <string.h>

#include "alloc.h"
#include "hb.h"
#include "job.h"

#define SEG0 64u
#define SLOT_MASK ((UINT64_C(1) << JOBQ__SLOT_BITS) - 1)
#define MAX_SLOTS (SEG0 * ((1u << JOBQ__NSEG) - 1))

/* Segment k holds slots SEG0 * (2^k - 1) up to SEG0 * (2^(k+1) - 1). */
static unsigned seg_of(uint32_t n)
{
	return 31 - (unsigned)__builtin_clz(n / SEG0 + 1);
}

static struct jobq__job *at(const struct jobq__slots *s, uint32_t n)
{
	unsigned k = seg_of(n);
	return &s->seg[k][n - SEG0 * ((1u << k) - 1)];
}

struct jobq__job *jobq__slots_at(const struct jobq__slots *s, uint32_t n)
{
	return at(s, n);
}

struct jobq__job *jobq__slots_find(struct jobq__slots *s, uint64_t id)
{
	uint64_t n = id & SLOT_MASK;
	/* Acquire pairs with the release in fresh: the segment and the record's lock are made. */
	if (n >= atomic_load_explicit(&s->used, memory_order_acquire))
		return NULL;
	return at(s, (uint32_t)n);
}

/*
 * Asks for the lines of the record that the next submit will take, for writing: a spare was
 * last written by the thread that pruned it or the worker that ran it, and the stores of
 * jobq__job_new otherwise wait for each line to come over. A write prefetch, because a read one
 * (what __builtin_prefetch emits without -mprfchw) leaves the line shared and the stores still
 * wait for the other copy to go. On an Intel Xeon whose cores are 0.16 µs apart, tracked jobs
 * with 2 workers: medians of 2.25-2.43 against 1.98-2.30 M jobs/s (docs/BENCHMARKS.md, *A
 * second machine*).
 */
static void prefetch_record(const struct jobq__job *j)
{
	/* The record is not line-aligned, so it may reach into one line more; a prefetch past
	 * its end touches nothing. */
	for (size_t o = 0; o < sizeof *j + 63; o += 64) {
#if defined(__x86_64__)
		__asm__ volatile("prefetchw %0" : : "m"(((const char *)j)[o]));
#else
		__builtin_prefetch((const char *)j + o, 1);
#endif
	}
}

/* A never-used slot, from the current segment or a new one. Caller holds mu. */
static struct jobq__job *fresh(struct jobq__slots *s)
{
	uint32_t n = atomic_load_explicit(&s->used, memory_order_relaxed);
	if (n == MAX_SLOTS)
		return NULL;
	unsigned k = seg_of(n);
	if (!s->seg[k] &&
	    !(s->seg[k] = jobq__aligned_calloc(64, (size_t)(SEG0 << k) * sizeof *s->seg[k])))
		return NULL;
	struct jobq__job *j = at(s, n);
	jobq__lock_init(&j->mu);
	j->id = n; /* generation 0: the take below makes it 1 */
	/* Release pairs with the acquire in jobq__slots_find. */
	atomic_store_explicit(&s->used, n + 1, memory_order_release);
	return j;
}

struct jobq__job *jobq__slots_take(struct jobq__slots *s, bool fresh_ok)
{
	jobq__lock(&s->mu);
	struct jobq__job *j = s->spare;
	if (j) {
		ASAN_UNPOISON_MEMORY_REGION(j, sizeof *j);
		s->spare = j->link;
		if (s->spare)
			prefetch_record(s->spare);
	} else if (fresh_ok) {
		j = fresh(s);
	}
	jobq__unlock(&s->mu);
	if (!j)
		return NULL;
	/* The header stays: a lookup may hold the lock and read listed (false) meanwhile. The id
	 * is read by lookups only while listed, so it is written here without the lock. */
	JOBQ_HB_RECYCLED((char *)j + JOBQ__JOB_BODY, sizeof *j - JOBQ__JOB_BODY);
	memset((char *)j + JOBQ__JOB_BODY, 0, sizeof *j - JOBQ__JOB_BODY);
	uint64_t gen = (j->id >> JOBQ__SLOT_BITS) + 1;
	if (gen >> (64 - JOBQ__SLOT_BITS))
		gen = 1; /* 2^38 uses: the first generation again, never 0 (slot 0 would be id 0) */
	j->id = gen << JOBQ__SLOT_BITS | (j->id & SLOT_MASK);
	return j;
}

void jobq__slots_put(struct jobq__slots *s, struct jobq__job *first, struct jobq__job *last)
{
	jobq__lock(&s->mu);
	last->link = s->spare;
#ifdef JOBQ__ASAN
	for (struct jobq__job *j = first, *next; j != s->spare; j = next) {
		next = j->link;
		ASAN_POISON_MEMORY_REGION((char *)j + JOBQ__JOB_BODY, sizeof *j - JOBQ__JOB_BODY);
	}
#endif
	s->spare = first;
	jobq__unlock(&s->mu);
}

void jobq__slots_fini(struct jobq__slots *s)
{
	for (unsigned k = 0; k < JOBQ__NSEG; k++) {
		if (s->seg[k])
			ASAN_UNPOISON_MEMORY_REGION(s->seg[k], (size_t)(SEG0 << k) * sizeof *s->seg[k]);
		jobq__free(s->seg[k]);
		s->seg[k] = NULL;
	}
	s->spare = NULL;
	atomic_store_explicit(&s->used, 0, memory_order_relaxed);
}
