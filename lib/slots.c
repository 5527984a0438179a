/*
 * slots.c: the record slots of a registry (see slots.h): segments, slot arithmetic, taking
 * and freeing a record, and the table's growth.
 *
 * Threads: take from any thread that submits, free from any thread that ends or prunes a job,
 * find from any thread; none of them takes a lock. A record is claimed by a CAS on its busy
 * flag, and given back by a release store of it; grow_mu serialises the growth, which is
 * rare. Under AddressSanitizer a free record's body is poisoned, so a use after its job's end
 * is still caught until the record is reused.
 */
#include "slots.h"

#include <stddef.h>
#include <string.h>

#include "alloc.h"
#include "hb.h"
#include "job.h"

#define SEG0 JOBQ__SEG0
#define EPOCH_MASK ((1u << JOBQ__EPOCH_BITS) - 1)
#define ONE_ID (UINT64_C(1) << JOBQ__EPOCH_BITS) /* the counter's unit in an id */
/* Busy slots in a row that make a submit grow the table. Where the busy records are the
 * newest (a queue that the workers have not caught up with) a table no longer than the queue
 * has only busy slots, and grows at once; where they are scattered (jobs delayed by different
 * times) a table a fraction f full meets 16 in a row once in 1/f^16 submits: never at 1/4, once
 * in 65536 at 1/2. So the table settles at no more than about four times the records in use. */
#define PROBES 16

static size_t seg_len(unsigned i)
{
	return i ? (size_t)SEG0 << (i - 1) : SEG0;
}

/* Segment i's size in bytes: what it is allocated with and freed with. */
static size_t seg_bytes(unsigned i)
{
	return seg_len(i) * sizeof(struct jobq__job);
}

struct jobq__job *jobq__slots_at(const struct jobq__slots *s, uint32_t n)
{
	if (n < SEG0)
		return &s->seg[0][n];
	unsigned i = 32 - (unsigned)__builtin_clz(n / SEG0); /* n in [64 << (i-1), 64 << i) */
	return &s->seg[i][n - (SEG0 << (i - 1))];
}

uint32_t jobq__slots_size(struct jobq__slots *s)
{
	uint64_t next = atomic_load_explicit(&s->next, memory_order_acquire);
	JOBQ_HB_AFTER(&s->next);
	return SEG0 << (next & EPOCH_MASK);
}

struct jobq__job *jobq__slots_find(struct jobq__slots *s, uint64_t id)
{
	/* Acquire pairs with the release of grow: the segments of the id's epoch are made. */
	uint64_t next = atomic_load_explicit(&s->next, memory_order_acquire);
	JOBQ_HB_AFTER(&s->next);
	if (!id || id >= next || (id & EPOCH_MASK) > (next & EPOCH_MASK))
		return NULL; /* never handed out */
	return jobq__slots_at(s, jobq__id_slot(id));
}

/* A new segment's records: for helgrind, their lock words and busy and listed flags are
 * atomics. */
static void made(struct jobq__job *seg, size_t n)
{
#ifdef JOBQ_VALGRIND
	for (size_t i = 0; i < n; i++) {
		jobq__lock_init(&seg[i].mu);
		JOBQ_HB_ATOMIC(&seg[i].busy, sizeof seg[i].busy);
		JOBQ_HB_ATOMIC(&seg[i].listed, sizeof seg[i].listed);
	}
#else
	(void)seg;
	(void)n;
#endif
}

int jobq__slots_init(struct jobq__slots *s)
{
	memset(s->seg, 0, sizeof s->seg);
	if (!(s->seg[0] = jobq__calloc_large(seg_bytes(0))))
		return JOBQ_ENOMEM;
	made(s->seg[0], SEG0);
	jobq__lock_init(&s->grow_mu);
	atomic_init(&s->next, ONE_ID); /* counter 1, epoch 0: 0 is never an id */
	JOBQ_HB_ATOMIC(&s->next, sizeof s->next);
	return 0;
}

/* Doubles the table, unless another thread already left the epoch seen. false when it is as
 * large as it goes or the segment could not be allocated. */
