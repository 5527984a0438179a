/*
 * pool.h: the worker threads, the rings that feed them and the park/wake protocol. The pool runs
 * (function, argument) items and knows nothing of jobs. See pool.c. Internal to libjobq.
 */
#ifndef JOBQ_POOL_H
#define JOBQ_POOL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ring.h"

#define JOBQ__NPRIO 3
#define JOBQ__MAX_WORKERS 1024

struct jobq__worker;

struct jobq__pool {
	struct jobq__ring rings[JOBQ__NPRIO]; /* indexed by jobq_priority_t */

	/* Park/wake eventcount (pool.c explains the protocol). Every field from word to
	 * inline_busy is an atomic: pool.c leaves them out of helgrind's checks as one range. */
	alignas(JOBQ_CACHELINE) _Atomic uint32_t word;
	_Atomic int nsearching;
	_Atomic int nsleepers;
	_Atomic int waking;        /* a wake is in flight (pool.c) */
	_Atomic unsigned nworkers; /* nlive, for the spin cap (written under ctl) */

	/* Producers waiting for room in a full ring: registrations, all taken by the pop that
	 * wakes them (pool.c, pop). */
	alignas(JOBQ_CACHELINE) _Atomic uint32_t room_word;
	_Atomic int nroom_waiters;

	/* Submitters between jobq__pool_enter and jobq__pool_leave, plus the top bit once a
	 * drain sleeps on the word, which is a futex (pool.c, wait_gate). */
	alignas(JOBQ_CACHELINE) _Atomic uint32_t gate;

	alignas(JOBQ_CACHELINE) _Atomic int closed;
	_Atomic int paused;
	_Atomic int stop;
	_Atomic int draining; /* threads waiting in jobq__pool_drain */
	_Atomic int inline_busy;

	pthread_mutex_t drain_mu;
	pthread_cond_t drain_cv;
	/* Work held outside the rings (the timer's entries) that a drain also waits for. */
	const _Atomic uint64_t *held;
	/* Called by a worker, with no lock held, when it runs out of work (before it parks) and
	 * before it leaves: the owner's chance to put away what the worker kept back while busy
	 * (job.c's retention batch). Set, like held, before jobq__pool_init. */
	void (*idle)(struct jobq__pool *p);
	/* Items of warm_fn are passed a record of warm_len bytes that they write (job.c's tracked
	 * jobs): a worker prefetches the records of the items next in its batch for writing
	 * (pool.c, "Warming"). NULL for none; jobq__pool_init clears it where the CPU cannot
	 * prefetch for writing. Set, like held, before jobq__pool_init. */
	jobq__item_fn warm_fn;
	size_t warm_len;
	/* The kernel's membarrier(2) stands in for the frequent side's fence where a rare side
	 * pays for the order instead: a worker's look against a pause (pool.c) and a settle
	 * against a waiter (job.c). Set by jobq__pool_init before the workers start, read-only
	 * afterwards. */
	bool light_fences;

	pthread_mutex_t ctl; /* guards the fields below; closed, and paused = 1, are stored under it */
	struct jobq__worker *workers;
	unsigned nlive;       /* workers not told to leave */
	unsigned serial;      /* names jobq-N */
	uint64_t done_reaped; /* items run by workers already joined */
};

/* Starts n workers. Returns 0, JOBQ_ENOMEM or JOBQ_ETHREAD; on error nothing is left to free. */
int jobq__pool_init(struct jobq__pool *p, unsigned workers, size_t capacity);
/* Stops and joins every worker and frees the rings. Call only once the pool is drained. */
void jobq__pool_fini(struct jobq__pool *p);

/*
 * A submitter brackets its push with enter/leave, so that shutdown can tell when no push is in
 * flight. enter returns 0, or JOBQ_ECLOSED when the pool is closed: then the caller must not
 * push, but is inside the gate all the same and leaves as usual. leave is the caller's last
 * touch of the pool: once it has begun, a drain may return and the owner free the pool, so
 * whatever the caller undoes on an error it undoes before.
 */
