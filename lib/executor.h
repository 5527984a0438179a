/*
 * executor.h: the executor struct, shared by the files that implement the public API: jobq.c
 * (the executor and submission), job.c (a job's life), query.c (what host and job see), dead.c
 * (the dead-letter list), cron_sched.c (cron schedules). Internal to libjobq.
 */
#ifndef JOBQ_EXECUTOR_H
#define JOBQ_EXECUTOR_H

#include "cron_sched.h"
#include "events.h"
#include "job.h"
#include "keys.h"
#include "pool.h"
#include "sched.h"

struct jobq {
	struct jobq__pool pool;
	struct jobq__registry reg;
	struct jobq__sched sched;
	struct jobq__keys keys;
	struct jobq__crons crons;
	struct jobq__clock clock;
	struct jobq__events events;
	jobq_full_policy_t full;
	unsigned block_timeout_ms;
	unsigned max_attempts;
	jobq_backoff_t backoff;
	jobq_done_fn on_dead;
	void *on_dead_data;
	unsigned fork_generation;      /* jobq__fork_generation when created */
	_Atomic uint64_t jitter_seq;   /* feeds jobq__random */
	_Atomic uint64_t inline_tasks; /* posted tasks run in the caller (JOBQ_FULL_RUN) */
};

/* Counts fork()s seen by this process's children (jobq.c); the one piece of process-wide state
 * besides the zone cache, and it only ever tells an executor that it was left behind. */
extern _Atomic unsigned jobq__fork_generation;

/* JOBQ_EINVAL for NULL, JOBQ_EFORKED in a child of the process that created q, else 0. */
static inline int jobq__check(const jobq_t *q)
{
	if (!q)
		return JOBQ_EINVAL;
	return q->fork_generation != atomic_load_explicit(&jobq__fork_generation,
							  memory_order_relaxed)
		       ? JOBQ_EFORKED
		       : 0;
}

static inline int64_t jobq__now(jobq_t *q, bool realtime)
{
	return jobq__clock_now(&q->clock, realtime);
}

/* A record's timestamp: the wall-clock time, but not before prev (two threads' readings of
 * jobq__walltime are ordered only to within its error); mono as for jobq__clock_stamp. */
static inline int64_t jobq__stamp(jobq_t *q, int64_t prev, int64_t *mono)
{
	int64_t t = jobq__clock_stamp(&q->clock, mono);
	return t > prev ? t : prev;
}

/* A random 64-bit number for jitter: splitmix64 over a per-executor sequence, so it is
 * thread-safe and needs no global state. Not for anything that must be unpredictable. */
static inline uint64_t jobq__random(jobq_t *q)
{
	/* Relaxed: the sequence only has to hand each caller a different step. */
	uint64_t x = atomic_fetch_add_explicit(&q->jitter_seq, 0x9e3779b97f4a7c15ULL,
					      memory_order_relaxed);
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* True when jobq_submit would accept opts (jobq.c). */
bool jobq__job_options_valid(const jobq_job_options_t *opts);

#endif
