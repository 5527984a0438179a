/*
 * jobq.c: the executor: creating and destroying it, taking work (jobq_submit, jobq_post) under
 * the full-ring policies, shutdown, control and stats. It joins the pool (pool.c), which runs
 * items, to the registry (job.c), which tracks jobs.
 *
 * Threads: every function here may be called from any thread; shutdown and destroy are refused
 * from the executor's own jobs, which they would wait for. Submission takes no lock for a
 * fire-and-forget task and, for a tracked job, its record's.
 *
 * A full ring: JOBQ_FULL_FAIL returns JOBQ_EAGAIN; JOBQ_FULL_BLOCK waits for a pop (futex, no
 * polling) up to its timeout, except on one of the executor's own workers, where waiting could
 * deadlock the pool, so it runs the job in place as JOBQ_FULL_RUN does.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "chaos.h"
#include "executor.h"
#include "os.h"

_Atomic unsigned jobq__fork_generation;

static void forked_child(void)
{
	atomic_fetch_add_explicit(&jobq__fork_generation, 1, memory_order_relaxed);
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, forked_child);
}

/* The pool's idle hook: a worker out of work puts its batch of settled records away. */
static void worker_idle(struct jobq__pool *p)
{
	jobq__retain_flush(&((jobq_t *)((char *)p - offsetof(jobq_t, pool)))->reg);
}

#define DEFAULT_CAPACITY 65536
#define MAX_CAPACITY (1u << 30)
#define DEFAULT_RETAIN_COUNT 10000
#define DEFAULT_RETAIN_MS 60000
#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_BACKOFF_BASE_MS 1000
#define DEFAULT_BACKOFF_CAP_MS 300000
#define DEFAULT_BACKOFF_FACTOR 2.0
#define DEFAULT_DEAD_MAX 1000
#define DEFAULT_KEY_WINDOW_MS 60000
#define MAX_ATTEMPTS 65535

void jobq_options_init(jobq_options_t *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->full = JOBQ_FULL_FAIL;
}

void jobq_job_options_init(jobq_job_options_t *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->priority = JOBQ_PRIO_NORMAL;
	opts->full = JOBQ_FULL_DEFAULT;
}

const char *jobq_state_name(jobq_state_t state)
{
	static const char *const names[] = {
		[JOBQ_SCHEDULED] = "scheduled", [JOBQ_QUEUED] = "queued",
		[JOBQ_RUNNING] = "running",     [JOBQ_SUCCEEDED] = "succeeded",
		[JOBQ_FAILED] = "failed",       [JOBQ_DEAD] = "dead",
		[JOBQ_CANCELLED] = "cancelled",
	};
	if ((unsigned)state < sizeof names / sizeof names[0] && names[state])
		return names[state];
	return "unknown";
}

static bool valid_policy(jobq_full_policy_t p)
{
	return (unsigned)p <= JOBQ_FULL_RUN;
}

/* A zero factor means the default; otherwise it must be at least 1 (and not NaN). */
static bool valid_backoff(const jobq_backoff_t *b)
{
	return b->factor == 0 || b->factor >= 1;
}

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

/* The timer's idle hook: a drain may be waiting for the timer to empty. */
static void timer_idle(void *owner)
{
	jobq_t *q = owner;
	jobq__pool_held_changed(&q->pool);
}

