/*
 * tnum.h: thread numbers: a number below JOBQ__TNUMS that the calling thread holds alone while
 * it lives, so that it may keep counters of its own with plain stores (job.c's counts).
 * Internal to libjobq.
 */
#ifndef JOBQ_TNUM_H
#define JOBQ_TNUM_H

#define JOBQ__TNUMS 64

/*
 * The calling thread's number, taken at its first call, or -1 when every number is held by
 * another thread (the caller then counts with an atomic add on a shared counter). The number
 * goes back when the thread exits; its next holder's acquire of it comes after everything the
 * last holder did, so counters that the two write in turn see the last one's writes. Any
 * thread.
 */
int jobq__tnum(void);

#endif
