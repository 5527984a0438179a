/*
 * tnum.h: thread numbers: a number below JOBQ__TNUMS that the calling thread holds alone while
 * it lives, so that it may keep counters of its own with plain stores (job.c's counts).
 * Internal to libjobq.
 */
#ifndef JOBQ_TNUM_H
#define JOBQ_TNUM_H

#define JOBQ__TNUMS 64

/* For the inline jobq__tnum only (tnum.c): 1 + the number; 0 before the first call; -1 none. */
extern _Thread_local int jobq__tnum_mine;
int jobq__tnum_take(void);

/*
 * The calling thread's number, taken at its first call, or -1 when every number is held by
 * another thread (the caller then counts with an atomic add on a shared counter). The number
 * goes back when the thread exits; its next holder's acquire of it comes after everything the
 * last holder did, so counters that the two write in turn see the last one's writes. Any
 * thread. Inline: a tracked job counts twice, in its submit and on its worker.
 */
static inline int jobq__tnum(void)
{
	int m = jobq__tnum_mine;
	if (m > 0)
		return m - 1;
	return m ? -1 : jobq__tnum_take();
}

#endif
