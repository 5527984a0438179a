/*
 * query.c: what the host sees of a tracked job (jobq_status, jobq_result, jobq_cancel,
 * jobq_wait, jobq_wait_many) and what the job sees of itself (jobq_ctx_*).
 *
 * Threads: host calls from any thread; jobq_ctx_* only from the job's own thread while its
 * function runs. Every read of a record is a copy taken under its mutex, which keeps it
 * registered and its fields still, so a caller never holds a pointer into a record that a
 * worker may free. Waiters sleep on wait_mu/wait_cv and look records up with wait_mu held
 * (wait_mu before a record's mutex).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "executor.h"
#include "hb.h"
#include "os.h"

/* Looks up id with its record locked; returns NULL if it is unknown. */
static struct jobq__job *find_locked(struct jobq__registry *r, uint64_t id)
{
	jobq__retain(r, NULL); /* forget what is past its age first, so no caller sees it */
	return jobq__job_find(r, id);
}

int jobq_status(jobq_t *q, uint64_t id, jobq_status_t *out)
{
	int rc = jobq__check(q);
	if (rc || !out)
		return rc ? rc : JOBQ_EINVAL;
	struct jobq__job *j = find_locked(&q->reg, id);
	if (!j)
		return JOBQ_ENOENT;
	jobq__snapshot(j, out);
	jobq__unlock(&j->mu);
	return 0;
}

int jobq_result(jobq_t *q, uint64_t id, void *buf, size_t cap, size_t *len)
{
	int rc = jobq__check(q);
	if (rc || (!buf && cap))
		return rc ? rc : JOBQ_EINVAL;
	struct jobq__job *j = find_locked(&q->reg, id);
	if (!j)
		return JOBQ_ENOENT;
	if (len)
		*len = j->result_len;
	if (j->result_len > cap)
		rc = JOBQ_ENOSPC;
	else if (j->result_len)
		memcpy(buf, j->result, j->result_len);
	jobq__unlock(&j->mu);
	return rc;
}

int jobq_cancel(jobq_t *q, uint64_t id)
{
	int rc = jobq__check(q);
	if (rc)
		return rc;
	struct jobq__job *j = find_locked(&q->reg, id);
	return j ? jobq__job_cancel_locked(j) : JOBQ_ENOENT;
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
	int done = atomic_load(&j->settled);
	if (done)
		JOBQ_HB_AFTER(&j->settled); /* what the ender did, callbacks included */
	if (done && out)
		jobq__snapshot(j, out);
	jobq__unlock(&j->mu);
	return done;
}

/*
 * Looks at ids from *first on: 0 when all (or, with any, one) are settled, JOBQ_ETIMEDOUT when
 * not yet, JOBQ_ENOENT for an unknown id. Settling is permanent, so a scan resumes where the
 * last one stopped (*first, all mode) and a long list costs O(n) over the whole wait.
 */
static int scan(struct jobq__registry *r, const uint64_t *ids, size_t n, bool any, size_t *first,
		size_t *which, jobq_status_t *out)
{
	for (size_t i = any ? 0 : *first; i < n; i++) {
		int s = settled(r, ids[i], out);
		if (s < 0)
			return s;
		if (s && any) {
			if (which)
				*which = i;
			return 0;
		}
		if (!s && !any)
			return JOBQ_ETIMEDOUT;
		if (!any)
			*first = i + 1;
	}
	return any ? JOBQ_ETIMEDOUT : 0;
}

/*
 * Waits until all (or, with any, one) of ids are settled. out, for a single id, receives its
 * final snapshot.
 */