int jobq_create(jobq_t **out, const jobq_options_t *opts)
{
	jobq_options_t def;
	if (!opts) {
		jobq_options_init(&def);
		opts = &def;
	}
	if (!out || opts->workers > JOBQ__MAX_WORKERS || opts->capacity > MAX_CAPACITY ||
	    !valid_policy(opts->full) || opts->max_attempts > MAX_ATTEMPTS ||
	    !valid_backoff(&opts->backoff))
		return JOBQ_EINVAL;

	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, watch_forks);
	jobq_t *q = jobq__aligned_calloc(JOBQ_CACHELINE, sizeof *q);
	if (!q)
		return JOBQ_ENOMEM;
	q->fork_generation = atomic_load(&jobq__fork_generation);
	q->full = opts->full ? opts->full : JOBQ_FULL_FAIL;
	q->block_timeout_ms = opts->block_timeout_ms;
	q->max_attempts = or_default(opts->max_attempts, DEFAULT_MAX_ATTEMPTS);
	q->backoff.base_ms = or_default(opts->backoff.base_ms, DEFAULT_BACKOFF_BASE_MS);
	q->backoff.cap_ms = or_default(opts->backoff.cap_ms, DEFAULT_BACKOFF_CAP_MS);
	q->backoff.factor = opts->backoff.factor ? opts->backoff.factor : DEFAULT_BACKOFF_FACTOR;
	q->on_dead = opts->on_dead;
	q->on_dead_data = opts->on_dead_data;
	q->clock = (struct jobq__clock){opts->clock, opts->clock_data};
	if (jobq__registry_init(&q->reg, &q->clock,
				or_default(opts->retain_count, DEFAULT_RETAIN_COUNT),
				or_default(opts->retain_ms, DEFAULT_RETAIN_MS),
				or_default(opts->dead_max, DEFAULT_DEAD_MAX))) {
		jobq__free(q);
		return JOBQ_ENOMEM;
	}
	jobq__keys_init(&q->keys,
			(int64_t)or_default(opts->key_window_ms, DEFAULT_KEY_WINDOW_MS) * 1000000);
	q->pool.held = &q->sched.pending;
	q->pool.idle = worker_idle;
	q->pool.warm_fn = jobq__job_run;
	q->pool.warm_len = sizeof(struct jobq__job);
	jobq__events_init(&q->events);
	jobq__crons_init(&q->crons);

	unsigned workers = opts->workers;
	if (!workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		workers = n < 1 ? 1 : n > JOBQ__MAX_WORKERS ? JOBQ__MAX_WORKERS : (unsigned)n;
	}
	struct jobq__sched_hooks hooks = {
		.fire = {[JOBQ__TIMER_JOB] = jobq__job_due, [JOBQ__TIMER_CRON] = jobq__cron_due},
		.idle = timer_idle,
		.step = jobq__cron_step,
		.owner = q,
	};
	int rc = jobq__sched_init(&q->sched, &q->clock, &hooks);
	if (rc == 0) {
		rc = jobq__pool_init(&q->pool, workers, or_default(opts->capacity, DEFAULT_CAPACITY));
		if (rc)
			jobq__sched_fini(&q->sched);
	}
	if (rc) {
		jobq__crons_fini(q);
		jobq__events_fini(&q->events);
		jobq__keys_fini(&q->keys);
		jobq__registry_fini(&q->reg);
		jobq__free(q);
		return rc;
	}
	*out = q;
	return 0;
}

/* True when the calling thread runs one of q's jobs, callbacks, tasks or event callbacks. */
static bool inside(jobq_t *q)
{
	return jobq__pool_current() == &q->pool || jobq__events_current() == &q->events;
}

/*
 * Places one item under the full-ring policy. A tracked job (j != NULL) is registered as it is
 * pushed; a task is pushed as (fn, arg). The caller is inside the pool's gate.
 */
static int place(jobq_t *q, unsigned prio, jobq_task_fn fn, void *arg, struct jobq__job *j,
		 jobq_full_policy_t policy, unsigned timeout_ms)
{
	int64_t deadline = -1;
	bool last = false; /* the deadline passed: one more try, then JOBQ_EAGAIN */
	for (;;) {
		int rc = j ? jobq__job_publish(q, j, 0)
			   : jobq__pool_push(&q->pool, prio, fn, arg) ? 0 : JOBQ_EAGAIN;
		if (rc != JOBQ_EAGAIN || last)
			return rc;
		if (policy == JOBQ_FULL_FAIL)
			return JOBQ_EAGAIN;
		if (policy == JOBQ_FULL_RUN || inside(q))
			break;
		if (deadline < 0)
			deadline = timeout_ms ? jobq__os_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000 : 0;
		/* The wait ends when a quarter of the ring is free, so at the deadline a slot may
		 * be free all the same. */
		last = jobq__pool_wait_room(&q->pool, prio, deadline) == JOBQ_ETIMEDOUT;
	}
	if (j) {
		int rc = jobq__job_publish(q, j, 1);
		if (rc)
			return rc;
		jobq__pool_run_inline(&q->pool, jobq__job_run, j);
	} else {
		atomic_fetch_add_explicit(&q->inline_tasks, 1, memory_order_relaxed);
		jobq__pool_run_inline(&q->pool, fn, arg);
	}
	return 0;
}

