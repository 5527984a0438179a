/*
 * jobq.h: the whole public API of libjobq, an embeddable library for in-process background jobs.
 *
 * A program creates an executor (jobq_create), hands it work (jobq_submit for a tracked job with
 * an id, jobq_post for a fire-and-forget task), learns each outcome by polling (jobq_status,
 * jobq_wait) or by a completion callback, and ends with jobq_shutdown and jobq_destroy.
 * Cron schedules (jobq_cron_add) submit a job at each fire time of a cron expression; the
 * expressions and IANA time zones themselves are evaluated by jobq_cron_* and jobq_zone_*.
 *
 * Conventions
 *   - Every call that can fail returns int: 0 or a negative JOBQ_E* code (jobq_strerror()).
 *   - Jobs are named by uint64_t ids; 0 is never an id, ids grow (not one by one) and are
 *     never reused.
 *   - A NULL options pointer means the defaults. Options structs are initialised by their
 *     *_init function, so fields added later get their defaults.
 *   - void *data is the last argument of every callback type, and is passed back untouched.
 *   - When a call returns an error, none of the callbacks or destructors it was given is called
 *     and the caller keeps ownership of everything it passed.
 *
 * Threads (see also jobq(3))
 *   call                               any thread   inside a job of the same executor
 *   jobq_submit, jobq_post, jobq_cancel  yes          yes (never deadlocks: see JOBQ_FULL_BLOCK)
 *   jobq_status, jobq_result, stats      yes          yes
 *   jobq_wait, jobq_wait_many            yes          yes, but a wait for a job that cannot run
 *                                                     until this one returns ends only by timeout
 *   jobq_pause, jobq_resume, set_workers yes          yes
 *   jobq_shutdown, jobq_destroy          yes          no: JOBQ_EDEADLK (nor from an event
 *                                                     callback of the same executor)
 *   jobq_dead_*, jobq_clock_advanced     yes          yes
 *   jobq_subscribe, jobq_unsubscribe     yes          yes (also from the subscription's callback)
 *   jobq_sub_read                        one thread at a time per subscription
 *   jobq_ctx_*                           only the job's own thread, while its function runs
 *   jobq_cron_add/remove/pause/resume/   yes          yes
 *     info/list
 *   jobq_cron_* (expressions), jobq_zone_* yes (parsed expressions and zones are immutable)
 *
 * fork(): an executor's threads do not exist in a child process, so there every call on an
 * executor created before the fork returns JOBQ_EFORKED (jobq_destroy too: the child cannot
 * free it, and leaves it). Subscriptions inherited from the parent must not be used in the
 * child. A child creates its own executors. Parsed cron expressions and zones stay usable.
 */
#ifndef JOBQ_H
#define JOBQ_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define JOBQ_API __attribute__((visibility("default")))
#define JOBQ_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define JOBQ_API
#define JOBQ_PRINTF(f, a)
#endif

#define JOBQ_VERSION_MAJOR 0
#define JOBQ_VERSION_MINOR 1
#define JOBQ_VERSION_PATCH 0
#define JOBQ_VERSION_STRING "0.1.0"
#define JOBQ_VERSION_NUMBER \
	(JOBQ_VERSION_MAJOR * 10000 + JOBQ_VERSION_MINOR * 100 + JOBQ_VERSION_PATCH)

/* The library's version as JOBQ_VERSION_NUMBER and as a static string. */
JOBQ_API unsigned jobq_version(void);
JOBQ_API const char *jobq_version_string(void);

/* ---- Errors --------------------------------------------------------------------------------- */

/*
 * One table for every code: X(name, value, message). POSIX-like codes are -errno; codes that are
 * jobq's own sit far below them.
 */
