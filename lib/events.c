/*
 * events.c: job events (state changes and progress) for subscribers, by callback or through a
 * file descriptor.
 *
 * Each subscription has a bounded ring of events under its own mutex. A publisher (a worker, the
 * timer, a canceller) copies the event in and, when the ring was empty, signals the reader: a
 * write to the subscription's eventfd, or a wake of the event thread. A full ring counts the
 * event as dropped instead; the count goes out as one JOBQ_EV_DROPPED marker after the events
 * that were kept. Publishing never waits for a subscriber, and costs one relaxed load when there
 * is none.
 *
 * Threads and locks: list_lock (a rwlock) guards the list: publishers read it, subscribe and
 * unsubscribe write it. A subscription's mu guards its ring and is taken inside list_lock. The
 * event thread runs callbacks with no lock held; it holds a reference on the subscription it
 * delivers to, and marks it in `delivering` (under mu of struct jobq__events) so that
 * jobq_unsubscribe from another thread can wait for the callbacks to finish.
 *
 * Not taken: calling callbacks on the publishing worker (a slow subscriber would stall the
 * pool), and one thread per subscription.
 */
#define _GNU_SOURCE
#include "events.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alloc.h"
#include "executor.h"
#include "os.h"

#define DEFAULT_CAPACITY 1024
#define BATCH 64

struct jobq_sub {
	struct jobq__events *owner;
	struct jobq_sub *next;
	_Atomic int refs;
	_Atomic bool dead;
	unsigned mask;
	uint64_t job;
	jobq_event_fn fn;
	void *data;
	int fd; /* eventfd, or -1 for a callback subscription */

	pthread_mutex_t mu; /* guards the ring below */
	jobq_event_t *ring;
	unsigned cap, head, count;
	uint64_t dropped;
	bool pending; /* callback subscription with events for the event thread */
};

void jobq__events_init(struct jobq__events *e)
{
	pthread_rwlock_init(&e->list_lock, NULL);
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->cv, NULL);
}

static void unref(struct jobq_sub *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->mu);
	jobq__free(s->ring);
	jobq__free(s);
}

void jobq_sub_options_init(jobq_sub_options_t *opts)
{
	if (opts)
		memset(opts, 0, sizeof *opts);
}

/* Copies up to cap events (and then the dropped marker) out of s. Caller holds s->mu. */
static size_t take(struct jobq_sub *s, jobq_event_t *out, size_t cap)
{
	size_t n = 0;
	while (n < cap && s->count) {
		out[n++] = s->ring[s->head];
		s->head = (s->head + 1) % s->cap;
		s->count--;
	}
	if (n < cap && !s->count && s->dropped) {
		memset(&out[n], 0, sizeof out[n]);
		out[n].kind = JOBQ_EV_DROPPED;
		out[n].dropped = s->dropped;
		n++;
		s->dropped = 0;
	}
	return n;
}

void jobq__events_publish(struct jobq__events *e, const jobq_event_t *ev)
{
	bool wake_thread = false;
	pthread_rwlock_rdlock(&e->list_lock);
	for (struct jobq_sub *s = e->subs; s; s = s->next) {
		if (!(s->mask & ev->kind) || (s->job && s->job != ev->id))
			continue;
		pthread_mutex_lock(&s->mu);
		bool was_empty = !s->count && !s->dropped;
		if (s->count == s->cap) {
			s->dropped++;
		} else {
			s->ring[(s->head + s->count) % s->cap] = *ev;
			s->count++;
		}
		if (was_empty && s->fn)
			s->pending = wake_thread = true;
		pthread_mutex_unlock(&s->mu);
		if (was_empty && s->fd >= 0) {
			uint64_t one = 1;
			/* Cannot fail short of a counter overflow (2^64 - 1 writes unread). */
			(void)!write(s->fd, &one, sizeof one);
		}
	}
	pthread_rwlock_unlock(&e->list_lock);
	if (wake_thread) {
		pthread_mutex_lock(&e->mu);
		e->pending = true;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
	}
}

/* The next callback subscription with events, with a reference taken; NULL if none. */
static struct jobq_sub *next_pending(struct jobq__events *e)
{
	struct jobq_sub *found = NULL;
	pthread_rwlock_rdlock(&e->list_lock);
	for (struct jobq_sub *s = e->subs; s && !found; s = s->next) {
		pthread_mutex_lock(&s->mu);
		if (s->pending) {
			s->pending = false;
			atomic_fetch_add(&s->refs, 1);
			found = s;
		}
		pthread_mutex_unlock(&s->mu);
	}
	pthread_rwlock_unlock(&e->list_lock);
	return found;
}

static void deliver(struct jobq__events *e, struct jobq_sub *s)
{
	jobq_event_t batch[BATCH];
	pthread_mutex_lock(&e->mu);
	e->delivering = s;
	pthread_mutex_unlock(&e->mu);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		size_t n = take(s, batch, BATCH);
		pthread_mutex_unlock(&s->mu);
		if (!n)
			break;
		for (size_t i = 0; i < n && !atomic_load(&s->dead); i++)
			s->fn(&batch[i], s->data);
	}
	pthread_mutex_lock(&e->mu);
	e->delivering = NULL;
	pthread_cond_broadcast(&e->cv);
	pthread_mutex_unlock(&e->mu);
	unref(s);
}

