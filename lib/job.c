/*
 * job.c: tracked jobs: their records, the id registry, running one, ending one exactly once,
 * what a job sees of itself (jobq_ctx_*), and what the host sees of it (status, result, cancel,
 * wait).
 *
 * A record's life: created by jobq_submit, registered and pushed under its shard's lock, run by
 * a worker (or cancelled while queued), ended, settled, kept for polling, pruned.
 *   - Ending is decided by one CAS on state: QUEUED -> RUNNING (a worker) races QUEUED ->
 *     CANCELLED (jobq_cancel, a JOBQ_CANCEL shutdown); RUNNING -> terminal is the worker's alone.
 *     Whoever wins ends the job, so it ends exactly once.
 *   - The ender runs the completion callback, then the argument destructor, then settles the
 *     record: marks it settled, queues it for retention and wakes waiters. jobq_wait returns
 *     only for settled records, so the callback and destructor have returned by then.
 *   - References: the registry holds one until the record is pruned; the ring item holds one
 *     until jobq__job_run has finished with it. The last one frees it.
 *
 * Threads and locks: records are read and written under their shard's mutex (id % 16), except
 * state and cancel, which are atomics. Retention has fin_mu; waiters wait_mu. A thread holds at
 * most one shard mutex; wait_mu may be taken before fin_mu or a shard mutex, fin_mu never with
 * a shard mutex.
 * Callbacks run with no lock held.
 *
 * Not taken: one registry lock (every submit and status would serialise), and records owned by
 * the caller (a worker could free what the caller still reads: ids avoid that).
 */
#include "job.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "executor.h"
#include "pool.h"
#include "uthash.h"

struct jobq__job {
	UT_hash_handle hh;
	uint64_t id;
	jobq_t *q;
	jobq_fn fn;
	void *arg;
	jobq_done_fn on_done;
	void *on_done_data;
	jobq_free_fn arg_free;
	char *name;
	char *error;
	void *result;
	size_t result_len;
	struct jobq__job *fin_next; /* retention list, or the list of a cancel sweep */
	int64_t created_ns, started_ns, finished_ns;
	int64_t settled_mono;
	_Atomic int state;
	_Atomic int cancel;
	_Atomic int refs;
	int code;
	int settled;
	unsigned attempt;
	int16_t percent;
	char progress[40];
};

_Static_assert(sizeof(struct jobq__job) <= 256, "DESIGN.md: a record is at most 256 bytes");

struct jobq_ctx {
	struct jobq__job *job;
};

static struct jobq__shard *shard_of(struct jobq__registry *r, uint64_t id)
{
	return &r->shards[id % JOBQ__NSHARDS];
}

static bool terminal(int state)
{
	return state >= JOBQ_SUCCEEDED;
}

/* Copies at most cap - 1 bytes of src and a NUL; NULL copies as "". */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

void jobq__registry_init(struct jobq__registry *r, unsigned retain_count, unsigned retain_ms)
{
	for (unsigned i = 0; i < JOBQ__NSHARDS; i++)
		pthread_mutex_init(&r->shards[i].mu, NULL);
	atomic_init(&r->next_id, 1);
	pthread_mutex_init(&r->fin_mu, NULL);
	pthread_mutex_init(&r->wait_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wait_cv, &ca);
	pthread_condattr_destroy(&ca);
	r->retain_count = retain_count;
	r->retain_ns = (int64_t)retain_ms * 1000000;
}

static void free_record(struct jobq__job *j)
{
	jobq__free(j->name);
	jobq__free(j->error);
	jobq__free(j->result);
	jobq__free(j);
}

static void unref(struct jobq__job *j)
{
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) == 1)
		free_record(j);
}

void jobq__registry_fini(struct jobq__registry *r)
{
	for (unsigned i = 0; i < JOBQ__NSHARDS; i++) {
		struct jobq__job *j, *tmp;
		HASH_ITER(hh, r->shards[i].table, j, tmp) {
			HASH_DEL(r->shards[i].table, j);
			free_record(j);
		}
		pthread_mutex_destroy(&r->shards[i].mu);
	}
	pthread_mutex_destroy(&r->fin_mu);
	pthread_mutex_destroy(&r->wait_mu);
	pthread_cond_destroy(&r->wait_cv);
}

