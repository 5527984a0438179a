/*
 * job.h: tracked job records, the registry that names them by id, and the dead-letter list.
 * job.c owns a record's life, query.c what the host and the job see of it, dead.c the
 * dead-letter list. Internal to libjobq.
 */
#ifndef JOBQ_JOB_H
#define JOBQ_JOB_H

#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobq.h"
#include "ring.h"
#include "sched.h"
#include "slots.h"
#include "tnum.h"
#include "lock.h"

struct jobq__key;
struct jobq__pool;
struct jobq__job;

/* A retained record, with what pruning needs to know of it. */
struct jobq__kept {
	struct jobq__job *job;
	int64_t at; /* settled: monotonic, to jobq__clock_coarse's precision */
};

/* Record flags (j->flags: set by the submit, then written by the thread that runs the job). */
enum {
	JOB_RETRY_TIMEOUTS = 1, /* a failure past the timeout is retryable */
	JOB_RETRY_AFTER = 2,    /* retry_after_ms overrides the backoff for this attempt */
};

/* A record's state that jobq_state_t lacks: a worker has won the job from QUEUED and is writing
 * its attempt and start time (job.c, jobq__job_run). A status shows the job as it was before
 * or after, never in it. */
enum { JOB_STARTING = 0x100 };

struct jobq__job {
	/* The header, which outlives the job: a lookup may lock a free record (slots.h).
	 * mu guards listed (job.c says when it is set without it) and the fields that change
	 * once the record is registered (job.c says which). A word (lock.h), not a
	 * pthread_mutex_t, which would take 40 of the record's 208 bytes.
	 * The header is also all that forgetting a plain record touches (forget in job.c):
	 * its lock, refs, listed, busy and owns, its first 11 bytes, so one line of a record
	 * that retention last saw thousands of jobs ago (asserted below). With refs and the owned
	 * pointers in the body, forgetting read two or three such lines a job, and a worker
	 * spent a quarter of its time in it (docs/BENCHMARKS.md, the thirty-second round). */
	alignas(16) jobq__lock_t mu; /* for the assert after the struct */
	_Atomic int refs; /* references (the top of job.c): set by the submit */
	_Atomic bool listed; /* registered: lookups find the job (read under mu; job.c) */
	_Atomic unsigned char busy; /* the slot is taken (slots.c) */
	/* name, error, progress or result may hold memory (strip in job.c): written with
	 * them, by the submit or under mu, and read by whoever frees the record. */
	bool owns;
	uint64_t id; /* the counter and the epoch (slots.h) */

	/* The body, cleared when the record is reused (JOBQ__JOB_BODY on). */
	jobq_t *q;
	jobq_fn fn;
	void *arg;
	jobq_done_fn on_done;
	void *on_done_data;
	jobq_free_fn arg_free;
	char *name, *error, *progress;
	void *result;
	struct jobq__job *link; /* on the dead-letter list */
	struct jobq__key *key;  /* idempotency key held, or NULL */
	int64_t created_ns;
	_Atomic int64_t started_ns; /* written by the starting worker without mu (job.c) */
	_Atomic int64_t finished_ns; /* written by the ender without mu (job.c, end) */
	/* timer.due is the run time while SCHEDULED and the soft deadline (monotonic, 0 = none)
	 * while RUNNING. */
	struct jobq__timer timer;
	_Atomic int state;
	_Atomic int cancel; /* cancellation was asked for */
	_Atomic int code;   /* written by the ender without mu (job.c, end) */
	uint32_t timeout_ms;
	uint32_t retry_after_ms;
	uint32_t result_len;
	uint32_t backoff_base_ms, backoff_cap_ms;
	float backoff_factor;
	_Atomic uint16_t attempt; /* as started_ns */
	uint16_t max_attempts;
	int8_t percent;
	uint8_t prio;
	uint8_t flags;
	_Atomic bool settled; /* ended, callbacks returned: jobq_wait may return */
};

/* forget's fields share one line: segments start on a line (jobq__calloc_large) and records are
 * aligned to 16 bytes, so a record starts at most 48 bytes into a line. */
_Static_assert(offsetof(struct jobq__job, owns) < 16,
	       "the fields that forget reads span more than one line");

#define JOBQ__JOB_BODY offsetof(struct jobq__job, q)

/* What a job function's jobq_ctx_t points to: the record, for the jobq_ctx_* calls. */
struct jobq_ctx {
	struct jobq__job *job;
};

/*
 * How many jobs were submitted and pushed to a ring and how they ended (the kinds below),
 * counted by the threads that do it, each on a line of its own that it alone writes, with
 * plain stores: the line of its thread number (tnum.h), or a shared line with an atomic add
 * for a thread without one (job.c, count). One count of each would be a line that the
 * submitter and the workers passed between them, and an atomic add on a line of one's own still
 * waits for every store before it. A submit counts once: queued (pushed to a ring) or held
 * (on the timer, or run by the caller); timed counts the timer's pushes.
 */
enum {
	COUNT_QUEUED,
	COUNT_HELD,
	COUNT_TIMED,
	COUNT_SUCCEEDED,
	COUNT_FAILED,
	COUNT_RETRIED,
	COUNT_CANCELLED,
	COUNT_DEAD,
	JOBQ__NCOUNTS
};
struct jobq__counts {
	alignas(JOBQ_CACHELINE) _Atomic uint64_t n[JOBQ__NCOUNTS];
};

