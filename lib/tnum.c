/*
 * tnum.c: thread numbers (tnum.h). A thread takes the first free number at its first call and
 * gives it back at exit, through a pthread key's destructor; the numbers are process-wide, so
 * one number serves a thread in every executor.
 *
 * A thread that calls in after the destructor ran (from another key's destructor) has no
 * number any more, and gets -1 from then on. A thread that finds every number taken also gets
 * -1, and does not look again: the 65th thread at once to count is served by the atomic add.
 * After fork(2) the child's one thread keeps its number; those of the parent's other threads
 * stay held in the child and are not handed out again there.
 *
 * Not taken: numbers per executor, which an executor would have to hand back at the exit of a
 * thread that may outlive it.
 */
#include "tnum.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hb.h"

static _Atomic bool held[JOBQ__TNUMS];
static pthread_key_t key;
static bool key_made;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
_Thread_local int jobq__tnum_mine;

/* The key's destructor: the exiting thread gives its number back. */
static void give_back(void *v)
{
	int n = (int)(intptr_t)v - 1;
	jobq__tnum_mine = -1;
	JOBQ_HB_BEFORE(&held[n]);
	/* Release: the next holder sees this thread's counts before it adds to them. */
	atomic_store_explicit(&held[n], false, memory_order_release);
}

static void make_key(void)
{
	JOBQ_HB_ATOMIC(held, sizeof held);
	key_made = pthread_key_create(&key, give_back) == 0;
	JOBQ_HB_BEFORE(&key_once); /* helgrind does not see pthread_once's order */
}

/* jobq__tnum's first call in a thread. */
int jobq__tnum_take(void)
{
	pthread_once(&key_once, make_key);
	JOBQ_HB_AFTER(&key_once);
	for (int n = 0; key_made && n < JOBQ__TNUMS; n++) {
		bool free_number = false;
		if (atomic_load_explicit(&held[n], memory_order_relaxed) ||
		    !atomic_compare_exchange_strong_explicit(&held[n], &free_number, true,
							     memory_order_acquire,
							     memory_order_relaxed))
			continue;
		JOBQ_HB_AFTER(&held[n]);
		if (pthread_setspecific(key, (void *)(intptr_t)(n + 1)) != 0) {
			atomic_store_explicit(&held[n], false, memory_order_release);
			break;
		}
		jobq__tnum_mine = n + 1;
		return n;
	}
	jobq__tnum_mine = -1;
	return -1;
}