static _Thread_local struct jobq__events *current;

struct jobq__events *jobq__events_current(void)
{
	return current;
}

static void *event_main(void *arg)
{
	struct jobq__events *e = arg;
	pthread_setname_np(pthread_self(), "jobq-events");
	current = e;
	for (;;) {
		pthread_mutex_lock(&e->mu);
		while (!e->pending && !e->stop)
			pthread_cond_wait(&e->cv, &e->mu);
		bool stop = e->stop;
		e->pending = false;
		pthread_mutex_unlock(&e->mu);
		if (stop)
			return NULL;
		struct jobq_sub *s;
		while ((s = next_pending(e)))
			deliver(e, s);
	}
}

/* Starts the event thread if it is not running. Caller holds list_lock for writing. */
static int start_thread(struct jobq__events *e)
{
	if (e->started)
		return 0;
	int rc = jobq__os_thread(&e->thread, event_main, e);
	if (rc)
		return rc;
	e->started = true;
	return 0;
}

int jobq_subscribe(jobq_t *q, const jobq_sub_options_t *opts, jobq_sub_t **out)
{
	jobq_sub_options_t def;
	if (!opts) {
		jobq_sub_options_init(&def);
		opts = &def;
	}
	int rc = jobq__check(q);
	if (rc || !out || (opts->mask & ~(unsigned)(JOBQ_EV_STATE | JOBQ_EV_PROGRESS)))
		return rc ? rc : JOBQ_EINVAL;
	if (atomic_load(&q->pool.closed))
		return JOBQ_ECLOSED;
	struct jobq__events *e = &q->events;
	struct jobq_sub *s = jobq__calloc(1, sizeof *s);
	if (!s)
		return JOBQ_ENOMEM;
	s->cap = opts->capacity ? opts->capacity : DEFAULT_CAPACITY;
	s->ring = jobq__calloc(s->cap, sizeof *s->ring);
	if (!s->ring) {
		jobq__free(s);
		return JOBQ_ENOMEM;
	}
	s->owner = e;
	s->mask = (opts->mask ? opts->mask : JOBQ_EV_STATE | JOBQ_EV_PROGRESS) | JOBQ_EV_DROPPED;
	s->job = opts->job;
	s->fn = opts->fn;
	s->data = opts->data;
	s->fd = -1;
	atomic_init(&s->refs, 1);
	pthread_mutex_init(&s->mu, NULL);
	if (!s->fn && (s->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		int err = -errno;
		unref(s);
		return err;
	}

	pthread_rwlock_wrlock(&e->list_lock);
	rc = s->fn ? start_thread(e) : 0;
	if (rc == 0) {
		s->next = e->subs;
		e->subs = s;
		atomic_fetch_add(&e->nsubs, 1);
	}
	pthread_rwlock_unlock(&e->list_lock);
	if (rc) {
		unref(s);
		return rc;
	}
	*out = s;
	return 0;
}

int jobq_sub_fd(const jobq_sub_t *sub)
{
	return sub && sub->fd >= 0 ? sub->fd : JOBQ_EINVAL;
}

int jobq_sub_read(jobq_sub_t *sub, jobq_event_t *out, size_t cap, size_t *n)
{
	if (!sub || sub->fd < 0 || (!out && cap) || !n)
		return JOBQ_EINVAL;
	uint64_t count;
	/* Reset the descriptor first: an event published after it is read below or signals
	 * again, so the descriptor never reads as idle while events wait. */
	(void)!read(sub->fd, &count, sizeof count);
	pthread_mutex_lock(&sub->mu);
	*n = take(sub, out, cap);
	bool more = sub->count || sub->dropped;
	pthread_mutex_unlock(&sub->mu);
	if (more) {
		uint64_t one = 1;
		(void)!write(sub->fd, &one, sizeof one);
	}
	return 0;
}

int jobq_unsubscribe(jobq_sub_t *sub)
{
	if (!sub)
		return JOBQ_EINVAL;
	struct jobq__events *e = sub->owner;
	pthread_rwlock_wrlock(&e->list_lock);
	for (struct jobq_sub **link = &e->subs; *link; link = &(*link)->next) {
		if (*link == sub) {
			*link = sub->next;
			atomic_fetch_sub(&e->nsubs, 1);
			break;
		}
	}
	pthread_rwlock_unlock(&e->list_lock);
	atomic_store(&sub->dead, true);
	/* Wait out a delivery in progress, unless this is that delivery's own callback. */
	pthread_mutex_lock(&e->mu);
	if (!(e->started && pthread_equal(pthread_self(), e->thread)))
		while (e->delivering == sub)
			pthread_cond_wait(&e->cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
	unref(sub);
	return 0;
}

void jobq__events_fini(struct jobq__events *e)
{
	while (e->subs)
		jobq_unsubscribe(e->subs);
	if (e->started) {
		pthread_mutex_lock(&e->mu);
		e->stop = true;
		pthread_cond_signal(&e->cv);
		pthread_mutex_unlock(&e->mu);
		pthread_join(e->thread, NULL);
	}
	pthread_rwlock_destroy(&e->list_lock);
	pthread_mutex_destroy(&e->mu);
	pthread_cond_destroy(&e->cv);
}