#define JOBQ_ERRNO_MAP(X)                                                                    \
	X(EINVAL, -EINVAL, "invalid argument")                                               \
	X(ENOMEM, -ENOMEM, "out of memory")                                                  \
	X(EAGAIN, -EAGAIN, "queue is full")                                                  \
	X(ENOENT, -ENOENT, "no such job, or its record was already forgotten")               \
	X(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                \
	X(EBUSY, -EBUSY, "busy: the job is not in a state that allows this")                 \
	X(EEXIST, -EEXIST, "a live job already has this idempotency key")                    \
	X(EDEADLK, -EDEADLK, "refused: would deadlock when called from inside a job")        \
	X(ECANCELED, -ECANCELED, "cancelled")                                                \
	X(ENOSPC, -ENOSPC, "buffer too small")                                               \
	X(ECLOSED, -4001, "executor is shut down")                                           \
	X(ECRON, -4002, "invalid cron expression")                                           \
	X(EZONE, -4003, "unknown or invalid time zone")                                      \
	X(ENEVER, -4004, "the schedule has no such fire time")                               \
	X(ETHREAD, -4005, "could not start a worker thread")                                 \
	X(EFORKED, -4006, "executor belongs to the parent process (fork)")

enum jobq_errno {
#define JOBQ_ERR_ENUM_(name, value, msg) JOBQ_##name = (value),
	JOBQ_ERRNO_MAP(JOBQ_ERR_ENUM_)
#undef JOBQ_ERR_ENUM_
};

/* A static English message for any code; an unknown code gets "unknown error". Thread-safe. */
JOBQ_API const char *jobq_strerror(int code);
/* The code's name ("JOBQ_EINVAL"), or "JOBQ_UNKNOWN". Static string; thread-safe. */
JOBQ_API const char *jobq_err_name(int code);

/* ---- Executor ------------------------------------------------------------------------------- */

typedef struct jobq jobq_t;

/* What jobq_submit and jobq_post do when the ring is full. */
typedef enum jobq_full_policy {
	JOBQ_FULL_DEFAULT = 0, /* job options: the executor's policy; executor: JOBQ_FULL_FAIL */
	JOBQ_FULL_FAIL,        /* return JOBQ_EAGAIN at once */
	JOBQ_FULL_BLOCK,       /* wait up to the timeout for room, then JOBQ_EAGAIN; from inside
	                          a job of the same executor this runs the job in the caller, so a
	                          worker never waits on its own pool */
	JOBQ_FULL_RUN          /* run the job in the calling thread */
} jobq_full_policy_t;

/*
 * Exponential backoff with full jitter: the retry after failed attempt n waits a random time in
 * [0, min(cap_ms, base_ms * factor^(n-1))] (AWS's "full jitter"). Zero fields mean the defaults
 * (in job options: the executor's).
 */
typedef struct jobq_backoff {
	unsigned base_ms; /* default 1000 */
	unsigned cap_ms;  /* default 300000 (5 minutes) */
	double factor;    /* default 2.0; at least 1 */
} jobq_backoff_t;

/*
 * A clock for the timer: nanoseconds on CLOCK_MONOTONIC (realtime == 0) or CLOCK_REALTIME
 * (realtime != 0). Called from any of the executor's threads and from callers; must be
 * thread-safe. With a custom clock the timer never sleeps on real time: it acts when
 * jobq_clock_advanced() says the clock moved (tests drive delays and retries this way).
 */
typedef int64_t (*jobq_clock_fn)(int realtime, void *data);

typedef struct jobq_status jobq_status_t;
typedef void (*jobq_done_fn)(const jobq_status_t *status, void *data);

typedef struct jobq_options {
	unsigned workers;          /* worker threads; 0 = online CPUs */
	unsigned capacity;         /* ring slots per priority, rounded up to a power of two;
	                              0 = 65536 */
	jobq_full_policy_t full;   /* default JOBQ_FULL_FAIL */
	unsigned block_timeout_ms; /* for JOBQ_FULL_BLOCK; 0 = wait without limit */
	unsigned retain_count;     /* finished records kept at most (in batches); 0 = 10000 */
	unsigned retain_ms;        /* finished records kept at most this long; 0 = 60000 */
	unsigned max_attempts;     /* default for jobs; 0 = 3 */
	jobq_backoff_t backoff;    /* default for jobs */
	unsigned dead_max;         /* dead-letter list bound; 0 = 1000; the oldest are dropped */
	jobq_done_fn on_dead;      /* called once when a job dies (after its own callback) */
	void *on_dead_data;
	unsigned key_window_ms;    /* an idempotency key stays taken this long after its job
	                              ends; 0 = 60000 */
	jobq_clock_fn clock;       /* NULL = the system clocks */
	void *clock_data;
} jobq_options_t;

/* Fills *opts with the defaults. */
JOBQ_API void jobq_options_init(jobq_options_t *opts);

/*
 * Creates an executor and starts its workers. opts may be NULL (defaults). On success *out owns
 * the executor until jobq_destroy. Returns 0, JOBQ_EINVAL (NULL out, capacity over 2^30,
 * workers over 1024, bad policy), JOBQ_ENOMEM, or JOBQ_ETHREAD (pthread_create failed).
 */
JOBQ_API int jobq_create(jobq_t **out, const jobq_options_t *opts);

typedef enum jobq_shutdown_mode {
	JOBQ_DRAIN,  /* run everything already accepted, refuse new work */
	JOBQ_CANCEL  /* queued jobs end JOBQ_CANCELLED, running jobs see jobq_ctx_cancelled() */
} jobq_shutdown_mode_t;

/*
 * Stops accepting work (later submits return JOBQ_ECLOSED) and waits up to timeout_ms (0 = no
 * limit) until no accepted job is queued or running. Fire-and-forget tasks always run, in both
 * modes. May be called again, to wait longer or to move from DRAIN to CANCEL. Returns 0,
 * JOBQ_ETIMEDOUT (work is still running; call again or destroy), JOBQ_EINVAL, or JOBQ_EDEADLK
 * from inside a job of this executor.
 */
JOBQ_API int jobq_shutdown(jobq_t *q, jobq_shutdown_mode_t mode, unsigned timeout_ms);

/*
 * Shuts down with JOBQ_CANCEL if that was not done, waits for running jobs to return, joins the
 * workers and frees everything. q is invalid afterwards, and no other thread may be in a call on
 * q, except a jobq_submit, jobq_post or jobq_trypost whose work was accepted and that is still
 * returning (jobq_shutdown waits for those). jobq_destroy(NULL) returns 0. Returns JOBQ_EDEADLK,
 * doing nothing, when called from inside a job of this executor.
 */
JOBQ_API int jobq_destroy(jobq_t *q);

/* Stops workers from starting new jobs (running ones go on) / lets them start again. */
JOBQ_API int jobq_pause(jobq_t *q);
JOBQ_API int jobq_resume(jobq_t *q);

/*
 * Changes the number of worker threads to n (1..1024). Extra workers leave after their current
 * job. Returns 0, JOBQ_EINVAL, JOBQ_ECLOSED, JOBQ_ENOMEM or JOBQ_ETHREAD; on an error the
 * workers already started stay.
 */
JOBQ_API int jobq_set_workers(jobq_t *q, unsigned n);

/* ---- Jobs ----------------------------------------------------------------------------------- */

typedef enum jobq_state {
	JOBQ_SCHEDULED = 1, /* waiting for its run time (a delay, or the backoff of a retry) */
	JOBQ_QUEUED,        /* in the ring, waiting for a worker */
	JOBQ_RUNNING,       /* its function is running */
	JOBQ_FAILED,        /* an attempt failed and a retry is being scheduled (passing) */
	JOBQ_SUCCEEDED,     /* terminal */
	JOBQ_DEAD,          /* terminal: failed for good; in the dead-letter list until purged,
	                       dropped or requeued */
	JOBQ_CANCELLED      /* terminal */
} jobq_state_t;

/* "queued", "running", ... for a state; "unknown" otherwise. */
JOBQ_API const char *jobq_state_name(jobq_state_t state);

typedef enum jobq_priority {
	JOBQ_PRIO_NORMAL = 0, /* the default, so zeroed options mean it */
	JOBQ_PRIO_HIGH = 1,
	JOBQ_PRIO_LOW = 2
} jobq_priority_t;

/* What a job function returns. */
typedef enum jobq_outcome {
	JOBQ_DONE = 0,  /* success */
	JOBQ_RETRY = 1, /* a failure worth retrying: again after a backoff, while attempts remain */
	JOBQ_FATAL = 2  /* a permanent failure: the job dies at once */
} jobq_outcome_t;

/* The job's view of itself; valid only on the job's thread while its function runs. */
typedef struct jobq_ctx jobq_ctx_t;

/* A tracked job. Runs on a worker thread (or the submitter's, with JOBQ_FULL_RUN). */
typedef jobq_outcome_t (*jobq_fn)(jobq_ctx_t *ctx, void *arg);

struct jobq_status {
	uint64_t id;
	jobq_state_t state;
	int code;             /* 0, or why its last attempt went wrong: JOBQ_ECANCELED when
	                         cancelled, JOBQ_ETIMEDOUT past its timeout, JOBQ_EINVAL when its
	                         function returned no jobq_outcome_t */
	unsigned attempt;     /* attempts started so far */
	unsigned max_attempts;
	int percent;          /* last progress, 0..100, or -1 if none was reported */
	char progress[40];    /* last progress text (truncated copy) */
	char name[48];        /* the job's name (truncated copy), "" if none */
	char error[160];      /* last error message (truncated copy), "" if none */
	size_t result_len;    /* bytes of result; copy them with jobq_result */
	int64_t created_ns;   /* CLOCK_REALTIME nanoseconds: submitted, */
	int64_t started_ns;   /* last attempt started (0 if it never ran), */
	int64_t finished_ns;  /* ended (0 while not ended). The state is terminal as soon as
	                         the job ends; jobq_wait also waits for its callbacks. The three
	                         agree with clock_gettime to about 100 ns and never go back:
	                         created <= started <= finished. */
	int64_t next_run_ns;  /* when a SCHEDULED job is due (CLOCK_REALTIME), else 0 */
};

/* jobq_done_fn (above) is called exactly once when a tracked job ends, with its final status
 * (valid during the call only). */
/* Frees a job's argument; called exactly once, after the completion callback. */
typedef void (*jobq_free_fn)(void *arg);

typedef struct jobq_job_options {
	const char *name;          /* copied; NULL = none */
	jobq_priority_t priority;  /* default JOBQ_PRIO_NORMAL */
	jobq_done_fn on_done;      /* completion callback, or NULL */
	void *on_done_data;
	jobq_free_fn arg_free;     /* argument destructor, or NULL */
	jobq_full_policy_t full;   /* default: the executor's */
	unsigned block_timeout_ms; /* for JOBQ_FULL_BLOCK; 0 = the executor's */
	unsigned delay_ms;         /* first run no sooner than this (CLOCK_MONOTONIC) */
	int64_t run_at_ns;         /* or no sooner than this CLOCK_REALTIME time (0 = none); follows
	                              wall-clock steps. The later of the two wins. */
	unsigned max_attempts;     /* 0 = the executor's; 1 = no retries */
	jobq_backoff_t backoff;    /* zero fields = the executor's */
	unsigned timeout_ms;       /* soft timeout per attempt, 0 = none: past it,
	                              jobq_ctx_cancelled() returns JOBQ_ETIMEDOUT */
	int retry_timeouts;        /* nonzero: an attempt that fails past its timeout is retried;
	                              zero: it kills the job */
	const char *key;           /* idempotency key (copied), or NULL: while a job with this key
	                              is live, or ended within key_window_ms, jobq_submit returns
	                              JOBQ_EEXIST and that job's id, and runs nothing. A submit
	                              that takes the key and then fails gives it back. */
} jobq_job_options_t;

/* Fills *opts with the defaults. */
JOBQ_API void jobq_job_options_init(jobq_job_options_t *opts);

/*
 * Submits a tracked job: fn(ctx, arg) runs on a worker, after its delay if it has one, and again
 * after a backoff each time it returns JOBQ_RETRY while attempts remain. opts may be NULL. On
 * success returns 0 and stores the new id in *id (id may be NULL); from then on the executor
 * owns arg if opts->arg_free is set, and on_done and arg_free each run exactly once, whatever
 * happens (for a dead job, arg_free runs when it leaves the dead-letter list).
 * Returns JOBQ_EINVAL (NULL q or fn, bad option), JOBQ_ENOMEM, JOBQ_EAGAIN (ring full),
 * JOBQ_ECLOSED, and then nothing was taken and nothing will run; or JOBQ_EEXIST with the live
 * job's id in *id when opts->key is taken, and then too nothing was taken.
 * Any thread, inside jobs too.
 */
JOBQ_API int jobq_submit(jobq_t *q, jobq_fn fn, void *arg, const jobq_job_options_t *opts,
			 uint64_t *id);

/* A fire-and-forget task: no record, no id, no allocation. */
typedef void (*jobq_task_fn)(void *arg);

/*
 * Queues fn(arg) with normal priority under the executor's full-ring policy; jobq_trypost fails
 * with JOBQ_EAGAIN at once when the ring is full. A posted task always runs exactly once, also
 * through a JOBQ_CANCEL shutdown. Returns 0, JOBQ_EINVAL, JOBQ_EAGAIN or JOBQ_ECLOSED.
 */
JOBQ_API int jobq_post(jobq_t *q, jobq_task_fn fn, void *arg);
JOBQ_API int jobq_trypost(jobq_t *q, jobq_task_fn fn, void *arg);

/*
 * Cancels a job. A queued or scheduled job ends JOBQ_CANCELLED before this returns; its callback
 * and destructor run in this thread. A running job only sees jobq_ctx_cancelled() turn true.
 * Returns 0, JOBQ_ENOENT (unknown or forgotten id), JOBQ_EBUSY (already finished).
 */
JOBQ_API int jobq_cancel(jobq_t *q, uint64_t id);

/*
 * Copies a snapshot of job id into *out. Returns 0, JOBQ_EINVAL or JOBQ_ENOENT (never existed,
 * or finished longer ago than the executor keeps records).
 */
JOBQ_API int jobq_status(jobq_t *q, uint64_t id, jobq_status_t *out);

/*
 * Copies the job's result into buf (cap bytes) and its length into *len (len may be NULL).
 * Returns 0, JOBQ_ENOENT, or JOBQ_ENOSPC when cap is too small (*len says how much is needed).
 */
JOBQ_API int jobq_result(jobq_t *q, uint64_t id, void *buf, size_t cap, size_t *len);

/*
 * Waits up to timeout_ms (0 = no limit) for job id to reach a terminal state; by then its
 * callback has returned, and its destructor too unless the job is dead (a dead job's runs when
 * it leaves the dead-letter list). out may be NULL. Returns 0, JOBQ_ETIMEDOUT, JOBQ_ENOENT.
 */
JOBQ_API int jobq_wait(jobq_t *q, uint64_t id, unsigned timeout_ms, jobq_status_t *out);

/*
 * Waits for n jobs: all of them (any == 0), or until one has finished (any != 0; the lowest
 * index of a finished job goes to *which, which may be NULL). Returns 0, JOBQ_ETIMEDOUT,
 * JOBQ_ENOENT (an unknown id), JOBQ_EINVAL.
 */
JOBQ_API int jobq_wait_many(jobq_t *q, const uint64_t *ids, size_t n, int any,
			    unsigned timeout_ms, size_t *which);

/* ---- Inside a job --------------------------------------------------------------------------- */

JOBQ_API uint64_t jobq_ctx_id(const jobq_ctx_t *ctx);
/* 1 on the first attempt. */
JOBQ_API unsigned jobq_ctx_attempt(const jobq_ctx_t *ctx);
/* The executor running the job, to submit follow-up work. */
JOBQ_API jobq_t *jobq_ctx_executor(const jobq_ctx_t *ctx);
/* 0 while the job should go on, else why it should stop: JOBQ_ECANCELED (cancelled, or the
 * executor shuts down with JOBQ_CANCEL) or JOBQ_ETIMEDOUT (past its soft timeout). */
JOBQ_API int jobq_ctx_cancelled(const jobq_ctx_t *ctx);
/* Reports progress: percent clamped to 0..100; text may be NULL (copied, truncated). */
JOBQ_API int jobq_ctx_progress(jobq_ctx_t *ctx, int percent, const char *text);
/* Sets the result: len bytes copied from data, replacing any earlier result. 0 or ENOMEM. */
JOBQ_API int jobq_ctx_set_result(jobq_ctx_t *ctx, const void *data, size_t len);
/* Sets the error message (printf format), shown in the status. */
JOBQ_API int jobq_ctx_set_error(jobq_ctx_t *ctx, const char *fmt, ...) JOBQ_PRINTF(2, 3);
/* If this attempt returns JOBQ_RETRY, retry after exactly ms instead of the backoff. */
JOBQ_API int jobq_ctx_retry_after(jobq_ctx_t *ctx, unsigned ms);

/* ---- Dead letters and time ------------------------------------------------------------------ */

/*
 * Copies snapshots of up to cap dead jobs, oldest first, into out, and the number of dead jobs
 * into *n (n may be NULL; it can exceed cap). Returns 0 or JOBQ_EINVAL.
 */
JOBQ_API int jobq_dead_list(jobq_t *q, jobq_status_t *out, size_t cap, size_t *n);
/*
 * Runs a dead job again as a new job (a new id, in *new_id if not NULL) with a fresh set of
 * attempts and the same function, argument, name, priority, callbacks, max attempts, backoff
 * and timeout (not its key, delay or full-ring policy); the argument passes to the new job.
 * The dead record stays JOBQ_DEAD. Returns 0, JOBQ_ENOENT (not in the list), JOBQ_ENOMEM,
 * JOBQ_EAGAIN, JOBQ_ECLOSED; on an error the job stays in the list.
 */
JOBQ_API int jobq_dead_requeue(jobq_t *q, uint64_t id, uint64_t *new_id);
/* Removes job id (0: every job) from the list, running its argument destructor. 0 or
 * JOBQ_ENOENT. */
JOBQ_API int jobq_dead_purge(jobq_t *q, uint64_t id);

/*
 * With a custom clock (jobq_options_t.clock): moves every job that is due by the clock's time to
 * the queue before it returns (a job that finds its ring full goes back on the timer, due a
 * millisecond later on that clock). With the system clocks it only wakes the timer. Returns 0 or
 * JOBQ_EINVAL.
 */
JOBQ_API int jobq_clock_advanced(jobq_t *q);

/* ---- Events -------------------------------------------------------------------------------- */

/* What a subscriber hears about (a mask of these). */
enum {
	JOBQ_EV_STATE = 1,    /* a job changed state (submitted, started, failed, retried, ended) */
	JOBQ_EV_PROGRESS = 2, /* a job reported progress */
	JOBQ_EV_DROPPED = 4   /* always delivered: the buffer was full and events were lost */
};

typedef struct jobq_event {
	uint64_t id;        /* the job; 0 in a JOBQ_EV_DROPPED marker */
	unsigned kind;      /* JOBQ_EV_STATE, JOBQ_EV_PROGRESS or JOBQ_EV_DROPPED */
	jobq_state_t state; /* the job's state after the change */
	unsigned attempt;
	int code;           /* as in jobq_status_t */
	int percent;        /* last progress, or -1 */
	uint64_t dropped;   /* JOBQ_EV_DROPPED: how many events were lost since the last marker;
	                       it comes after the events that were kept */
	int64_t time_ns;    /* when, on the executor's wall clock */
	char text[40];      /* JOBQ_EV_PROGRESS: the progress text (truncated copy) */
} jobq_event_t;

/* Receives one event (valid during the call only), on the executor's event thread. */
typedef void (*jobq_event_fn)(const jobq_event_t *ev, void *data);

typedef struct jobq_sub jobq_sub_t;

typedef struct jobq_sub_options {
	unsigned mask;     /* JOBQ_EV_STATE | JOBQ_EV_PROGRESS; 0 = both */
	uint64_t job;      /* only this job's events; 0 = every job's */
	unsigned capacity; /* events buffered for this subscriber; 0 = 1024 */
	jobq_event_fn fn;  /* delivery by callback on the event thread; NULL = through a file
	                      descriptor (jobq_sub_fd, jobq_sub_read) */
	void *data;
} jobq_sub_options_t;

/* Fills *opts with the defaults. */
JOBQ_API void jobq_sub_options_init(jobq_sub_options_t *opts);

/*
 * Subscribes to the executor's events. Events go into the subscriber's bounded buffer without
 * ever blocking the thread that caused them; when it is full, later events are counted and
 * delivered as one JOBQ_EV_DROPPED marker once there is room. Events of one job arrive in order.
 * With opts->fn, a thread of the executor's calls fn for each event (keep it short; it may call
 * any jobq function, jobq_unsubscribe of this subscription included). Without, the events wait
 * for jobq_sub_read, and jobq_sub_fd becomes readable when there are some. *out is the
 * executor's until jobq_unsubscribe or jobq_destroy. Returns 0, JOBQ_EINVAL, JOBQ_ENOMEM,
 * JOBQ_ETHREAD, -errno from eventfd, or JOBQ_ECLOSED after shutdown.
 */
JOBQ_API int jobq_subscribe(jobq_t *q, const jobq_sub_options_t *opts, jobq_sub_t **out);

/*
 * The descriptor of a subscription without callback: readable (level-triggered, for poll,
 * epoll, libuv's uv_poll or libevent) while events wait. Owned by the subscription; do not close
 * it. JOBQ_EINVAL for a callback subscription.
 */
JOBQ_API int jobq_sub_fd(const jobq_sub_t *sub);

/*
 * Moves up to cap waiting events into out, oldest first, and their number into *n; never blocks.
 * One thread at a time per subscription. Returns 0 or JOBQ_EINVAL.
 */
JOBQ_API int jobq_sub_read(jobq_sub_t *sub, jobq_event_t *out, size_t cap, size_t *n);

/*
 * Ends a subscription and frees it. Safe at any time, from any thread, from inside its own
 * callback too; once it returns no callback of it is running or will run (from inside the
 * callback: none after the callback returns). Returns 0 or JOBQ_EINVAL.
 */
JOBQ_API int jobq_unsubscribe(jobq_sub_t *sub);

/* ---- Statistics ----------------------------------------------------------------------------- */

typedef struct jobq_stats {
	uint64_t queued;      /* items waiting to start, tasks included */
	uint64_t running;     /* workers running a job or task now */
	uint64_t workers;     /* worker threads */
	uint64_t retained;    /* finished records kept for polling (jobq_status(3): batches) */
	uint64_t submitted;   /* tracked jobs accepted, ever */
	uint64_t posted;      /* fire-and-forget tasks accepted, ever (exact when no submit
	                         runs concurrently, else it may include a few tracked jobs) */
	uint64_t scheduled;   /* jobs waiting for their time (delays, retries), and cron
	                         schedules waiting for their next firing */
	uint64_t succeeded;
	uint64_t failed;      /* failed attempts, ever */
	uint64_t retried;     /* retries scheduled, ever */
	uint64_t cancelled;
	uint64_t dead;        /* jobs that died, ever */
	uint64_t dead_listed; /* jobs in the dead-letter list now */
	uint64_t dead_dropped;/* dead jobs dropped from the full list, ever */
} jobq_stats_t;

/* A snapshot (each counter exact, the set not atomic). Returns 0 or JOBQ_EINVAL. */
JOBQ_API int jobq_stats(jobq_t *q, jobq_stats_t *out);

/* ---- Cron schedules ------------------------------------------------------------------------- */

/*
 * A schedule runs a job at every fire time of a cron expression (the dialect, zones and DST
 * policy are those of jobq_cron_parse and jobq_cron_next, below). Each firing is an ordinary
 * tracked job, submitted as by jobq_submit: it has its own id, can be polled, waited for and
 * cancelled, and is retried and dead-lettered like any other job. Fire times are wall-clock
 * (CLOCK_REALTIME) instants; each next time is computed from the nominal fire time before it, so
 * a late firing does not shift the schedule. When the wall clock steps (by more than a second),
 * every schedule's next time is recomputed from the present time: after a step back it follows
 * the clock back; times stepped over are late. A firing found more than the grace period late
 * (a step, a suspend, an overloaded machine) applies the misfire policy, and its schedule goes
 * on from its first fire time after now.
 *
 * A shutdown ends every schedule: from jobq_shutdown on nothing fires (so a JOBQ_DRAIN never
 * waits for a recurring schedule), jobq_cron_add returns JOBQ_ECLOSED, the schedules stay
 * listed with next_ns 0, and jobq_destroy frees them.
 */

/* What a firing does while the job of the schedule's previous firing is still live (scheduled,
 * queued, running or waiting to retry). */
typedef enum jobq_overlap {
	JOBQ_OVERLAP_SKIP = 0,  /* skip this firing (counted in skipped); the default */
	JOBQ_OVERLAP_ALLOW,     /* submit it anyway: firings may run concurrently */
	JOBQ_OVERLAP_QUEUE_ONE  /* hold one firing and submit it when the live job ends; further
	                           firings while one is held are skipped */
} jobq_overlap_t;

/* What a firing found more than grace_ms late does. Either way the next time is the first fire
 * time after now: the missed times are not run one by one. */
typedef enum jobq_misfire {
	JOBQ_MISFIRE_FIRE_ONCE = 0, /* run once now for all the missed times; the default */
	JOBQ_MISFIRE_SKIP           /* run nothing (counted in skipped) and wait for the next time */
} jobq_misfire_t;

typedef struct jobq_cron_options {
	const char *zone;              /* IANA name, copied; NULL = UTC */
	jobq_overlap_t overlap;        /* the previous firing's job still live: skip (default),
	                                  allow, or queue one */
	jobq_misfire_t misfire;        /* woke later than grace after a fire time: fire once now
	                                  (default) or skip to the next */
	unsigned grace_ms;             /* 0 = 60000 */
	unsigned jitter_ms;            /* random delay per firing, never past the next nominal time */
	const jobq_job_options_t *job; /* template for each firing's job (name, priority, retries,
	                                  timeout, on_done...), copied; NULL = defaults. Its key,
	                                  arg_free, delay_ms, run_at_ns, full and block_timeout_ms
	                                  are ignored: firings have no idempotency key, are delayed
	                                  only by the jitter, and never block the timer or run in
	                                  it (a full ring delays a firing by a millisecond) */
	jobq_free_fn arg_free;         /* destructor for arg, run once when the schedule is removed
	                                  or the executor destroyed */
} jobq_cron_options_t;

/* Fills *o with the defaults. */
JOBQ_API void jobq_cron_options_init(jobq_cron_options_t *o);

/*
 * Adds a schedule: at each fire time of expr in opts->zone, fn(ctx, arg) is submitted as a new
 * job built from opts->job. opts may be NULL (defaults). On success returns 0 and stores the
 * schedule's id (1, 2, ...; never reused) in *sched_id (may be NULL); from then on the schedule
 * owns arg if opts->arg_free is set: arg_free(arg) runs exactly once, after the schedule is
 * removed (or the executor destroyed) and no job of its firings can use arg any more (a dead
 * firing holds it until it leaves the dead-letter list), in the thread that lets it go. Every
 * firing's job shares arg and gets no destructor of its own. An expression that never fires is
 * accepted; its next_ns is 0.
 * Returns JOBQ_EINVAL (NULL q, expr or fn, a bad policy or job template), JOBQ_ECRON (err, if
 * not NULL, receives the parser's one-line message with its column, as jobq_cron_parse),
 * JOBQ_EZONE, JOBQ_ECLOSED (after jobq_shutdown) or JOBQ_ENOMEM; then nothing was taken and err
 * holds a message. err may be NULL; when errlen > 0 it is always NUL-terminated.
 * Any thread, inside jobs too.
 */
JOBQ_API int jobq_cron_add(jobq_t *q, const char *expr, jobq_fn fn, void *arg,
			   const jobq_cron_options_t *opts, uint64_t *sched_id, char *err,
			   size_t errlen);

/*
 * Removes a schedule: it fires no more (a firing the timer has already begun may still submit
 * its job). Jobs already submitted run on. Returns 0, JOBQ_EINVAL or JOBQ_ENOENT. Any thread,
 * inside jobs too; works after a shutdown.
 */
JOBQ_API int jobq_cron_remove(jobq_t *q, uint64_t sched_id);

/*
 * Pauses a schedule (fire times pass without firing or counting as skipped; a firing held by
 * JOBQ_OVERLAP_QUEUE_ONE is dropped) / resumes it from its first fire time after now. Pausing a
 * paused schedule or resuming a running one does nothing. Returns 0, JOBQ_EINVAL, JOBQ_ENOENT,
 * JOBQ_ECLOSED, or JOBQ_ENOMEM (resume only; the schedule stays paused). Any thread.
 */
JOBQ_API int jobq_cron_pause(jobq_t *q, uint64_t sched_id);
JOBQ_API int jobq_cron_resume(jobq_t *q, uint64_t sched_id);

typedef struct jobq_cron_info {
	uint64_t id;
	char expr[128];       /* the expression as given (truncated copy) */
	char zone[64];        /* the zone's name as given, "UTC" for NULL (truncated copy) */
	int paused;
	int64_t next_ns;      /* next nominal fire time (CLOCK_REALTIME ns); 0 when paused, shut
	                         down or when the expression has no more fire times */
	int64_t last_fire_ns; /* nominal time of the last firing submitted, 0 if none */
	uint64_t last_job;    /* id of the last firing's job, 0 if none */
	uint64_t fired;       /* firings submitted as jobs */
	uint64_t skipped;     /* firings skipped by the overlap or misfire policy, or because
	                         the job could not be submitted */
} jobq_cron_info_t;

/* Copies a snapshot of schedule sched_id into *out. Returns 0, JOBQ_EINVAL or JOBQ_ENOENT. */
JOBQ_API int jobq_cron_info(jobq_t *q, uint64_t sched_id, jobq_cron_info_t *out);

/*
 * Copies snapshots of up to cap schedules, in id order, into out, and the number of schedules
 * into *n (n may be NULL; it can exceed cap). Returns 0 or JOBQ_EINVAL (NULL q, or NULL out
 * with cap > 0).
 */
JOBQ_API int jobq_cron_list(jobq_t *q, jobq_cron_info_t *out, size_t cap, size_t *n);

/* ---- Cron expressions and time zones -------------------------------------------------------- */

/*
 * The dialect (see jobq_cron_parse(3) and CRON.md): 5 fields "minute hour day-of-month month
 * day-of-week" or 6 with seconds first; names, ranges, steps, lists, "?", L, L-n, nW, LW, nL, n#k,
 * and the macros @yearly @annually @monthly @weekly @daily @midnight @hourly. Days follow cronie:
 * if either day field starts with "*" (or is "?"), a day must match both, else either.
 *
 * Every schedule is evaluated in one IANA zone. A job whose minute or hour field starts with "*"
 * is a wildcard job; others are fixed-time jobs. When clocks jump forward, a fixed-time job whose
 * time does not exist runs once at the first instant after the gap, a wildcard job has no runs
 * in the gap. When clocks jump back, a fixed-time job runs once, on the first pass; a wildcard
 * job runs on both passes. Times are Unix seconds from year 1 to year 9999.
 */
typedef struct jobq_cron jobq_cron_t; /* a parsed expression: immutable, shareable across threads */
typedef struct jobq_zone jobq_zone_t; /* a loaded IANA zone: immutable, shareable, refcounted */

/*
 * Parses expr (a NUL-terminated string of at most 1024 bytes). On success stores a new
 * expression in *out, owned by the caller until jobq_cron_free. On failure *out is untouched and
 * err (may be NULL; errlen bytes, always NUL-terminated when errlen > 0) receives one line such
 * as "invalid cron expression at column 4 (hour): value 24 out of range 0-23" (the column is the
 * 1-based byte offset). Returns 0, JOBQ_ECRON, JOBQ_EINVAL (NULL expr or out), JOBQ_ENOMEM.
 * Any thread.
 */
JOBQ_API int jobq_cron_parse(const char *expr, jobq_cron_t **out, char *err, size_t errlen);

/* Frees an expression from jobq_cron_parse. NULL is a no-op. No other thread may still use it. */
JOBQ_API void jobq_cron_free(jobq_cron_t *c);

/*
 * Loads the IANA zone name ("Europe/Berlin") from the TZif file under $TZDIR, or under
 * /usr/share/zoneinfo when TZDIR is unset, including the POSIX rule of its footer for dates past
 * its table. NULL or "UTC" give UTC without reading a file. Names that are absolute, contain
 * "." or ".." components, or bytes other than letters, digits and "/_+-." are refused, and so are
 * files with leap-second tables (right/...). Zones are cached process-wide: loading a name again
 * while a handle is alive returns the same zone with its count raised. On success *out holds a
 * reference the caller releases with jobq_zone_free. Returns 0, JOBQ_EZONE (no such zone, or
 * not a valid TZif file), JOBQ_EINVAL (NULL out), JOBQ_ENOMEM. Any thread.
 */
JOBQ_API int jobq_zone_load(const char *name, jobq_zone_t **out);

/* Releases a reference from jobq_zone_load; the last one frees the zone. NULL is a no-op. */
JOBQ_API void jobq_zone_free(jobq_zone_t *z);

/*
 * Stores in *utcoff_seconds the UTC offset (seconds east, +3600 for CET) in force in zone z
 * (NULL = UTC) at Unix time t. Returns 0 or JOBQ_EINVAL (NULL utcoff_seconds, t outside years
 * 1-9999). Any thread.
 */
JOBQ_API int jobq_zone_offset(const jobq_zone_t *z, int64_t t, int *utcoff_seconds);

/*
 * Stores in *out the first fire time of c strictly after `after` (Unix seconds), evaluated in
 * zone z (NULL = UTC) with the DST policy above. Results of successive calls fed their own
 * output are strictly increasing. Returns 0, JOBQ_ENEVER (no fire time within 400 years of
 * `after`, or none before year 10000; *out untouched), JOBQ_EINVAL (NULL c or out, `after`
 * outside years 1-9999). Pure: no clock, no locks; any thread.
 */
JOBQ_API int jobq_cron_next(const jobq_cron_t *c, const jobq_zone_t *z, int64_t after,
			    int64_t *out);

/*
 * The mirror of jobq_cron_next: the last fire time strictly before `before`, so that
 * prev(next(t)) <= t. Returns 0, JOBQ_ENEVER (none within 400 years before, or none from year 1
 * on), JOBQ_EINVAL. Pure; any thread.
 */
JOBQ_API int jobq_cron_prev(const jobq_cron_t *c, const jobq_zone_t *z, int64_t before,
			    int64_t *out);

#ifdef __cplusplus
}
#endif
#endif
