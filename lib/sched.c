/*
 * sched.c: the timer thread and its two min-heaps of due times.
 *
 * Delays and retry backoff are measured on CLOCK_MONOTONIC, so a wall-clock step never makes
 * them early or late; absolute run times (jobq_job_options_t.run_at_ns) are on CLOCK_REALTIME
 * and follow wall-clock steps. Each clock has its own heap. The thread sleeps on a condition
 * variable bound to the clock of the earlier head, with that head's absolute due time as the
 * timeout: a CLOCK_REALTIME timed wait ends when the wall clock passes the time, whatever steps
 * it took, so steps are noticed without a polling tick. An empty timer sleeps without timeout:
 * no wake-ups while nothing is due. Adding an entry that becomes a head wakes the thread.
 *
 * With a custom clock (tests, simulations) the thread never sleeps on real time; the host calls
 * jobq_clock_advanced(), which fires what is due in the host's thread before returning.
 *
 * Threads and locks: mu guards the heaps; fire() runs without it, so it may take the job
 * registry's locks, and the registry may call in here while holding them. Entries are removed
 * from the heap under mu before they are fired: an entry is owned by the heap, by the firing
 * thread, or by whoever removed it, never two at once.
 *
 * Not taken: a timer wheel (cheaper inserts, but coarse ticks and a periodic wake-up), and one
 * thread per delayed job.
 */
#define _GNU_SOURCE
#include "sched.h"

#include <sched.h>
#include <time.h>

#include "alloc.h"
#include "os.h"

#define BATCH 64
#define REFIRE_NS 1000000 /* a full queue: try again a millisecond later */
#define STEP_NS 1000000000 /* a wall-clock step worth telling the owner about */

int64_t jobq__clock_now(const struct jobq__clock *c, bool realtime)
{
	if (c->fn)
		return c->fn(realtime, c->data);
	return jobq__os_now(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC);
}

int64_t jobq__clock_coarse(const struct jobq__clock *c)
{
	if (c->fn)
		return c->fn(false, c->data);
	return jobq__os_now(CLOCK_MONOTONIC_COARSE);
}

static bool before(const struct jobq__timer *a, const struct jobq__timer *b)
{
	return a->due < b->due;
}

static void place_at(struct jobq__timer **h, uint32_t i, struct jobq__timer *t)
{
	h[i] = t;
	t->idx = i;
}

static void sift_up(struct jobq__timer **h, uint32_t i)
{
	struct jobq__timer *t = h[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!before(t, h[parent]))
			break;
		place_at(h, i, h[parent]);
		i = parent;
	}
	place_at(h, i, t);
}

static void sift_down(struct jobq__timer **h, uint32_t n, uint32_t i)
{
	struct jobq__timer *t = h[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && before(h[c + 1], h[c]))
			c++;
		if (!before(h[c], t))
			break;
		place_at(h, i, h[c]);
		i = c;
	}
	place_at(h, i, t);
}

/* Takes t out of its heap. Caller holds mu and knows t is in it. */
static void unlink_timer(struct jobq__sched *s, struct jobq__timer *t)
{
	struct jobq__timer **h = s->heap[t->realtime];
	uint32_t i = t->idx, last = --s->n[t->realtime];
	t->idx = JOBQ__TIMER_IDLE;
	if (i == last)
		return;
	struct jobq__timer *moved = h[last];
	place_at(h, i, moved);
	sift_down(h, last, i);
	sift_up(h, moved->idx);
}

/* Inserts t. Caller holds mu. Returns 0 or JOBQ_ENOMEM. */
static int insert(struct jobq__sched *s, struct jobq__timer *t)
{
	unsigned k = t->realtime;
	if (s->n[k] == s->cap[k]) {
		uint32_t cap = s->cap[k] ? 2 * s->cap[k] : 64;
		struct jobq__timer **h = jobq__realloc(s->heap[k], cap * sizeof *h);
		if (!h)
			return JOBQ_ENOMEM;
		s->heap[k] = h;
		s->cap[k] = cap;
	}
	place_at(s->heap[k], s->n[k], t);
	sift_up(s->heap[k], s->n[k]++);
	return 0;
}