static int wait_for(jobq_t *q, const uint64_t *ids, size_t n, bool any, unsigned timeout_ms,
		    size_t *which, jobq_status_t *out)
{
	struct jobq__registry *r = &q->reg;
	int64_t deadline = jobq__os_now(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
	struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
	size_t first = 0; /* ids[0..first) are known to be settled (all mode) */
	bool expired = false;

	pthread_mutex_lock(&r->wait_mu);
	/* Jobs already settled need no registration, nor the fence that follows it. */
	int rc = scan(r, ids, n, any, &first, which, out);
	if (rc == JOBQ_ETIMEDOUT) {
		atomic_fetch_add(&r->nwaiters, 1);
		jobq__pool_fence_all(&q->pool); /* the settle's order, where it is light (job.c) */
		while ((rc = scan(r, ids, n, any, &first, which, out)) == JOBQ_ETIMEDOUT &&
		       !expired) {
			if (!timeout_ms)
				pthread_cond_wait(&r->wait_cv, &r->wait_mu);
			else
				expired = pthread_cond_timedwait(&r->wait_cv, &r->wait_mu, &ts) != 0;
		}
		atomic_fetch_sub(&r->nwaiters, 1);
	}
	pthread_mutex_unlock(&r->wait_mu);
	return rc;
}

int jobq_wait(jobq_t *q, uint64_t id, unsigned timeout_ms, jobq_status_t *out)
{
	int rc = jobq__check(q);
	if (rc)
		return rc;
	return wait_for(q, &id, 1, false, timeout_ms, NULL, out);
}

int jobq_wait_many(jobq_t *q, const uint64_t *ids, size_t n, int any, unsigned timeout_ms,
		   size_t *which)
{
	int rc = jobq__check(q);
	if (rc || (!ids && n) || (any && !n))
		return rc ? rc : JOBQ_EINVAL;
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
	return ctx ? atomic_load_explicit(&ctx->job->attempt, memory_order_relaxed) : 0;
}

jobq_t *jobq_ctx_executor(const jobq_ctx_t *ctx)
{
	return ctx ? ctx->job->q : NULL;
}

int jobq_ctx_cancelled(const jobq_ctx_t *ctx)
{
	if (!ctx)
		return 0;
	const struct jobq__job *j = ctx->job;
	if (atomic_load_explicit(&j->cancel, memory_order_relaxed))
		return JOBQ_ECANCELED;
	/* timer.due holds the attempt's deadline while it runs (written by this thread). */
	if (j->timer.due && jobq__now(j->q, false) >= j->timer.due)
		return JOBQ_ETIMEDOUT;
	return 0;
}

/* Replaces *slot (guarded by j->mu) with fresh, freeing the old value. */
static void swap_locked(struct jobq__job *j, void **slot, void *fresh, uint32_t *len, uint32_t n)
{
	jobq__lock(&j->mu);
	void *old = *slot;
	*slot = fresh;
	j->owns = true;
	if (len)
		*len = n;
	jobq__unlock(&j->mu);
	jobq__free(old);
}

int jobq_ctx_progress(jobq_ctx_t *ctx, int percent, const char *text)
{
	if (!ctx)
		return JOBQ_EINVAL;
	struct jobq__job *j = ctx->job;
	char *copy = NULL;
	if (text && !(copy = jobq__strdup(text)))
		return JOBQ_ENOMEM;
	jobq__lock(&j->mu);
	j->percent = (int8_t)(percent < 0 ? 0 : percent > 100 ? 100 : percent);
	char *old = j->progress;
	j->progress = copy;
	j->owns = true;
	jobq__job_emit(j, JOBQ_EV_PROGRESS, JOBQ_RUNNING);
	jobq__unlock(&j->mu);
	jobq__free(old);
	return 0;
}

int jobq_ctx_set_result(jobq_ctx_t *ctx, const void *data, size_t len)
{
	if (!ctx || (!data && len) || len > UINT32_MAX)
		return JOBQ_EINVAL;
	void *copy = NULL;
	if (len) {
		if (!(copy = jobq__malloc(len)))
			return JOBQ_ENOMEM;
		memcpy(copy, data, len);
	}
	swap_locked(ctx->job, &ctx->job->result, copy, &ctx->job->result_len, (uint32_t)len);
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

int jobq_ctx_retry_after(jobq_ctx_t *ctx, unsigned ms)
{
	if (!ctx)
		return JOBQ_EINVAL;
	struct jobq__job *j = ctx->job;
	jobq__lock(&j->mu);
	j->retry_after_ms = ms;
	j->flags |= JOB_RETRY_AFTER;
	jobq__unlock(&j->mu);
	return 0;
}