bool jobq__job_options_valid(const jobq_job_options_t *opts)
{
	return (unsigned)opts->priority <= JOBQ_PRIO_LOW && valid_policy(opts->full) &&
	       opts->max_attempts <= MAX_ATTEMPTS && valid_backoff(&opts->backoff) &&
	       opts->run_at_ns >= 0;
}

int jobq_submit(jobq_t *q, jobq_fn fn, void *arg, const jobq_job_options_t *opts, uint64_t *id)
{
	jobq_job_options_t def;
	if (!opts) {
		jobq_job_options_init(&def);
		opts = &def;
	}
	int rc = jobq__check(q);
	if (rc)
		return rc;
	if (!fn || !jobq__job_options_valid(opts))
		return JOBQ_EINVAL;

	struct jobq__job *j;
	rc = jobq__job_new(q, fn, arg, opts, &j);
	if (rc)
		return rc;
	/* Read the id before placing: once placed, the job may end and be pruned at any time. */
	uint64_t new_id = j->id, holder = 0;
	jobq_full_policy_t policy = or_default(opts->full, q->full);
	/* Most submits, a job for a worker now with no key, take no gate: the publish claims the
	 * ring position before anything else, and its publish is its last touch of q
	 * (jobq__job_publish), so a drain waits for it from the claim on. Only a full ring
	 * (waiting for room, or running the job here), a key or a delay take the gate. */
	if (!opts->key && atomic_load_explicit(&j->state, memory_order_relaxed) == JOBQ_QUEUED) {
		rc = jobq__job_publish(q, j, 0);
		if (rc != JOBQ_EAGAIN || policy == JOBQ_FULL_FAIL) {
			if (rc)
				jobq__job_discard(j); /* refused: nothing was registered */
			goto out;
		}
	}
	rc = jobq__pool_enter(&q->pool);
	if (rc == 0 && opts->key)
		rc = jobq__keys_claim(&q->keys, opts->key, new_id, jobq__now(q, false), &holder,
				      &j->key);
	if (rc == 0)
		rc = place(q, opts->priority, NULL, NULL, j, policy,
			   or_default(opts->block_timeout_ms, q->block_timeout_ms));
	if (rc) {
		if (j->key)
			jobq__keys_release(&q->keys, j->key);
		jobq__job_discard(j);
	}
	/* The last touch of q, refused or not: a shutdown that finds the gate empty may return,
	 * and q be destroyed, before this call has. */
	jobq__pool_leave(&q->pool);
out:
	if (id && (rc == 0 || rc == JOBQ_EEXIST))
		*id = rc ? holder : new_id;
	return rc;
}

static int post(jobq_t *q, jobq_task_fn fn, void *arg, jobq_full_policy_t policy)
{
	int rc = jobq__check(q);
	if (rc || !fn)
		return rc ? rc : JOBQ_EINVAL;
	/* Most posts find room and need no gate: the ring refuses them once the pool is closed
	 * (pool.h). Only a full ring takes the gate, to wait for room or to run the task here. */
	rc = jobq__pool_post(&q->pool, JOBQ_PRIO_NORMAL, fn, arg);
	if (rc != JOBQ_EAGAIN || policy == JOBQ_FULL_FAIL)
		return rc;
	rc = jobq__pool_enter(&q->pool);
	if (rc == 0)
		rc = place(q, JOBQ_PRIO_NORMAL, fn, arg, NULL, policy, q->block_timeout_ms);
	jobq__pool_leave(&q->pool);
	return rc;
}

int jobq_post(jobq_t *q, jobq_task_fn fn, void *arg)
{
	return post(q, fn, arg, q ? q->full : JOBQ_FULL_FAIL);
}

int jobq_trypost(jobq_t *q, jobq_task_fn fn, void *arg)
{
	return post(q, fn, arg, JOBQ_FULL_FAIL);
}