int jobq__sched_add(struct jobq__sched *s, struct jobq__timer *t)
{
	pthread_mutex_lock(&s->mu);
	int rc = insert(s, t);
	if (rc == 0) {
		atomic_fetch_add(&s->pending, 1);
		/* A new head may be due sooner than the thread's current timeout. */
		if (t->idx == 0) {
			pthread_cond_signal(&s->cv_mono);
			pthread_cond_signal(&s->cv_real);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

bool jobq__sched_remove(struct jobq__sched *s, struct jobq__timer *t)
{
	pthread_mutex_lock(&s->mu);
	bool was_in = t->idx != JOBQ__TIMER_IDLE;
	if (was_in)
		unlink_timer(s, t);
	pthread_mutex_unlock(&s->mu);
	if (was_in)
		jobq__sched_done(s);
	return was_in;
}

bool jobq__sched_update(struct jobq__sched *s, struct jobq__timer *t, int64_t due)
{
	pthread_mutex_lock(&s->mu);
	bool in = t->idx != JOBQ__TIMER_IDLE;
	if (in) {
		struct jobq__timer **h = s->heap[t->realtime];
		t->due = due;
		sift_down(h, s->n[t->realtime], t->idx);
		sift_up(h, t->idx);
		/* It may be the new head, due sooner than the thread's current timeout. */
		if (t->idx == 0) {
			pthread_cond_signal(&s->cv_mono);
			pthread_cond_signal(&s->cv_real);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return in;
}

int64_t jobq__sched_due(struct jobq__sched *s, const struct jobq__timer *t)
{
	pthread_mutex_lock(&s->mu);
	int64_t due = t->due;
	pthread_mutex_unlock(&s->mu);
	return due;
}

void jobq__sched_done(struct jobq__sched *s)
{
	if (atomic_fetch_sub(&s->pending, 1) == 1 && s->hooks.idle)
		s->hooks.idle(s->hooks.owner);
}

/* Moves up to BATCH due entries into batch. Caller holds mu. */
static unsigned take_due(struct jobq__sched *s, struct jobq__timer **batch)
{
	unsigned got = 0;
	for (unsigned k = 0; k < 2; k++) {
		int64_t now = jobq__clock_now(&s->clock, k);
		while (got < BATCH && s->n[k] && s->heap[k][0]->due <= now) {
			struct jobq__timer *t = s->heap[k][0];
			unlink_timer(s, t);
			batch[got++] = t;
		}
	}
	return got;
}

/* Fires a batch without the lock; puts back the entries whose queue was full. */
static void fire_batch(struct jobq__sched *s, struct jobq__timer **batch, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct jobq__timer *t = batch[i];
		jobq__fire_fn fire = s->hooks.fire[t->kind];
		if (fire(t, s->hooks.owner)) {
			jobq__sched_done(s);
			continue;
		}
		pthread_mutex_lock(&s->mu);
		t->due = jobq__clock_now(&s->clock, t->realtime) + REFIRE_NS;
		int rc = insert(s, t);
		pthread_mutex_unlock(&s->mu);
		/* Out of memory too: keep offering it rather than lose it. */
		while (rc && !fire(t, s->hooks.owner))
			sched_yield();
		if (rc)
			jobq__sched_done(s);
	}
}

/*
 * Notices a wall-clock step: the distance between the two clocks moved by more than a second.
 * Caller holds mu; returns true if the step hook should run (after mu is released).
 */
static bool stepped(struct jobq__sched *s)
{
	int64_t off = jobq__clock_now(&s->clock, true) - jobq__clock_now(&s->clock, false);
	int64_t moved = off - s->offset;
	s->offset = off;
	return moved > STEP_NS || moved < -STEP_NS;
}

static void maybe_step(struct jobq__sched *s, bool step)
{
	if (step && s->hooks.step)
		s->hooks.step(s->hooks.owner);
}

void jobq__sched_run_due(struct jobq__sched *s)
{
	struct jobq__timer *batch[BATCH];
	unsigned n;
	pthread_mutex_lock(&s->mu);
	bool step = stepped(s);
	pthread_mutex_unlock(&s->mu);
	maybe_step(s, step);
	do {
		pthread_mutex_lock(&s->mu);
		n = take_due(s, batch);
		pthread_mutex_unlock(&s->mu);
		fire_batch(s, batch, n);
	} while (n == BATCH);
}

void jobq__sched_poke(struct jobq__sched *s)
{
	pthread_mutex_lock(&s->mu);
	pthread_cond_signal(&s->cv_mono);
	pthread_cond_signal(&s->cv_real);
	pthread_mutex_unlock(&s->mu);
}

/* Sleeps until the earlier head is due or something changes. Caller holds mu. */
static void sleep_until_due(struct jobq__sched *s)
{
	if (s->clock.fn || (!s->n[0] && !s->n[1])) {
		pthread_cond_wait(&s->cv_mono, &s->mu);
		return;
	}
	/* Compare the heads on one scale: the wall-clock head's distance from now. */
	int64_t mono_now = jobq__clock_now(&s->clock, false);
	int64_t real_now = jobq__clock_now(&s->clock, true);
	int64_t mono_due = s->n[0] ? s->heap[0][0]->due : INT64_MAX;
	int64_t real_due = s->n[1] ? s->heap[1][0]->due : INT64_MAX;
	bool use_real = s->n[1] && (!s->n[0] || real_due - real_now < mono_due - mono_now);
	int64_t due = use_real ? real_due : mono_due;
	struct timespec ts = {due / 1000000000, due % 1000000000};
	pthread_cond_timedwait(use_real ? &s->cv_real : &s->cv_mono, &s->mu, &ts);
}

static void *timer_main(void *arg)
{
	struct jobq__sched *s = arg;
	struct jobq__timer *batch[BATCH];
	pthread_setname_np(pthread_self(), "jobq-timer");
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		if (!s->clock.fn && stepped(s)) {
			pthread_mutex_unlock(&s->mu);
			maybe_step(s, true);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		unsigned n = s->clock.fn ? 0 : take_due(s, batch);
		if (n) {
			pthread_mutex_unlock(&s->mu);
			fire_batch(s, batch, n);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		sleep_until_due(s);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int jobq__sched_init(struct jobq__sched *s, const struct jobq__clock *clock,
		     const struct jobq__sched_hooks *hooks)
{
	pthread_condattr_t ca;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv_mono, &ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&s->cv_real, &ca);
	pthread_condattr_destroy(&ca);
	s->clock = *clock;
	s->hooks = *hooks;
	s->offset = jobq__clock_now(clock, true) - jobq__clock_now(clock, false);

	int rc = jobq__os_thread(&s->thread, timer_main, s);
	if (rc) {
		s->started = false;
		jobq__sched_fini(s);
		return rc;
	}
	s->started = true;
	return 0;
}

void jobq__sched_fini(struct jobq__sched *s)
{
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		s->stop = true;
		pthread_cond_signal(&s->cv_mono);
		pthread_cond_signal(&s->cv_real);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
		s->started = false;
	}
	jobq__free(s->heap[0]);
	jobq__free(s->heap[1]);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv_mono);
	pthread_cond_destroy(&s->cv_real);
}
