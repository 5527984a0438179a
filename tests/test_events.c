/*
 * test_events.c: job events: the order a job's events arrive in, filters by job and kind,
 * delivery through a file descriptor and by callback, the bounded buffer's dropped marker, and
 * unsubscribing at any time (from inside the callback too).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "jobq.h"
#include "testutil.h"

static jobq_outcome_t progress_job(jobq_ctx_t *ctx, void *arg)
{
	(void)arg;
	jobq_ctx_progress(ctx, 10, "one");
	jobq_ctx_progress(ctx, 50, "two");
	jobq_ctx_progress(ctx, 100, "three");
	return JOBQ_DONE;
}

static jobq_outcome_t retry_once(jobq_ctx_t *ctx, void *arg)
{
	(void)arg;
	if (jobq_ctx_attempt(ctx) == 1) {
		jobq_ctx_retry_after(ctx, 0);
		return JOBQ_RETRY;
	}
	return JOBQ_DONE;
}

enum { WORKERS = 2 };

static jobq_t *make(void)
{
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = WORKERS;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, &o), 0);
	return q;
}

static jobq_sub_t *fd_sub(jobq_t *q, unsigned mask, uint64_t job, unsigned cap)
{
	jobq_sub_options_t so;
	jobq_sub_options_init(&so);
	so.mask = mask;
	so.job = job;
	so.capacity = cap;
	jobq_sub_t *sub;
	ck_assert_int_eq(jobq_subscribe(q, &so, &sub), 0);
	ck_assert_int_ge(jobq_sub_fd(sub), 0);
	return sub;
}

/* Reads everything waiting; the descriptor must have said so. */
/*
 * Reads exactly want events into out, waiting for them as they come, then checks that no more
 * wait. A job's final event comes after jobq_wait has returned for it (jobq_subscribe(3): once
 * it is published, jobq_wait returns at once), so a test that reads the events of the jobs it
 * waited for waits for the last of them here.
 */
static void read_n(jobq_sub_t *sub, jobq_event_t *out, size_t want)
{
	struct pollfd p = {.fd = jobq_sub_fd(sub), .events = POLLIN};
	for (size_t total = 0, n; total < want; total += n) {
		ck_assert_int_eq(poll(&p, 1, -1), 1);
		ck_assert_int_eq(jobq_sub_read(sub, out + total, want - total, &n), 0);
	}
	ck_assert_int_eq(poll(&p, 1, 0), 0); /* drained: no longer readable */
}