static bool grow(struct jobq__slots *s, unsigned seen)
{
	bool ok = true;
	jobq__lock(&s->grow_mu);
	uint64_t w = atomic_load_explicit(&s->next, memory_order_relaxed);
	if ((w & EPOCH_MASK) == seen) {
		unsigned i = seen + 1;
		ok = i < JOBQ__NSEG && (s->seg[i] = jobq__calloc_large(seg_bytes(i))) != NULL;
		if (ok) {
			made(s->seg[i], seg_len(i));
			JOBQ_HB_BEFORE(&s->next);
			/* Release pairs with the acquire of take and find. The adds of other
			 * submits leave the epoch bits alone, so only they can fail the CAS. */
			while (!atomic_compare_exchange_weak_explicit(&s->next, &w, w + 1,
								      memory_order_release,
								      memory_order_relaxed))
				;
		}
	}
	jobq__unlock(&s->grow_mu);
	return ok;
}

struct jobq__job *jobq__slots_take(struct jobq__slots *s)
{
	for (unsigned busy = 0;;) {
		/* Acquire pairs with the release of grow: the segments of the epoch are made. */
		uint64_t id = atomic_fetch_add_explicit(&s->next, ONE_ID, memory_order_acquire);
		JOBQ_HB_AFTER(&s->next);
		struct jobq__job *j = jobq__slots_at(s, jobq__id_slot(id));
		unsigned char idle = 0;
		/* Acquire pairs with the release in jobq__slots_free: the last job's strip and
		 * every use of the record come before ours. */
		if (!atomic_load_explicit(&j->busy, memory_order_relaxed) &&
		    atomic_compare_exchange_strong_explicit(&j->busy, &idle, 1, memory_order_acquire,
							    memory_order_relaxed)) {
			JOBQ_HB_AFTER(&j->busy);
			/* The header stays: a lookup may hold the lock and read listed (false)
			 * meanwhile. The id is read by lookups only while listed, so it is
			 * written here without the lock; refs and owns are the submit's to set
			 * (job.c). */
			ASAN_UNPOISON_MEMORY_REGION((char *)j + JOBQ__JOB_BODY,
						    sizeof *j - JOBQ__JOB_BODY);
			JOBQ_HB_RECYCLED((char *)j + JOBQ__JOB_BODY, sizeof *j - JOBQ__JOB_BODY);
			/* Of the body, these are only ever accessed atomically, and written
			 * without the record's lock (job.c: settle, end, jobq__job_run). */
			JOBQ_HB_ATOMIC(&j->settled, sizeof j->settled);
			JOBQ_HB_ATOMIC(&j->state, sizeof j->state);
			JOBQ_HB_ATOMIC(&j->code, sizeof j->code);
			JOBQ_HB_ATOMIC(&j->finished_ns, sizeof j->finished_ns);
			JOBQ_HB_ATOMIC(&j->attempt, sizeof j->attempt);
			JOBQ_HB_ATOMIC(&j->started_ns, sizeof j->started_ns);
			/* Through the C library's memset, with the size hidden from the compiler,
			 * which would clear a body of constant size with an inline rep stosq. That
			 * was half of this function's samples; with the library's vector stores
			 * tracked jobs ran 1.095x as fast, by the median of 30 interleaved rounds
			 * of bench -x 0,1,1,2,400000 (docs/BENCHMARKS.md, the thirty-second
			 * round). */
			size_t body = sizeof *j - JOBQ__JOB_BODY;
			__asm__("" : "+r"(body));
			memset((char *)j + JOBQ__JOB_BODY, 0, body);
			j->id = id;
			return j;
		}
		/* The id is skipped: it names no job, now or later. */
		if (++busy == PROBES) {
			if (!grow(s, (unsigned)(id & EPOCH_MASK)))
				return NULL;
			busy = 0;
		}
	}
}

void jobq__slots_free(struct jobq__job *j)
{
	/* Poisoned first: once the flag is clear another submit may take the record. */
	ASAN_POISON_MEMORY_REGION((char *)j + JOBQ__JOB_BODY, sizeof *j - JOBQ__JOB_BODY);
	JOBQ_HB_BEFORE(&j->busy);
	atomic_store_explicit(&j->busy, 0, memory_order_release);
}

void jobq__slots_fini(struct jobq__slots *s)
{
	for (unsigned i = 0; i < JOBQ__NSEG; i++) {
		if (s->seg[i])
			ASAN_UNPOISON_MEMORY_REGION(s->seg[i], seg_bytes(i));
		jobq__free_large(s->seg[i], seg_bytes(i));
		s->seg[i] = NULL;
	}
}