int jobq_shutdown(jobq_t *q, jobq_shutdown_mode_t mode, unsigned timeout_ms)
{
	int rc = jobq__check(q);
	if (rc || (mode != JOBQ_DRAIN && mode != JOBQ_CANCEL))
		return rc ? rc : JOBQ_EINVAL;
	if (inside(q))
		return JOBQ_EDEADLK;
	jobq__pool_close(&q->pool);
	JOBQ_CHAOS_POINT(); /* closed, queued jobs not cancelled yet: a paused pool stays paused */
	/* Schedules end first: a recurring one would keep a drain waiting for ever. */
	jobq__crons_close(q);
	if (mode == JOBQ_CANCEL)
		jobq__jobs_cancel_all(q);
	/* A paused pool could never drain. Resumed after the cancel sweep, so that no queued job
	 * starts in between. */
	jobq__pool_pause(&q->pool, false);
	int64_t deadline = timeout_ms ? jobq__os_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000 : 0;
	return jobq__pool_drain(&q->pool, deadline);
}

int jobq_destroy(jobq_t *q)
{
	if (!q)
		return 0;
	int rc = jobq__check(q);
	if (rc == 0)
		rc = jobq_shutdown(q, JOBQ_CANCEL, 0);
	if (rc)
		return rc;
	jobq__sched_fini(&q->sched);
	jobq__pool_fini(&q->pool);
	jobq__events_fini(&q->events);
	jobq__dead_clear(&q->reg);
	/* After every job and dead letter is gone: they may hold a schedule's argument. */
	jobq__crons_fini(q);
	jobq__keys_fini(&q->keys);
	jobq__registry_fini(&q->reg);
	jobq__free(q);
	return 0;
}

static int control(jobq_t *q)
{
	int rc = jobq__check(q);
	if (rc == 0 && atomic_load(&q->pool.closed))
		rc = JOBQ_ECLOSED;
	return rc;
}

int jobq_pause(jobq_t *q)
{
	int rc = control(q);
	JOBQ_CHAOS_POINT(); /* checked, not yet paused: a shutdown may come in between */
	if (rc == 0)
		rc = jobq__pool_pause(&q->pool, true);
	return rc;
}

int jobq_resume(jobq_t *q)
{
	int rc = control(q);
	if (rc == 0)
		jobq__pool_pause(&q->pool, false);
	return rc;
}

int jobq_set_workers(jobq_t *q, unsigned n)
{
	int rc = control(q);
	if (rc == 0 && (n < 1 || n > JOBQ__MAX_WORKERS))
		rc = JOBQ_EINVAL;
	return rc ? rc : jobq__pool_set_workers(&q->pool, n);
}

int jobq_stats(jobq_t *q, jobq_stats_t *out)
{
	int rc = jobq__check(q);
	if (rc || !out)
		return rc ? rc : JOBQ_EINVAL;
	struct jobq__pool_stats ps;
	struct jobq__reg_stats rs;
	/* Registry first: a tracked job is counted there only after its push, so the pushes
	 * read afterwards are never fewer and posted below cannot wrap. */
	jobq__registry_stats(&q->reg, &rs);
	jobq__pool_stats(&q->pool, &ps);
	memset(out, 0, sizeof *out);
	out->queued = ps.queued;
	out->running = ps.running;
	out->workers = ps.workers;
	out->retained = rs.retained;
	out->submitted = rs.submitted;
	out->scheduled = atomic_load(&q->sched.pending);
	out->succeeded = rs.succeeded;
	out->failed = rs.failed;
	out->retried = rs.retried;
	out->cancelled = rs.cancelled;
	out->dead = rs.dead;
	out->dead_listed = rs.dead_listed;
	out->dead_dropped = rs.dead_dropped;
	/* Tasks have no records: count them as pushes that were not tracked jobs, plus those run
	 * in the caller. */
	uint64_t pushed = 0;
	for (unsigned i = 0; i < JOBQ__NPRIO; i++)
		pushed += ps.pushed[i];
	out->posted = pushed - rs.pushed + atomic_load(&q->inline_tasks);
	return 0;
}

int jobq_clock_advanced(jobq_t *q)
{
	int rc = jobq__check(q);
	if (rc)
		return rc;
	if (q->clock.fn)
		jobq__sched_run_due(&q->sched);
	else
		jobq__sched_poke(&q->sched);
	return 0;
}