START_TEST(one_job_in_order_through_fd)
{
	jobq_t *q = make();
	jobq_sub_t *sub = fd_sub(q, 0, 0, 0);
	uint64_t id;
	ck_assert_int_eq(jobq_submit(q, progress_job, NULL, NULL, &id), 0);
	ck_assert_int_eq(jobq_wait(q, id, 0, NULL), 0);
	jobq_event_t ev[16];
	size_t n = 6;
	read_n(sub, ev, n);
	const unsigned kinds[] = {JOBQ_EV_STATE,    JOBQ_EV_STATE,    JOBQ_EV_PROGRESS,
				  JOBQ_EV_PROGRESS, JOBQ_EV_PROGRESS, JOBQ_EV_STATE};
	const jobq_state_t states[] = {JOBQ_QUEUED,  JOBQ_RUNNING, JOBQ_RUNNING,
				       JOBQ_RUNNING, JOBQ_RUNNING, JOBQ_SUCCEEDED};
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(ev[i].id, id);
		ck_assert_uint_eq(ev[i].kind, kinds[i]);
		ck_assert_int_eq(ev[i].state, states[i]);
		if (i)
			ck_assert(ev[i].time_ns >= ev[i - 1].time_ns);
	}
	ck_assert_str_eq(ev[3].text, "two");
	ck_assert_int_eq(ev[4].percent, 100);
	ck_assert_int_eq(jobq_unsubscribe(sub), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(retry_transitions_are_visible)
{
	jobq_t *q = make();
	jobq_sub_t *sub = fd_sub(q, JOBQ_EV_STATE, 0, 0);
	uint64_t id;
	ck_assert_int_eq(jobq_submit(q, retry_once, NULL, NULL, &id), 0);
	ck_assert_int_eq(jobq_wait(q, id, 0, NULL), 0);
	jobq_event_t ev[16];
	const jobq_state_t states[] = {JOBQ_QUEUED,    JOBQ_RUNNING, JOBQ_FAILED, JOBQ_SCHEDULED,
				       JOBQ_QUEUED,    JOBQ_RUNNING, JOBQ_SUCCEEDED};
	size_t n = 7;
	read_n(sub, ev, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(ev[i].state, states[i]);
	ck_assert_uint_eq(ev[6].attempt, 2);
	ck_assert_int_eq(jobq_destroy(q), 0); /* ends the subscription too */
}
END_TEST

START_TEST(filters_by_job_and_kind)
{
	jobq_t *q = make();
	ck_assert_int_eq(jobq_pause(q), 0);
	uint64_t a, b;
	ck_assert_int_eq(jobq_submit(q, progress_job, NULL, NULL, &a), 0);
	ck_assert_int_eq(jobq_submit(q, progress_job, NULL, NULL, &b), 0);
	jobq_sub_t *only_b = fd_sub(q, 0, b, 0);
	jobq_sub_t *progress = fd_sub(q, JOBQ_EV_PROGRESS, 0, 0);
	ck_assert_int_eq(jobq_resume(q), 0);
	uint64_t ids[2] = {a, b};
	ck_assert_int_eq(jobq_wait_many(q, ids, 2, 0, 0, NULL), 0);
	jobq_event_t ev[32];
	size_t n = 5; /* running, 3 x progress, succeeded */
	read_n(only_b, ev, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(ev[i].id, b);
	n = 6;
	read_n(progress, ev, n);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(ev[i].kind, JOBQ_EV_PROGRESS);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(slow_subscriber_gets_dropped_marker)
{
	enum { JOBS = 100 };
	jobq_t *q = make();
	jobq_sub_t *sub = fd_sub(q, JOBQ_EV_STATE, 0, 4);
	uint64_t ids[JOBS];
	for (int i = 0; i < JOBS; i++)
		ck_assert_int_eq(jobq_submit(q, retry_once, NULL, NULL, &ids[i]), 0);
	ck_assert_int_eq(jobq_wait_many(q, ids, JOBS, 0, 0, NULL), 0);
	/* 7 state events a job; the buffer holds 4 and the marker counts what did not fit. The
	 * first read comes after the wait, so its buffer is full; the last events may come after
	 * it (see read_n), into the room it made. Every event is heard or counted, once. */
	jobq_event_t ev[8], first[5];
	struct pollfd p = {.fd = jobq_sub_fd(sub), .events = POLLIN};
	size_t got = 0, n;
	uint64_t heard = 0;
	while (heard < JOBS * 7) {
		ck_assert_int_eq(poll(&p, 1, -1), 1);
		ck_assert_int_eq(jobq_sub_read(sub, ev, 8, &n), 0);
		for (size_t i = 0; i < n; i++) {
			if (got < 5)
				first[got++] = ev[i];
			heard += ev[i].kind == JOBQ_EV_DROPPED ? ev[i].dropped : 1;
		}
	}
	ck_assert_uint_eq(heard, JOBS * 7);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(first[i].kind, JOBQ_EV_STATE);
	ck_assert_uint_eq(first[4].kind, JOBQ_EV_DROPPED);
	/* At most one final event a worker comes after the wait. */
	ck_assert_uint_ge(first[4].dropped, JOBS * 7 - 4 - WORKERS);
	/* Room again: new events flow. */
	uint64_t id;
	ck_assert_int_eq(jobq_submit(q, progress_job, NULL, NULL, &id), 0);
	ck_assert_int_eq(jobq_wait(q, id, 0, NULL), 0);
	read_n(sub, ev, 3);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

struct listener {
	_Atomic int events, after_unsubscribe;
	_Atomic int unsubscribed;
	jobq_sub_t *self;
	jobq_t *q;
	int shutdown_rc, destroy_rc;
	int unsubscribe_inside;
	struct latch done;
	char thread[16];
};

static void listen_cb(const jobq_event_t *ev, void *data)
{
	struct listener *l = data;
	if (atomic_load(&l->unsubscribed))
		atomic_fetch_add(&l->after_unsubscribe, 1);
	int nth = atomic_fetch_add(&l->events, 1);
	pthread_getname_np(pthread_self(), l->thread, sizeof l->thread);
	/* The event thread belongs to the executor: it cannot shut it down or destroy it. */
	if (nth == 0) {
		l->shutdown_rc = jobq_shutdown(l->q, JOBQ_DRAIN, 0);
		l->destroy_rc = jobq_destroy(l->q);
	}
	if (l->unsubscribe_inside) {
		ck_assert_int_eq(jobq_unsubscribe(l->self), 0);
		l->unsubscribe_inside = 0;
		atomic_store(&l->unsubscribed, 1);
		latch_arrive(&l->done);
	} else if (ev->kind == JOBQ_EV_STATE && ev->state == JOBQ_SUCCEEDED) {
		latch_arrive(&l->done);
	}
}

static jobq_sub_t *cb_sub(jobq_t *q, struct listener *l)
{
	jobq_sub_options_t so;
	jobq_sub_options_init(&so);
	so.fn = listen_cb;
	so.data = l;
	l->q = q;
	latch_init(&l->done, 1);
	ck_assert_int_eq(jobq_subscribe(q, &so, &l->self), 0);
	ck_assert_int_eq(jobq_sub_fd(l->self), JOBQ_EINVAL);
	return l->self;
}

START_TEST(callback_on_event_thread)
{
	jobq_t *q = make();
	struct listener l = {0};
	cb_sub(q, &l);
	uint64_t id;
	ck_assert_int_eq(jobq_submit(q, progress_job, NULL, NULL, &id), 0);
	latch_wait(&l.done);
	ck_assert_int_eq(atomic_load(&l.events), 6);
	ck_assert_str_eq(l.thread, "jobq-events");
	ck_assert_int_eq(l.shutdown_rc, JOBQ_EDEADLK);
	ck_assert_int_eq(l.destroy_rc, JOBQ_EDEADLK);
	ck_assert_int_eq(jobq_unsubscribe(l.self), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(unsubscribe_inside_callback)
{
	jobq_t *q = make();
	struct listener l = {.unsubscribe_inside = 1};
	cb_sub(q, &l);
	uint64_t id;
	ck_assert_int_eq(jobq_submit(q, progress_job, NULL, NULL, &id), 0);
	latch_wait(&l.done);
	ck_assert_int_eq(jobq_wait(q, id, 0, NULL), 0);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&l.events), 1);
	ck_assert_int_eq(atomic_load(&l.after_unsubscribe), 0);
}
END_TEST

START_TEST(unsubscribe_while_events_flow)
{
	jobq_t *q = make();
	struct listener l = {0};
	cb_sub(q, &l);
	for (int i = 0; i < 2000; i++)
		ck_assert_int_eq(jobq_submit(q, progress_job, NULL, NULL, NULL), 0);
	ck_assert_int_eq(jobq_unsubscribe(l.self), 0);
	atomic_store(&l.unsubscribed, 1);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&l.after_unsubscribe), 0);
}
END_TEST

START_TEST(bad_subscriptions)
{
	jobq_t *q = make();
	jobq_sub_t *sub;
	jobq_sub_options_t so;
	jobq_sub_options_init(&so);
	so.mask = 64;
	ck_assert_int_eq(jobq_subscribe(q, &so, &sub), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_subscribe(q, NULL, NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_subscribe(NULL, NULL, &sub), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_sub_fd(NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_unsubscribe(NULL), JOBQ_EINVAL);
	size_t n;
	ck_assert_int_eq(jobq_sub_read(NULL, NULL, 0, &n), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_subscribe(q, NULL, &sub), 0); /* defaults: fd, both kinds */
	ck_assert_int_eq(jobq_sub_read(sub, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(jobq_subscribe(q, NULL, &sub), JOBQ_ECLOSED);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("delivery");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, one_job_in_order_through_fd);
	tcase_add_test(tc, retry_transitions_are_visible);
	tcase_add_test(tc, filters_by_job_and_kind);
	tcase_add_test(tc, slow_subscriber_gets_dropped_marker);
	tcase_add_test(tc, callback_on_event_thread);
	tcase_add_test(tc, unsubscribe_inside_callback);
	tcase_add_test(tc, unsubscribe_while_events_flow);
	tcase_add_test(tc, bad_subscriptions);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