struct jobq__registry {
	/* One line per thread number, then the shared one. */
	struct jobq__counts counts[JOBQ__TNUMS + 1];
	/* The records and their ids (slots.h). */
	alignas(JOBQ_CACHELINE) struct jobq__slots slots;

	/* Read on every run, so kept off the lines written per job. */
	alignas(JOBQ_CACHELINE) _Atomic int cancel_all; /* a JOBQ_CANCEL shutdown began */
	const struct jobq__clock *clock;
	uint64_t retain_count;
	uint64_t retain_slack; /* prune in batches: once this many past retain_count */
	int64_t retain_ns;

	/* Settled records kept for polling until pruned: a ring, oldest at fin_head. An array
	 * rather than a list through the records, so that pruning reads ids and ages without
	 * touching a cold record, and touches the records it frees independently of each other. */
	alignas(JOBQ_CACHELINE) jobq__lock_t fin_mu;
	struct jobq__kept *fin;
	uint64_t fin_cap, fin_head, nretained;

	/* jobq_wait and jobq_wait_many sleep here; settling broadcasts when nwaiters > 0. */
	alignas(JOBQ_CACHELINE) pthread_mutex_t wait_mu;
	pthread_cond_t wait_cv;
	_Atomic int nwaiters;

	/* The dead-letter list (dead.c), oldest first. */
	pthread_mutex_t dead_mu;
	struct jobq__job *dead_head, *dead_tail;
	uint64_t ndead, dead_max, dead_dropped;
};

/* 0, or JOBQ_ENOMEM (nothing to undo). */
int jobq__registry_init(struct jobq__registry *r, const struct jobq__clock *clock,
			unsigned retain_count, unsigned retain_ms, unsigned dead_max);
/* Frees every record (the pool and timer must be stopped) and the registry's locks. */
void jobq__registry_fini(struct jobq__registry *r);

/* The job named id, with its record locked, or NULL if id names none now. Any thread. */
struct jobq__job *jobq__job_find(struct jobq__registry *r, uint64_t id);

/* A new record, not yet registered: SCHEDULED if it has a delay, else QUEUED. 0 or ENOMEM. */
int jobq__job_new(jobq_t *q, jobq_fn fn, void *arg, const jobq_job_options_t *opts,
		  struct jobq__job **out);
/* The options a record was made with, to make it again (jobq_dead_requeue). */
void jobq__job_options_of(const struct jobq__job *j, jobq_job_options_t *opts);
/* Frees a record that was never published; calls none of its callbacks. */
void jobq__job_discard(struct jobq__job *j);

/*
 * Registers j and puts it where it waits: the timer for a SCHEDULED job, ring prio for a
 * QUEUED one (its position claimed before it is registered, so nobody sees a record whose
 * push then fails), or nowhere with inline_run (the caller runs jobq__job_run itself).
 * Returns 0, JOBQ_EAGAIN (ring full), JOBQ_ECLOSED (the pool is closed) or JOBQ_ENOMEM;
 * nothing is registered on an error. A QUEUED job's publish is the call's last touch of q,
 * so the caller needs no gate for it (pool.h, jobq__pool_claim).
 */
int jobq__job_publish(jobq_t *q, struct jobq__job *j, int inline_run);
/* The ring item of a tracked job: runs one attempt (or drops it if it was cancelled). */
void jobq__job_run(void *job);
/* The timer's fire function for jobs (see jobq__fire_fn). */
bool jobq__job_due(struct jobq__timer *t, void *owner);
/* Cancels job j if it is waiting; flags it if it runs. 0 or JOBQ_EBUSY (already ended).
 * Caller holds j->mu (jobq__job_find), which this releases. */
int jobq__job_cancel_locked(struct jobq__job *j);
/* Cancels every waiting job and flags every running one (JOBQ_CANCEL shutdown). */
void jobq__jobs_cancel_all(jobq_t *q);

/* Puts a settled record on the retention list (NULL: just prunes). */
void jobq__retain(struct jobq__registry *r, struct jobq__job *j);
/* Puts the calling worker's batch of settled records on the retention list (job.c). */
void jobq__retain_flush(struct jobq__registry *r);
/* Drops a reference; the last one frees the record. */
void jobq__job_unref(struct jobq__job *j);

/* Fills *st from j. Caller holds j->mu, or is the thread that ends j (job.c, end). */
void jobq__snapshot(const struct jobq__job *j, jobq_status_t *st);
/* Tells subscribers that j is in state (kind JOBQ_EV_STATE) or reported progress
 * (JOBQ_EV_PROGRESS). Caller holds j->mu, which keeps one job's events in order; the
 * state is passed in because a worker may already have moved the job on by CAS. */
void jobq__job_emit(const struct jobq__job *j, unsigned kind, jobq_state_t state);

/* dead.c: lists a dead job (ended, about to settle: job.c); drops the oldest past the bound. */
void jobq__dead_add(struct jobq__registry *r, struct jobq__job *j);
/* dead.c: runs the destructors of every listed job and empties the list (destroy). */
void jobq__dead_clear(struct jobq__registry *r);

struct jobq__reg_stats {
	uint64_t submitted, pushed, succeeded, failed, retried, cancelled, dead, retained;
	uint64_t dead_listed, dead_dropped;
};
void jobq__registry_stats(struct jobq__registry *r, struct jobq__reg_stats *out);

#endif
