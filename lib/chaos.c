/*
 * chaos.c: what a chaos point does (see chaos.h): mostly nothing, sometimes sched_yield(),
 * rarely a sleep of up to 50 microseconds. The random state is per thread, so points add no
 * synchronisation of their own. Built only with -DJOBQ_CHAOS.
 */
#ifdef JOBQ_CHAOS
#include "chaos.h"

#include <sched.h>
#include <stdint.h>
#include <time.h>

void jobq__chaos(void)
{
	static _Thread_local uint64_t state;
	if (!state)
		state = (uint64_t)(uintptr_t)&state | 1;
	/* xorshift64 */
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	unsigned roll = (unsigned)(state % 100);
	if (roll < 20) {
		sched_yield();
	} else if (roll < 22) {
		struct timespec ts = {0, (long)(state >> 40) % 50000};
		nanosleep(&ts, NULL);
	}
}
#endif
