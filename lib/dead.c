/*
 * dead.c: the dead-letter list: jobs that failed for good (no attempts left, or a fatal
 * failure), kept with their argument for inspection, requeueing or purging.
 *
 * A dead job has ended (state JOBQ_DEAD, callbacks run, waiters woken) but its argument is
 * still alive: the destructor runs when the job leaves the list by purge, by being dropped
 * because the list is full (oldest first; counted), or at destroy. A requeue hands the
 * argument to a new job instead. A record stays in the registry while it is listed, so
 * jobq_status works for it; once it leaves the list it joins the retention list like any other.
 *
 * Threads: any. dead_mu guards the list; it may be taken before a record's mutex (to
 * snapshot), never inside a record's.
 */
#include <string.h>

#include "executor.h"

/* Unlinks the listed job with this id (0: the whole list) and returns it. Caller holds
 * dead_mu. */
static struct jobq__job *take(struct jobq__registry *r, uint64_t id)
{
	struct jobq__job **link = &r->dead_head, *prev = NULL;
	if (!id) {
		struct jobq__job *all = r->dead_head;
		r->dead_head = r->dead_tail = NULL;
		r->ndead = 0;
		return all;
	}
	for (; *link; prev = *link, link = &(*link)->link) {
		struct jobq__job *j = *link;
		if (j->id != id)
			continue;
		*link = j->link;
		if (r->dead_tail == j)
			r->dead_tail = prev;
		j->link = NULL;
		r->ndead--;
		return j;
	}
	return NULL;
}

/* Releases jobs that left the list: their destructors, then retention. */
static void release(struct jobq__registry *r, struct jobq__job *j)
{
	while (j) {
		struct jobq__job *next = j->link;
		if (j->arg_free)
			j->arg_free(j->arg);
		jobq__retain(r, j);
		j = next;
	}
}

static void append(struct jobq__registry *r, struct jobq__job *j)
{
	j->link = NULL;
	if (r->dead_tail)
		r->dead_tail->link = j;
	else
		r->dead_head = j;
	r->dead_tail = j;
	r->ndead++;
}

void jobq__dead_add(struct jobq__registry *r, struct jobq__job *j)
{
	struct jobq__job *dropped = NULL;
	pthread_mutex_lock(&r->dead_mu);
	append(r, j);
	if (r->ndead > r->dead_max) {
		dropped = take(r, r->dead_head->id);
		r->dead_dropped++;
	}
	pthread_mutex_unlock(&r->dead_mu);
	release(r, dropped);
}

void jobq__dead_clear(struct jobq__registry *r)
{
	pthread_mutex_lock(&r->dead_mu);
	struct jobq__job *all = take(r, 0);
	pthread_mutex_unlock(&r->dead_mu);
	release(r, all);
}

int jobq_dead_list(jobq_t *q, jobq_status_t *out, size_t cap, size_t *n)
{
	int rc = jobq__check(q);
	if (rc || (!out && cap))
		return rc ? rc : JOBQ_EINVAL;
	struct jobq__registry *r = &q->reg;
	size_t i = 0;
	pthread_mutex_lock(&r->dead_mu);
	for (struct jobq__job *j = r->dead_head; j && i < cap; j = j->link, i++) {
		jobq__lock(&j->mu);
		jobq__snapshot(j, &out[i]);
		jobq__unlock(&j->mu);
	}
	if (n)
		*n = r->ndead;
	pthread_mutex_unlock(&r->dead_mu);
	return 0;
}

int jobq_dead_purge(jobq_t *q, uint64_t id)
{
	int rc = jobq__check(q);
	if (rc)
		return rc;
	pthread_mutex_lock(&q->reg.dead_mu);
	struct jobq__job *gone = take(&q->reg, id);
	pthread_mutex_unlock(&q->reg.dead_mu);
	if (!gone && id)
		return JOBQ_ENOENT;
	release(&q->reg, gone);
	return 0;
}

int jobq_dead_requeue(jobq_t *q, uint64_t id, uint64_t *new_id)
{
	int rc = jobq__check(q);
	if (rc)
		return rc;
	struct jobq__registry *r = &q->reg;
	pthread_mutex_lock(&r->dead_mu);
	struct jobq__job *j = id ? take(r, id) : NULL;
	pthread_mutex_unlock(&r->dead_mu);
	if (!j)
		return JOBQ_ENOENT;

	/* Off the list, the record is ours alone: nobody else reads these fields now. */
	jobq_job_options_t opts;
	jobq__job_options_of(j, &opts);
	rc = jobq_submit(q, j->fn, j->arg, &opts, new_id);
	if (rc) {
		pthread_mutex_lock(&r->dead_mu);
		append(r, j);
		pthread_mutex_unlock(&r->dead_mu);
		return rc;
	}
	j->arg_free = NULL; /* the argument now belongs to the new job */
	jobq__retain(r, j);
	return 0;
}
