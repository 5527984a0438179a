/*
 * walltime.h: CLOCK_REALTIME in nanoseconds, cheaply, for the timestamps every tracked job
 * takes (created, started, finished, events). See walltime.c. Internal to libjobq.
 */
#ifndef JOBQ_WALLTIME_H
#define JOBQ_WALLTIME_H

#include <stdbool.h>
#include <stdint.h>

/* The wall-clock time in nanoseconds since the epoch, to within about a hundred nanoseconds of
 * clock_gettime(CLOCK_REALTIME), following its steps within a millisecond. Any thread. Two
 * threads' readings are ordered only to within that error: a caller that needs a <= b clamps. */
int64_t jobq__walltime(void);

/* True while readings come from the TSC rather than from clock_gettime (tests report it). */
bool jobq__walltime_interpolating(void);

#endif
