/*
 * walltime.c: CLOCK_REALTIME at about 10 ns a reading where clock_gettime takes 23 (the
 * machines in docs/BENCHMARKS.md); a tracked job reads it three times. Any thread. This file
 * makes the anchor and the readings that need clock_gettime; walltime.h reads the TSC, inline.
 *
 * Where the kernel itself keeps time with the time-stamp counter (see below), a reading is the
 * last anchor (a TSC value and the clock_gettime reading taken with it) plus the ticks since,
 * times a rate. An anchor older than ANCHOR_NS is replaced by the reader that finds it so (one
 * at a time, by a try-lock; the others read clock_gettime meanwhile), which is how a wall-clock
 * step or a change of NTP's slew is followed within a millisecond. The rate is measured over
 * the run of anchors that it has placed right: each new anchor must lie where the rate puts
 * it, to MAX_DRIFT_PPM of the time since the last one plus what the readings may be off by
 * (half the ticks around each clock_gettime, and the rate's own error over its run). Then the
 * run goes on and the rate is taken again over all of it; otherwise (a step fell between the
 * anchors, the slew changed, a read was interrupted) a new run starts at the last anchor and
 * readings go to clock_gettime until an anchor agrees with its rate. Measured over a run, the
 * rate is good to a fraction of a ppm; measured over one millisecond, as it was before, the
 * 20-100 ns by which a clock_gettime's TSC is uncertain made consecutive rates disagree by over
 * 100 ppm so often under load that a quarter of a tracked job's readings went to
 * clock_gettime (bench -x 0,1,1,2: 0.7-0.9 M of 3 M, a third of the anchors refused; now
 * 1 400-100 000, 1-6 % of the anchors). Elsewhere (another clocksource, or not x86-64) every
 * reading is clock_gettime.
 *
 * Which kernels keep time with the TSC: a clocksource of "tsc" (the kernel found the counter
 * invariant and the same on every CPU); and "kvm-clock" on a CPU whose counter is invariant
 * (CPUID 0x80000007, EDX bit 8). kvm-clock is the TSC scaled by the hypervisor's figures; a
 * guest reads it in the vDSO, from whichever vCPU it is on, only once the hypervisor has said
 * that the vCPUs' counters agree (PVCLOCK_TSC_STABLE_BIT), and otherwise pays a system call.
 * Such guests are often booted with tsc=unstable, which takes "tsc" off the clocksources (the
 * kernel's watchdog would otherwise judge the counter by a hypervisor's emulated timers) but
 * does not change the counter. Should a vCPU's counter lag another's all the same, its readings
 * would fall before the other's anchor and replace it, and anchors taken in turn on the two would
 * not lie where the rate puts them: readings then go to clock_gettime.
 *
 * The anchor is a sequence lock (jobq__wt): the writer makes seq odd, writes, makes it even; a
 * reader that sees it odd or changed reads clock_gettime instead of waiting.
 *
 * The anchor keeps CLOCK_MONOTONIC too, read just after its CLOCK_REALTIME, so that a reading can
 * give the monotonic time from the same ticks (jobq__walltime_mono): a record's age for retention
 * comes with its finish time, not from a clock read of its own.
 *
 * Not taken: the kernel's own scale (through a perf_event page: needs a perf event, which the
 * host may forbid), and CLOCK_REALTIME_COARSE (a tick, 4 ms, hides a job's run time).
 */
#include "walltime.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hb.h"
#include "os.h"

/* At the start of a line: every stamp reads it, and only a new anchor writes it. */
_Alignas(64) struct jobq__wt_anchor jobq__wt;

/* A reading of real by clock_gettime, where the TSC is not read: *mono (if not NULL) is the
 * coarse monotonic clock then, a memory read, as good as an age needs. */
static int64_t with_coarse_mono(int64_t real, int64_t *mono)
{
	if (mono)
		*mono = jobq__os_now(CLOCK_MONOTONIC_COARSE);
	return real;
}

#if defined(__x86_64__)
#include <cpuid.h>