int jobq__pool_enter(struct jobq__pool *p);
void jobq__pool_leave(struct jobq__pool *p);
/*
 * Pushes and wakes a worker if one is needed, with no enter/leave around it: 0, JOBQ_EAGAIN
 * when that ring is full, or JOBQ_ECLOSED once jobq__pool_close has begun. The ring itself
 * refuses it after the close, so a drain counts every post that got in and waits for it; a
 * post costs no locked instruction but the ring's claim. For items that need nothing else of
 * the gate (fire-and-forget tasks, and tracked jobs through the two halves below); a caller
 * that must push after the close uses jobq__pool_push, as held work (the timer).
 */
int jobq__pool_post(struct jobq__pool *p, unsigned prio, jobq__item_fn fn, void *arg);
/* Pushes and wakes a worker if one is needed; false when that ring is full. */
bool jobq__pool_push(struct jobq__pool *p, unsigned prio, jobq__item_fn fn, void *arg);
/*
 * jobq__pool_post in two halves, for a caller with work of its own between them (a tracked
 * job's registration, job.c). The claim takes a position in ring prio: 0, JOBQ_EAGAIN when the
 * ring is full, or JOBQ_ECLOSED once jobq__pool_close has begun. From then on a drain counts
 * the item and waits for it, so the caller, inside the gate or not, may touch the pool and its
 * owner until the publish, which must follow: it wakes a worker if one is needed, then makes
 * the item visible, and is the caller's last touch of the pool.
 */
int jobq__pool_claim(struct jobq__pool *p, unsigned prio, uint64_t *pos);
void jobq__pool_publish(struct jobq__pool *p, unsigned prio, uint64_t pos, jobq__item_fn fn,
			void *arg);
/* Waits until a quarter of ring prio is free, or until deadline_ns (monotonic; 0 = none); may
 * return early (the caller tries its push again). 0 or JOBQ_ETIMEDOUT. */
int jobq__pool_wait_room(struct jobq__pool *p, unsigned prio, int64_t deadline_ns);
/* Runs fn(arg) in the calling thread as if on a worker (jobq__pool_current() sees the pool). */
void jobq__pool_run_inline(struct jobq__pool *p, jobq__item_fn fn, void *arg);
/* The item the calling thread runs is over as far as jobq_stats is concerned (a tracked job's
 * callbacks have returned, before it settles): the thread no longer counts as running it. Call
 * only from the item itself; a thread that runs no item is left alone. */
void jobq__pool_ran(void);

/* Refuses later enters. */
void jobq__pool_close(struct jobq__pool *p);
/* Waits until nothing is held, pushed, queued or running, or deadline_ns. 0 or
 * JOBQ_ETIMEDOUT. */
int jobq__pool_drain(struct jobq__pool *p, int64_t deadline_ns);
/* Tells a waiting drain that *held may have dropped to zero. */
void jobq__pool_held_changed(struct jobq__pool *p);

/* Pauses (workers leave the rings alone once it returns) or resumes the pool. 0, or
 * JOBQ_ECLOSED for a pause of a closed pool. */
int jobq__pool_pause(struct jobq__pool *p, bool paused);
/* The rare side of a light fence (light_fences): once it returns, every thread of the process
 * has passed a full fence since the call began. Without light fences, a no-op (the frequent
 * side fences itself). Any thread. */
void jobq__pool_fence_all(struct jobq__pool *p);
int jobq__pool_set_workers(struct jobq__pool *p, unsigned n);

/* The pool whose item the calling thread is running, or NULL. */
struct jobq__pool *jobq__pool_current(void);
/* True when the calling thread is one of p's workers (not an inline run). */
bool jobq__pool_is_worker(const struct jobq__pool *p);

struct jobq__pool_stats {
	uint64_t queued, running, workers, pushed[JOBQ__NPRIO];
};
void jobq__pool_stats(struct jobq__pool *p, struct jobq__pool_stats *out);

#endif
