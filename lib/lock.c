/*
 * lock.c: the contended halves of jobq__lock_t (lock.h): spinning, sleeping on the futex and
 * waking a sleeper. Any thread.
 */
#include "lock.h"

#include "os.h"

/* Pauses spent looking before sleeping: about 2 µs at 22-26 ns a pause, several times what a
 * record is held for. */
#define SPINS 100

void jobq__lock_wait(jobq__lock_t *l)
{
	for (int i = 0; i < SPINS; i++) {
		jobq__cpu_relax();
		uint32_t free_word = 0;
		if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(&l->word, &free_word, 1,
							  memory_order_seq_cst, memory_order_relaxed))
			return;
	}
	/* Marked 2 before sleeping, so that the holder's unlock wakes us. A lock taken this way
	 * stays marked 2 though nobody may be left asleep: its unlock then makes one futex call
	 * too many, never one too few. */
	while (atomic_exchange(&l->word, 2) != 0) /* seq_cst, as every taking (lock.h) */
		jobq__os_futex_wait(&l->word, 2, 0);
}

void jobq__lock_wake(jobq__lock_t *l)
{
	jobq__os_futex_wake(&l->word, 1);
}