#define ANCHOR_NS 1000000     /* an anchor is replaced after a millisecond */
#define MAX_DRIFT_PPM 100     /* an anchor lies where the rate puts it to this */
#define MAX_READ_NS 200       /* a clock_gettime bracketed by more ticks than this was cut */
#define MAX_GHZ 8             /* before the rate is known, ticks are taken as this fast */

/* What the writer of the anchor keeps beside it (jobq__wt). */
static struct {
	atomic_flag busy;      /* held by the thread replacing the anchor */
	/* Under busy: the anchor's uncertainty (half the ticks around its clock_gettime), the
	 * first anchor of the run that the rate is measured over, and that rate (like mult; 0
	 * when the run is one anchor long). */
	uint64_t tsc_err, base_tsc, base_err;
	int64_t base_real;
	uint64_t rate;
} wt = {.busy = ATOMIC_FLAG_INIT};

static pthread_once_t wt_once = PTHREAD_ONCE_INIT;

/* True when the CPU says its TSC is invariant: one rate in every power state. */
static bool invariant_tsc(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(0x80000000, &a, &b, &c, &d) && a >= 0x80000007 &&
	       __get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8));
}

/* Decides whether the TSC may be used: where the kernel keeps time with it (see the top). */
static void wt_probe(void)
{
	/* helgrind sees neither the sequence lock nor the busy flag as the locks they are. */
	JOBQ_HB_ATOMIC(&wt, sizeof wt);
	JOBQ_HB_ATOMIC(&jobq__wt, sizeof jobq__wt);
	FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "re");
	char name[32] = "";
	bool tsc = false;
	if (f) {
		if (fgets(name, sizeof name, f))
			tsc = strcmp(name, "tsc\n") == 0 ||
			      (strcmp(name, "kvm-clock\n") == 0 && invariant_tsc());
		fclose(f);
	}
	/* Relaxed: the inline reader reads the anchor under its sequence lock, not on the
	 * strength of this store. */
	atomic_store_explicit(&jobq__wt.usable, tsc ? JOBQ__WT_TSC : JOBQ__WT_SYSCALL,
			      memory_order_relaxed);
}

/* Whether readings may come from the TSC, once the probe has run. */
static bool wt_usable(void)
{
	pthread_once(&wt_once, wt_probe);
	return atomic_load_explicit(&jobq__wt.usable, memory_order_relaxed) == JOBQ__WT_TSC;
}

static uint64_t relaxed_u64(_Atomic uint64_t *p)
{
	return atomic_load_explicit(p, memory_order_relaxed);
}

/* The rate between two anchors, or 0 when the counter or the clock did not move forward. */
static uint64_t rate_of(uint64_t tsc0, int64_t real0, uint64_t tsc1, int64_t real1)
{
	if (tsc1 <= tsc0 || real1 <= real0)
		return 0;
	return (uint64_t)(((unsigned __int128)(real1 - real0) << 32) / (tsc1 - tsc0));
}

/*
 * True when a reading (tsc, real, err ticks either way) lies where the run's rate puts it: within
 * MAX_DRIFT_PPM of the time since the anchor, plus what the two readings and the rate itself
 * may be off by. Caller holds busy and wt.rate is not 0.
 */
static bool on_course(uint64_t tsc, int64_t real, uint64_t err)
{
	uint64_t at = relaxed_u64(&jobq__wt.tsc);
	int64_t at_real = atomic_load_explicit(&jobq__wt.real, memory_order_relaxed);
	if (tsc <= at || real <= at_real || at <= wt.base_tsc)
		return false;
	uint64_t d = tsc - at, r = wt.rate;
	int64_t predicted = at_real + (int64_t)jobq__wt_ns(d, r);
	uint64_t off = (uint64_t)(real > predicted ? real - predicted : predicted - real);
	/* The rate was measured over at - base_tsc, from readings off by base_err and tsc_err. */
	uint64_t rate_err = (uint64_t)((unsigned __int128)(wt.base_err + wt.tsc_err) * d /
				       (at - wt.base_tsc));
	uint64_t slack = (uint64_t)(real - at_real) * MAX_DRIFT_PPM / 1000000 +
			 jobq__wt_ns(err + wt.tsc_err + rate_err, r);
	return off <= slack;
}

