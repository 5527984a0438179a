/*
 * lock.h: jobq__lock_t, a mutex in one 32-bit word, for the job records (job.h), which every
 * lookup locks (a job's start, end and forgetting do without: job.c), and for the registry's
 * locks that every tracked job takes (retention's). Internal to libjobq.
 *
 * The word is 0 (free), 1 (held) or 2 (held, and someone may sleep on it): the futex mutex of
 * Drepper's "Futexes Are Tricky". Taking a free lock is one compare-and-swap and giving it back
 * one exchange, inline, with no owner or count written beside them as glibc's mutex does; a
 * taker that finds it held spins a little (a record is held for a few hundred nanoseconds) and
 * then sleeps on the futex. Not recursive, not robust, no owner checks: the holders are all in
 * job.c, query.c and dead.c, each of which takes a lock and gives it back in one function.
 * glibc's adaptive mutex, which the registry's locks were before, costs a call and an owner's
 * store more a lock: with one submitter and two workers, 3.38 against 2.81-3.19 M tracked
 * jobs/s (medians of 30 interleaved runs each, docs/BENCHMARKS.md, *The twelfth round*).
 * The word is 4 bytes where pthread_mutex_t is 40, so the fields a worker writes fit one line
 * with it (job.h).
 *
 * Every taking of the lock is a seq_cst read-modify-write (on x86 the same locked instruction as
 * an acquire one): a pruner that has unlisted records and fenced may then find a record's lock
 * free and know that no lookup reads it (jobq__lock_quiesce; job.c, forget).
 *
 * ThreadSanitizer sees the lock's ordering in its acquire and release operations; helgrind,
 * which sees only pthread's, is told by the JOBQ_HB annotations (hb.h).
 */
#ifndef JOBQ_LOCK_H
#define JOBQ_LOCK_H

#include <stdatomic.h>
#include <stdint.h>

#include "hb.h"

typedef struct {
	_Atomic uint32_t word;
} jobq__lock_t;

/* Makes *l a free lock: for memory that is new or reused (zeroed memory is a free lock too, but
 * helgrind must also be told that the word is only ever accessed atomically). */
static inline void jobq__lock_init(jobq__lock_t *l)
{
	atomic_init(&l->word, 0);
	JOBQ_HB_ATOMIC(l, sizeof *l);
}

/* The contended halves (lock.c). */
void jobq__lock_wait(jobq__lock_t *l);
void jobq__lock_wake(jobq__lock_t *l);

static inline void jobq__lock(jobq__lock_t *l)
{
	uint32_t free_word = 0;
	if (!atomic_compare_exchange_strong_explicit(&l->word, &free_word, 1, memory_order_seq_cst,
						     memory_order_relaxed))
		jobq__lock_wait(l);
	JOBQ_HB_AFTER(l);
}

static inline void jobq__unlock(jobq__lock_t *l)
{
	JOBQ_HB_BEFORE(l);
	if (atomic_exchange_explicit(&l->word, 0, memory_order_release) == 2)
		jobq__lock_wake(l);
}

/*
 * Returns once *l is free, having been free at some moment after the call began: whoever held
 * it has let it go, and what they did under it happened before the return. Taking the lock
 * only when it is held spares a free one the two locked instructions.
 */
static inline void jobq__lock_quiesce(jobq__lock_t *l)
{
	if (atomic_load_explicit(&l->word, memory_order_acquire) == 0) {
		JOBQ_HB_AFTER(l);
		return;
	}
	jobq__lock(l);
	jobq__unlock(l);
}

#endif
