/*
 * os.h: what libjobq asks of the operating system and the CPU beyond C11 and pthreads: a clock
 * reading in nanoseconds, a futex wait and wake, a thread started with every signal blocked,
 * the spin-wait hint, a wait's look at another thread's few stores, and the prefetch for writing.
 * See os.c. Internal to libjobq.
 */
#ifndef JOBQ_OS_H
#define JOBQ_OS_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* clock_gettime(id) in nanoseconds. */
int64_t jobq__os_now(clockid_t id);

/* Sleeps while *word == val (a private futex), until deadline_ns on CLOCK_MONOTONIC (0: no
 * deadline), or until woken; may return early for no reason, so the caller looks again. */
void jobq__os_futex_wait(_Atomic uint32_t *word, uint32_t val, int64_t deadline_ns);
/* Wakes up to n threads asleep on word. */
void jobq__os_futex_wake(_Atomic uint32_t *word, int n);

/* Starts fn(arg) on a new thread with every signal blocked, so the host's handlers run on the
 * host's own threads (as libuv's threadpool does). Returns 0 or JOBQ_ETHREAD. */
int jobq__os_thread(pthread_t *thread, void *(*fn)(void *), void *arg);

/* One spin-wait hint (x86 PAUSE, 22-26 ns on the machines of docs/BENCHMARKS.md; arm64
 * YIELD): lets the sibling hyperthread run and keeps the spin from flooding the memory system. */
static inline void jobq__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* One look of a wait for another thread that is a few stores from done (a job's start, a steal:
 * job.c, pool.c): a spin-wait hint, and at every 64th look a yield, in case that thread was
 * preempted in the middle. */
static inline void jobq__spin_wait(unsigned look)
{
	if (look % 64 == 63)
		sched_yield();
	else
		jobq__cpu_relax();
}

/* True when jobq__prefetch_write asks for a line in the state a write needs (x86-64: the CPU has
 * PREFETCHW, CPUID 0x80000001 ECX bit 8; elsewhere the compiler's write prefetch). */
bool jobq__os_prefetch_write_ok(void);

/* Asks for the line of p for writing, ahead of the stores: a hint that never faults. Call only
 * where jobq__os_prefetch_write_ok() (an x86-64 CPU without PREFETCHW need not take it for a
 * no-op). */
static inline void jobq__prefetch_write(const void *p)
{
#if defined(__x86_64__)
	/* GCC makes __builtin_prefetch(p, 1) a read prefetch without -mprfchw. */
	__asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

#endif