/* True when an anchor taken at real may be replaced by one taken at now: it is a millisecond
 * old, or the clock stepped back past it. */
static bool due(int64_t real, int64_t now)
{
	return now - real >= ANCHOR_NS || now < real;
}

/* Reads clock_gettime and, when the reading is clean and the anchor due, makes it the anchor. */
static int64_t reanchor(void)
{
	uint64_t t0 = jobq__wt_ticks();
	int64_t real = jobq__os_now(CLOCK_REALTIME);
	uint64_t t1 = jobq__wt_ticks();
	uint64_t mult = relaxed_u64(&jobq__wt.mult);
	uint64_t max_read = mult ? ((uint64_t)MAX_READ_NS << 32) / mult : MAX_READ_NS * MAX_GHZ;
	if (t1 <= t0 || t1 - t0 > max_read)
		return real; /* cut by an interrupt: not an anchor */
	if (!due(atomic_load_explicit(&jobq__wt.real, memory_order_relaxed), real) &&
	    relaxed_u64(&jobq__wt.tsc))
		return real;
	if (atomic_flag_test_and_set_explicit(&wt.busy, memory_order_acquire))
		return real; /* another thread is at it */

	/* The anchor is this thread's to change now; read it again. */
	uint64_t at = relaxed_u64(&jobq__wt.tsc);
	int64_t at_real = atomic_load_explicit(&jobq__wt.real, memory_order_relaxed);
	uint64_t tsc = t0 + (t1 - t0) / 2, err = (t1 - t0 + 1) / 2;
	if (!at || due(at_real, real)) {
		if (wt.rate && on_course(tsc, real, err)) {
			/* The run goes on: its rate, over all of it, is the one to use. */
			wt.rate = rate_of(wt.base_tsc, wt.base_real, tsc, real);
			mult = wt.rate;
		} else {
			/* A new run from the last anchor: its rate is used once a reading agrees. */
			wt.base_tsc = at;
			wt.base_real = at_real;
			wt.base_err = wt.tsc_err;
			wt.rate = at ? rate_of(at, at_real, tsc, real) : 0;
			mult = 0;
		}
		wt.tsc_err = err;
		/* Before the write begins, so that readers are turned away no longer for it. */
		int64_t mono = jobq__os_now(CLOCK_MONOTONIC);
		uint32_t s = atomic_load_explicit(&jobq__wt.seq, memory_order_relaxed);
		atomic_store_explicit(&jobq__wt.seq, s + 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
		atomic_store_explicit(&jobq__wt.tsc, tsc, memory_order_relaxed);
		atomic_store_explicit(&jobq__wt.real, real, memory_order_relaxed);
		atomic_store_explicit(&jobq__wt.mono, mono, memory_order_relaxed);
		atomic_store_explicit(&jobq__wt.mult, mult, memory_order_relaxed);
		atomic_store_explicit(&jobq__wt.life, mult ? ((uint64_t)ANCHOR_NS << 32) / mult : 0,
				      memory_order_relaxed);
		atomic_store_explicit(&jobq__wt.seq, s + 2, memory_order_release);
	}
	atomic_flag_clear_explicit(&wt.busy, memory_order_release);
	return real;
}

int64_t jobq__walltime_slow(int64_t *mono)
{
	/* Where the TSC is read, the anchor is stale, being replaced or not made yet:
	 * clock_gettime, which may become the next anchor. */
	return with_coarse_mono(wt_usable() ? reanchor() : jobq__os_now(CLOCK_REALTIME), mono);
}

bool jobq__walltime_interpolating(void)
{
	return wt_usable() && relaxed_u64(&jobq__wt.mult) != 0;
}

#else /* no TSC to read: clock_gettime */

int64_t jobq__walltime_slow(int64_t *mono)
{
	return with_coarse_mono(jobq__os_now(CLOCK_REALTIME), mono);
}

bool jobq__walltime_interpolating(void)
{
	return false;
}

#endif