int jobq__job_new(jobq_t *q, jobq_fn fn, void *arg, const jobq_job_options_t *opts,
		  struct jobq__job **out)
{
	struct jobq__job *j = jobq__calloc(1, sizeof *j);
	if (!j)
		return JOBQ_ENOMEM;
	if (opts->name && !(j->name = jobq__strdup(opts->name))) {
		jobq__free(j);
		return JOBQ_ENOMEM;
	}
	/* Relaxed: ids need only be unique; the shard lock publishes the record. Taking the id
	 * here lets jobq_submit know it without touching a record that may already be gone. */
	j->id = atomic_fetch_add_explicit(&q->reg.next_id, 1, memory_order_relaxed);
	j->created_ns = jobq__real_ns();
	j->q = q;
	j->fn = fn;
	j->arg = arg;
	j->on_done = opts->on_done;
	j->on_done_data = opts->on_done_data;
	j->arg_free = opts->arg_free;
	j->percent = -1;
	atomic_init(&j->state, JOBQ_QUEUED);
	atomic_init(&j->refs, 2);
	*out = j;
	return 0;
}

void jobq__job_discard(struct jobq__job *j)
{
	free_record(j);
}

uint64_t jobq__job_id(const struct jobq__job *j)
{
	return j->id;
}

int jobq__job_publish(struct jobq__registry *r, struct jobq__pool *pool, struct jobq__job *j,
		      unsigned prio, int inline_run)
{
	struct jobq__shard *s = shard_of(r, j->id);
	int rc = 0;
	pthread_mutex_lock(&s->mu);
	HASH_ADD(hh, s->table, id, sizeof j->id, j);
	if (!j->hh.tbl) {
		rc = JOBQ_ENOMEM;
	} else if (!inline_run && !jobq__pool_push(pool, prio, jobq__job_run, j)) {
		HASH_DEL(s->table, j);
		rc = JOBQ_EAGAIN;
	} else {
		s->submitted++;
		s->pushed += !inline_run;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Fills *st from j. Caller holds j's shard lock. */
static void snapshot(const struct jobq__job *j, jobq_status_t *st)
{
	st->id = j->id;
	st->state = atomic_load_explicit(&j->state, memory_order_relaxed);
	st->code = j->code;
	st->attempt = j->attempt;
	st->percent = j->percent;
	copy_str(st->progress, sizeof st->progress, j->progress);
	copy_str(st->name, sizeof st->name, j->name);
	copy_str(st->error, sizeof st->error, j->error);
	st->result_len = j->result_len;
	st->created_ns = j->created_ns;
	st->started_ns = j->started_ns;
	st->finished_ns = j->finished_ns;
}

/* Appends j to the retention list and prunes what is past the count or the age. */
static void retain(struct jobq__registry *r, struct jobq__job *j)
{
	struct jobq__job *victims = NULL;
	int64_t now = jobq__mono_ns();

	pthread_mutex_lock(&r->fin_mu);
	if (j) {
		j->settled_mono = now;
		j->fin_next = NULL;
		if (r->fin_tail)
			r->fin_tail->fin_next = j;
		else
			r->fin_head = j;
		r->fin_tail = j;
		r->nretained++;
	}
	while (r->fin_head && (r->nretained > r->retain_count ||
			       now - r->fin_head->settled_mono > r->retain_ns)) {
		struct jobq__job *v = r->fin_head;
		r->fin_head = v->fin_next;
		if (!r->fin_head)
			r->fin_tail = NULL;
		r->nretained--;
		v->fin_next = victims;
		victims = v;
	}
	pthread_mutex_unlock(&r->fin_mu);

	while (victims) {
		struct jobq__job *v = victims;
		victims = v->fin_next;
		struct jobq__shard *s = shard_of(r, v->id);
		pthread_mutex_lock(&s->mu);
		HASH_DEL(s->table, v);
		pthread_mutex_unlock(&s->mu);
		unref(v);
	}
}

/*
 * Ends a job that this thread has won (see the top of the file): records how, runs the
 * callback and the destructor, then settles it. The state was already set by the caller's CAS
 * or is set here for a job that ran.
 */
static void end(struct jobq__job *j, jobq_state_t state, int code)
{
	struct jobq__registry *r = &j->q->reg;
	struct jobq__shard *s = shard_of(r, j->id);
	jobq_status_t st;

	pthread_mutex_lock(&s->mu);
	atomic_store_explicit(&j->state, state, memory_order_relaxed);
	j->code = code;
	j->finished_ns = jobq__real_ns();
	if (state == JOBQ_SUCCEEDED)
		s->succeeded++;
	else if (state == JOBQ_CANCELLED)
		s->cancelled++;
	else
		s->failed++;
	if (j->on_done)
		snapshot(j, &st);
	pthread_mutex_unlock(&s->mu);

	if (j->on_done)
		j->on_done(&st, j->on_done_data);
	if (j->arg_free)
		j->arg_free(j->arg);

	pthread_mutex_lock(&s->mu);
	j->settled = 1;
	pthread_mutex_unlock(&s->mu);
	retain(r, j);
	/* seq_cst pairs with the waiter's increment of nwaiters before it looks at settled (under
	 * the shard lock that we released above). */
	if (atomic_load(&r->nwaiters)) {
		pthread_mutex_lock(&r->wait_mu);
		pthread_cond_broadcast(&r->wait_cv);
		pthread_mutex_unlock(&r->wait_mu);
	}
}

/* The QUEUED -> CANCELLED claim; true if this thread won it. */
static bool claim_cancel(struct jobq__job *j)
{
	int expect = JOBQ_QUEUED;
	return atomic_compare_exchange_strong(&j->state, &expect, JOBQ_CANCELLED);
}

void jobq__job_run(void *job)
{
	struct jobq__job *j = job;
	struct jobq__registry *r = &j->q->reg;
	int expect = JOBQ_QUEUED;

	if (atomic_load_explicit(&r->cancel_all, memory_order_acquire) && claim_cancel(j)) {
		end(j, JOBQ_CANCELLED, JOBQ_ECANCELED);
	} else if (atomic_compare_exchange_strong(&j->state, &expect, JOBQ_RUNNING)) {
		struct jobq__shard *s = shard_of(r, j->id);
		pthread_mutex_lock(&s->mu);
		j->attempt++;
		j->started_ns = jobq__real_ns();
		pthread_mutex_unlock(&s->mu);

		struct jobq_ctx ctx = {j};
		jobq_outcome_t out = j->fn(&ctx, j->arg);
		jobq_state_t state = JOBQ_FAILED;
		int code = 0;
		if (out == JOBQ_DONE)
			state = JOBQ_SUCCEEDED;
		else if (out != JOBQ_RETRY && out != JOBQ_FATAL)
			code = JOBQ_EINVAL;
		/* A job that stops early because it was cancelled ends cancelled, not failed. */
		if (state == JOBQ_FAILED && atomic_load(&j->cancel)) {
			state = JOBQ_CANCELLED;
			code = JOBQ_ECANCELED;
		}
		end(j, state, code);
	}
	unref(j);
}

void jobq__jobs_cancel_all(struct jobq__registry *r)
{
	atomic_store(&r->cancel_all, 1);
	for (unsigned i = 0; i < JOBQ__NSHARDS; i++) {
		struct jobq__shard *s = &r->shards[i];
		struct jobq__job *j, *tmp, *won = NULL;
		pthread_mutex_lock(&s->mu);
		HASH_ITER(hh, s->table, j, tmp) {
			atomic_store(&j->cancel, 1);
			if (claim_cancel(j)) {
				j->fin_next = won;
				won = j;
			}
		}
		pthread_mutex_unlock(&s->mu);
		/* The ring items still hold their references, so the records stay alive. */
		while (won) {
			j = won;
			won = j->fin_next;
			end(j, JOBQ_CANCELLED, JOBQ_ECANCELED);
		}
	}
}

void jobq__registry_stats(struct jobq__registry *r, struct jobq__reg_stats *out)
{
	memset(out, 0, sizeof *out);
	retain(r, NULL);
	for (unsigned i = 0; i < JOBQ__NSHARDS; i++) {
		struct jobq__shard *s = &r->shards[i];
		pthread_mutex_lock(&s->mu);
		out->submitted += s->submitted;
		out->pushed += s->pushed;
		out->succeeded += s->succeeded;
		out->failed += s->failed;
		out->cancelled += s->cancelled;
		pthread_mutex_unlock(&s->mu);
	}
	pthread_mutex_lock(&r->fin_mu);
	out->retained = r->nretained;
	pthread_mutex_unlock(&r->fin_mu);
}

/* ---- The host's view ------------------------------------------------------------------------ */

/* Looks up id with its shard locked; returns NULL (and unlocks) if it is unknown. */
static struct jobq__job *find_locked(struct jobq__registry *r, uint64_t id)
{
	struct jobq__shard *s = shard_of(r, id);
	struct jobq__job *j;
	retain(r, NULL); /* forget what is past its age first, so no caller sees it */
	pthread_mutex_lock(&s->mu);
	HASH_FIND(hh, s->table, &id, sizeof id, j);
	if (!j)
		pthread_mutex_unlock(&s->mu);
	return j;
}

static void unlock_of(struct jobq__registry *r, uint64_t id)
{
	pthread_mutex_unlock(&shard_of(r, id)->mu);
}

int jobq_status(jobq_t *q, uint64_t id, jobq_status_t *out)
{
	if (!q || !out)
		return JOBQ_EINVAL;
	struct jobq__job *j = find_locked(&q->reg, id);
	if (!j)
		return JOBQ_ENOENT;
	snapshot(j, out);
	unlock_of(&q->reg, id);
	return 0;
}

int jobq_result(jobq_t *q, uint64_t id, void *buf, size_t cap, size_t *len)
{
	if (!q || (!buf && cap))
		return JOBQ_EINVAL;
	struct jobq__job *j = find_locked(&q->reg, id);
	if (!j)
		return JOBQ_ENOENT;
	int rc = 0;
	if (len)
		*len = j->result_len;
	if (j->result_len > cap)
		rc = JOBQ_ENOSPC;
	else if (j->result_len)
		memcpy(buf, j->result, j->result_len);
	unlock_of(&q->reg, id);
	return rc;
}

int jobq_cancel(jobq_t *q, uint64_t id)
{
	if (!q)
		return JOBQ_EINVAL;
	struct jobq__job *j = find_locked(&q->reg, id);
	if (!j)
		return JOBQ_ENOENT;
	int rc = 0;
	bool won = false;
	int state = atomic_load(&j->state);
	if (terminal(state)) {
		rc = JOBQ_EBUSY;
	} else {
		atomic_store(&j->cancel, 1);
		won = claim_cancel(j);
	}
	unlock_of(&q->reg, id);
	/* The ring item's reference keeps j alive until a worker drops it, after our end(). */
	if (won)
		end(j, JOBQ_CANCELLED, JOBQ_ECANCELED);
	return rc;
}

/*
 * 1 if job ids[i] is settled (its snapshot in *out when out is not NULL), 0 if not yet,
 * JOBQ_ENOENT if unknown.
 */
static int settled(struct jobq__registry *r, uint64_t id, jobq_status_t *out)
{
	struct jobq__job *j = find_locked(r, id);
	if (!j)
		return JOBQ_ENOENT;
	int done = j->settled;
	if (done && out)
		snapshot(j, out);
	unlock_of(r, id);
	return done;
}

/*
 * Waits until all (or, with any, one) of ids are settled. Settling is permanent, so a scan
 * resumes where the last one stopped and a long list costs O(n) over the whole wait. out, for a
 * single id, receives its final snapshot.
 */
static int wait_for(jobq_t *q, const uint64_t *ids, size_t n, bool any, unsigned timeout_ms,
		    size_t *which, jobq_status_t *out)
{
	struct jobq__registry *r = &q->reg;
	int64_t deadline = jobq__mono_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
	size_t first = 0; /* ids[0..first) are known to be settled (all mode) */
	bool expired = false;
	int rc;

	pthread_mutex_lock(&r->wait_mu);
	atomic_fetch_add(&r->nwaiters, 1);
	for (;;) {
		rc = JOBQ_ETIMEDOUT;
		for (size_t i = any ? 0 : first; i < n; i++) {
			int s = settled(r, ids[i], out);
			if (s < 0 || (s && any)) {
				rc = s < 0 ? s : 0;
				if (which && s > 0)
					*which = i;
				break;
			}
			if (!s) {
				if (any)
					continue;
				break;
			}
			first = i + 1;
		}
		if (!any && first == n)
			rc = 0;
		if (rc != JOBQ_ETIMEDOUT || expired)
			break;
		if (!timeout_ms)
			pthread_cond_wait(&r->wait_cv, &r->wait_mu);
		else
			expired = pthread_cond_timedwait(&r->wait_cv, &r->wait_mu, &ts) != 0;
	}
	atomic_fetch_sub(&r->nwaiters, 1);
	pthread_mutex_unlock(&r->wait_mu);
	return rc;
}

int jobq_wait(jobq_t *q, uint64_t id, unsigned timeout_ms, jobq_status_t *out)
{
	if (!q)
		return JOBQ_EINVAL;
	return wait_for(q, &id, 1, false, timeout_ms, NULL, out);
}

int jobq_wait_many(jobq_t *q, const uint64_t *ids, size_t n, int any, unsigned timeout_ms,
		   size_t *which)
{
	if (!q || (!ids && n) || (any && !n))
		return JOBQ_EINVAL;
	return wait_for(q, ids, n, any, timeout_ms, which, NULL);
}

/* ---- The job's view ------------------------------------------------------------------------- */

uint64_t jobq_ctx_id(const jobq_ctx_t *ctx)
{
	return ctx ? ctx->job->id : 0;
}

unsigned jobq_ctx_attempt(const jobq_ctx_t *ctx)
{
	/* Written before the function was called, on this thread. */
	return ctx ? ctx->job->attempt : 0;
}

jobq_t *jobq_ctx_executor(const jobq_ctx_t *ctx)
{
	return ctx ? ctx->job->q : NULL;
}

int jobq_ctx_cancelled(const jobq_ctx_t *ctx)
{
	return ctx && atomic_load_explicit(&ctx->job->cancel, memory_order_relaxed)
		       ? JOBQ_ECANCELED
		       : 0;
}

int jobq_ctx_progress(jobq_ctx_t *ctx, int percent, const char *text)
{
	if (!ctx)
		return JOBQ_EINVAL;
	struct jobq__job *j = ctx->job;
	struct jobq__shard *s = shard_of(&j->q->reg, j->id);
	pthread_mutex_lock(&s->mu);
	j->percent = (int16_t)(percent < 0 ? 0 : percent > 100 ? 100 : percent);
	copy_str(j->progress, sizeof j->progress, text);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Replaces *slot (guarded by j's shard lock) with fresh, freeing the old value. */
static void swap_locked(struct jobq__job *j, void **slot, void *fresh, size_t *len, size_t n)
{
	struct jobq__shard *s = shard_of(&j->q->reg, j->id);
	pthread_mutex_lock(&s->mu);
	void *old = *slot;
	*slot = fresh;
	if (len)
		*len = n;
	pthread_mutex_unlock(&s->mu);
	jobq__free(old);
}

int jobq_ctx_set_result(jobq_ctx_t *ctx, const void *data, size_t len)
{
	if (!ctx || (!data && len))
		return JOBQ_EINVAL;
	void *copy = NULL;
	if (len) {
		if (!(copy = jobq__malloc(len)))
			return JOBQ_ENOMEM;
		memcpy(copy, data, len);
	}
	swap_locked(ctx->job, &ctx->job->result, copy, &ctx->job->result_len, len);
	return 0;
}

int jobq_ctx_set_error(jobq_ctx_t *ctx, const char *fmt, ...)
{
	if (!ctx || !fmt)
		return JOBQ_EINVAL;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return JOBQ_EINVAL;
	char *msg = jobq__malloc((size_t)n + 1);
	if (!msg)
		return JOBQ_ENOMEM;
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
	swap_locked(ctx->job, (void **)&ctx->job->error, msg, NULL, 0);
	return 0;
}
