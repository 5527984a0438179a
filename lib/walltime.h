/*
 * walltime.h: CLOCK_REALTIME in nanoseconds, cheaply, for the timestamps every tracked job
 * takes (created, started, finished, events). See walltime.c. Internal to libjobq.
 *
 * A reading from the time-stamp counter is made here, inline, from the anchor that walltime.c
 * publishes; walltime.c makes the anchor and the readings that need clock_gettime. Inline,
 * because a tracked job takes three readings, which went through two calls and a pthread_once
 * each. Together with retention taking a record's age from its finish stamp (job.c, end), a
 * tracked job went from 0.126 to 0.121 CPU µs, 12.62 to 13.08 M jobs/s, in 30 interleaved
 * rounds of bench -x 0,1,1,2,400000 (medians; other sets in docs/BENCHMARKS.md, the
 * twenty-sixth round).
 */
#ifndef JOBQ_WALLTIME_H
#define JOBQ_WALLTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether readings may come from the TSC (jobq__wt.usable): not known until walltime.c has
 * looked at the kernel's clocksource, once. */
enum { JOBQ__WT_UNKNOWN, JOBQ__WT_TSC, JOBQ__WT_SYSCALL };

/* The anchor: a sequence lock (seq odd while walltime.c writes it) over a TSC value, the clocks
 * then and the rate. Its fields are atomics, so the race a sequence lock is made of is not a
 * data race. */
struct jobq__wt_anchor {
	_Atomic uint32_t seq;
	_Atomic int usable;    /* JOBQ__WT_* */
	_Atomic uint64_t tsc;  /* a TSC value ... */
	_Atomic int64_t real;  /* ... and CLOCK_REALTIME then, */
	_Atomic int64_t mono;  /* ... and CLOCK_MONOTONIC just after (for ages only) */
	_Atomic uint64_t mult; /* nanoseconds per tick << 32; 0 until an anchor agrees */
	_Atomic uint64_t life; /* ticks the anchor serves (0 while mult is 0) */
};
extern struct jobq__wt_anchor jobq__wt;

/* A reading that the inline path below cannot make (walltime.c). */
int64_t jobq__walltime_slow(int64_t *mono);

#if defined(__x86_64__)
/* The time-stamp counter. */
static inline uint64_t jobq__wt_ticks(void)
{
	return __builtin_ia32_rdtsc();
}

/* ticks * rate (nanoseconds per tick << 32): nanoseconds. */
static inline uint64_t jobq__wt_ns(uint64_t ticks, uint64_t rate)
{
	return (uint64_t)(((unsigned __int128)ticks * rate) >> 32);
}
#endif

/*
 * The wall-clock time in nanoseconds since the epoch, to within about a hundred nanoseconds of
 * clock_gettime(CLOCK_REALTIME), following its steps within a millisecond; and in *mono (if not
 * NULL) CLOCK_MONOTONIC at about that moment: from the same ticks where the TSC is read, else
 * the coarse clock (a few milliseconds), so for ages, not durations. Any thread. Two threads'
 * readings are ordered only to within the error: a caller that needs a <= b clamps.
 */
static inline int64_t jobq__walltime_mono(int64_t *mono)
{
#if defined(__x86_64__)
	if (atomic_load_explicit(&jobq__wt.usable, memory_order_relaxed) == JOBQ__WT_TSC) {
		uint32_t s = atomic_load_explicit(&jobq__wt.seq, memory_order_acquire);
		uint64_t now = jobq__wt_ticks();
		uint64_t at = atomic_load_explicit(&jobq__wt.tsc, memory_order_relaxed);
		uint64_t mult = atomic_load_explicit(&jobq__wt.mult, memory_order_relaxed);
		uint64_t life = atomic_load_explicit(&jobq__wt.life, memory_order_relaxed);
		int64_t real = atomic_load_explicit(&jobq__wt.real, memory_order_relaxed);
		int64_t at_mono = atomic_load_explicit(&jobq__wt.mono, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		uint64_t d = now - at; /* huge if the counter read before the anchor: then stale */
		if (!(s & 1) && atomic_load_explicit(&jobq__wt.seq, memory_order_relaxed) == s &&
		    d < life) {
			int64_t since = (int64_t)jobq__wt_ns(d, mult);
			if (mono)
				*mono = at_mono + since;
			return real + since;
		}
	}
#endif
	return jobq__walltime_slow(mono);
}

static inline int64_t jobq__walltime(void)
{
	return jobq__walltime_mono(NULL);
}

/* True while readings come from the TSC rather than from clock_gettime (tests report it). */
bool jobq__walltime_interpolating(void);

#endif
