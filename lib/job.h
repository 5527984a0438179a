/*
 * job.h: tracked job records and the registry that names them by id. See job.c. Internal.
 */
#ifndef JOBQ_JOB_H
#define JOBQ_JOB_H

#include <pthread.h>
#include <stdint.h>

#include "jobq.h"
#include "ring.h"

#define JOBQ__NSHARDS 16

struct jobq__job;
struct jobq__pool;

struct jobq__shard {
	alignas(JOBQ_CACHELINE) pthread_mutex_t mu;
	struct jobq__job *table; /* uthash, by id */
	uint64_t submitted, pushed, succeeded, failed, cancelled;
};

struct jobq__registry {
	struct jobq__shard shards[JOBQ__NSHARDS];
	alignas(JOBQ_CACHELINE) _Atomic uint64_t next_id;
	_Atomic int cancel_all; /* a JOBQ_CANCEL shutdown began: queued jobs end cancelled */

	/* Settled records, oldest first, kept for polling until pruned. */
	pthread_mutex_t fin_mu;
	struct jobq__job *fin_head, *fin_tail;
	uint64_t nretained;
	uint64_t retain_count;
	int64_t retain_ns;

	/* jobq_wait and jobq_wait_many sleep here; settling broadcasts when nwaiters > 0. */
	pthread_mutex_t wait_mu;
	pthread_cond_t wait_cv;
	_Atomic int nwaiters;
};

void jobq__registry_init(struct jobq__registry *r, unsigned retain_count, unsigned retain_ms);
/* Frees every record (the pool must be stopped) and the registry's locks. */
void jobq__registry_fini(struct jobq__registry *r);

/* A new record, not yet registered. Returns 0 or JOBQ_ENOMEM. */
int jobq__job_new(jobq_t *q, jobq_fn fn, void *arg, const jobq_job_options_t *opts,
		  struct jobq__job **out);
/* Frees a record that was never published; calls none of its callbacks. */
void jobq__job_discard(struct jobq__job *j);
uint64_t jobq__job_id(const struct jobq__job *j);

/*
 * Registers j and pushes it on ring prio of the pool, both under its shard's lock so that nobody
 * can see a record whose push then fails. With inline_run the record is registered but not
 * pushed: the caller runs jobq__job_run itself. Returns 0, JOBQ_EAGAIN (ring full: nothing was
 * registered) or JOBQ_ENOMEM.
 */
int jobq__job_publish(struct jobq__registry *r, struct jobq__pool *pool, struct jobq__job *j,
		      unsigned prio, int inline_run);
/* The ring item of a tracked job: runs it (or drops it if it was cancelled while queued). */
void jobq__job_run(void *job);
/* Cancels every queued job and flags every running one (JOBQ_CANCEL shutdown). */
void jobq__jobs_cancel_all(struct jobq__registry *r);

struct jobq__reg_stats {
	uint64_t submitted, pushed, succeeded, failed, cancelled, retained;
};
void jobq__registry_stats(struct jobq__registry *r, struct jobq__reg_stats *out);

#endif
