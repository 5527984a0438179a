/*
 * sched.h: the timer: one thread and two min-heaps of due times (monotonic and wall-clock) for
 * delayed jobs, retry backoff and cron schedules. See sched.c. Internal to libjobq.
 */
#ifndef JOBQ_SCHED_H
#define JOBQ_SCHED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobq.h"
#include "walltime.h"

/* The clocks every part of an executor reads: the host's hook or the system's. */
struct jobq__clock {
	jobq_clock_fn fn; /* NULL: clock_gettime */
	void *data;
};

int64_t jobq__clock_now(const struct jobq__clock *c, bool realtime);
/* The wall-clock time for a record's timestamps: the host's hook, or jobq__walltime (to about
 * a hundred nanoseconds, at less than half clock_gettime's cost). With mono not NULL, also the
 * monotonic time to jobq__clock_coarse's precision or better, from the same reading where the
 * TSC is read (jobq__walltime_mono). Inline, as the reading is (walltime.h). */
static inline int64_t jobq__clock_stamp(const struct jobq__clock *c, int64_t *mono)
{
	if (!c->fn)
		return jobq__walltime_mono(mono);
	if (mono)
		*mono = c->fn(false, c->data);
	return c->fn(true, c->data);
}
/* The monotonic clock to a few milliseconds (CLOCK_MONOTONIC_COARSE, a memory read), for
 * retention's pruning and key windows. */
int64_t jobq__clock_coarse(const struct jobq__clock *c);

/* What a timer entry times; each kind has its own fire function. */
enum { JOBQ__TIMER_JOB, JOBQ__TIMER_CRON, JOBQ__TIMER_KINDS };

/* A timer entry, embedded in what it times. */
struct jobq__timer {
	int64_t due;       /* nanoseconds on the entry's clock */
	uint32_t idx;      /* position in its heap; TIMER_IDLE when in none */
	uint8_t realtime;  /* which heap: CLOCK_REALTIME or CLOCK_MONOTONIC */
	uint8_t kind;      /* JOBQ__TIMER_* */
};

#define JOBQ__TIMER_IDLE UINT32_MAX

/* Called without the timer's lock for each entry that fell due; returns false to have the
 * entry put back, due a millisecond later (the queue it feeds was full). */
typedef bool (*jobq__fire_fn)(struct jobq__timer *t, void *owner);

struct jobq__sched_hooks {
	jobq__fire_fn fire[JOBQ__TIMER_KINDS];
	void (*idle)(void *owner); /* pending dropped to zero (a drain may be waiting) */
	void (*step)(void *owner); /* the wall clock stepped by more than a second */
	void *owner;
};

struct jobq__sched {
	pthread_mutex_t mu;
	pthread_cond_t cv_mono, cv_real;
	struct jobq__timer **heap[2]; /* [0] monotonic, [1] wall clock */
	uint32_t n[2], cap[2];
	bool stop, started;
	pthread_t thread;
	struct jobq__clock clock;
	struct jobq__sched_hooks hooks;
	int64_t offset; /* wall clock minus monotonic clock when last looked at */
	/* Entries in the heaps or being fired: the drain waits for zero. */
	_Atomic uint64_t pending;
};

/* Starts the timer thread. Returns 0, JOBQ_ENOMEM or JOBQ_ETHREAD. */
int jobq__sched_init(struct jobq__sched *s, const struct jobq__clock *clock,
		     const struct jobq__sched_hooks *hooks);
/* Stops and joins the thread; entries still in the heaps are left to their owners. */
void jobq__sched_fini(struct jobq__sched *s);

/* Adds t (t->due and t->realtime set). Returns 0 or JOBQ_ENOMEM. */
int jobq__sched_add(struct jobq__sched *s, struct jobq__timer *t);
/* Removes t if it is still in a heap; true if it was (the caller then owns it). */
bool jobq__sched_remove(struct jobq__sched *s, struct jobq__timer *t);
/* Moves t to a new due time if it is still in a heap; false if it is not (being fired, or
 * never added). Never allocates. */
bool jobq__sched_update(struct jobq__sched *s, struct jobq__timer *t, int64_t due);
/* t->due read under the timer's lock: an entry whose fire() found no room is moved on by the
 * timer thread, which the owner's own lock does not exclude. */
int64_t jobq__sched_due(struct jobq__sched *s, const struct jobq__timer *t);
/* An entry handed to fire() has been dealt with: it no longer counts as pending. */
void jobq__sched_done(struct jobq__sched *s);
/* Fires, in the calling thread, every entry due by now. */
void jobq__sched_run_due(struct jobq__sched *s);
/* Wakes the thread to look at the clocks again. */
void jobq__sched_poke(struct jobq__sched *s);

#endif
