/*
 * test_stress.c: many submitters, tracked jobs (some delayed, some failing once and retried,
 * some reporting progress and a result) and fire-and-forget tasks mixed, cancellations, and a
 * shutdown racing the submits; meanwhile a poller reads jobs (status, result, a short wait)
 * and checks what it reads, an event subscriber checks every event it is given, and the
 * worker count goes up and down and the executor is paused and resumed. Every job carries a
 * tag, and at the end every tag must be accounted for exactly once: rejected by submit (and then
 * nothing of it was called), or ran once, or was cancelled once; a tracked job's callback and
 * destructor ran exactly once.
 *
 * 1,000,000 jobs a run; fewer under the sanitizers, which slow everything down 5-20 times, and
 * $JOBQ_STRESS_TOTAL when set (make valgrind runs a few thousand).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hb.h"
#include "jobq.h"
#include "testutil.h"

#if defined(__SANITIZE_THREAD__)
#define DEFAULT_TOTAL 200000
#elif defined(__SANITIZE_ADDRESS__)
#define DEFAULT_TOTAL 200000
#else
#define DEFAULT_TOTAL 1000000
#endif
#define SUBMITTERS 4
/* Set by stress() before any thread starts: a multiple of 4 * SUBMITTERS, at least 64. */
static size_t TOTAL;
#define PER_SUBMITTER (TOTAL / SUBMITTERS)

/* What happened to one tag. */
struct tally {
	_Atomic unsigned char ran, callbacks, frees, rejected;
	_Atomic unsigned char final_state;
	unsigned char tracked;
	unsigned char flaky; /* fails its first attempt and asks for a retry */
};

/* What one submitter thread is given. */
struct sub_arg {
	struct run *r;
	unsigned idx;
};

/* On the heap, as is all the threads share: a check that fails on the test's thread before
 * they are joined ends the test with a longjmp (without fork, as under valgrind), and they
 * must not go on writing to a stack frame that is gone. */
struct run {
	jobq_t *q;
	struct tally *t;
	_Atomic uint64_t submitted; /* submit calls made, for starting the shutdown mid-way */
	_Atomic uint64_t *ids;      /* tracked ids, for the canceller */
	_Atomic int submitters_left;
	_Atomic uint64_t polled, events; /* what the observers saw, to show they ran */
	struct sub_arg args[SUBMITTERS];
};

static void task(void *arg)
{
	struct tally *t = arg;
	atomic_fetch_add_explicit(&t->ran, 1, memory_order_relaxed);
}

/* The tally array, for a job to know its tag (and a poller its result). */
static struct tally *tallies;

static jobq_outcome_t job(jobq_ctx_t *ctx, void *arg)
{
	struct tally *t = arg;
	atomic_fetch_add_explicit(&t->ran, 1, memory_order_relaxed);
	uint64_t tag = (uint64_t)(t - tallies);
	if (tag % 32 == 0) {
		ck_assert_int_eq(jobq_ctx_progress(ctx, 50, "half way"), 0);
		ck_assert_int_eq(jobq_ctx_set_result(ctx, &tag, sizeof tag), 0);
	}
	/* A mix of outcomes; each still ends exactly once. */
	if (t->flaky && jobq_ctx_attempt(ctx) == 1) {
		jobq_ctx_retry_after(ctx, 1);
		return JOBQ_RETRY;
	}
	return jobq_ctx_id(ctx) % 7 == 0 ? JOBQ_FATAL : JOBQ_DONE;
}

static void done(const jobq_status_t *st, void *data)
{
	struct tally *t = data;
	atomic_store_explicit(&t->final_state, (unsigned char)st->state, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->callbacks, 1, memory_order_relaxed);
}

static void destroy_arg(void *arg)
{
	struct tally *t = arg;
	atomic_fetch_add_explicit(&t->frees, 1, memory_order_relaxed);
}

static void *submitter(void *p)
{
	struct sub_arg *a = p;
	struct run *r = a->r;
	for (size_t i = 0; i < PER_SUBMITTER; i++) {
		size_t tag = (size_t)a->idx * PER_SUBMITTER + i;
		struct tally *t = &r->t[tag];
		int rc;
		if (tag % 4 == 0) {
			jobq_job_options_t o;
			jobq_job_options_init(&o);
			o.on_done = done;
			o.on_done_data = t;
			o.arg_free = destroy_arg;
			o.priority = (jobq_priority_t)(tag % 3);
			o.delay_ms = tag % 8 == 4 ? 1 : 0;
			t->tracked = 1;
			t->flaky = tag % 16 >= 8;
			uint64_t id;
			rc = jobq_submit(r->q, job, t, &o, &id);
			if (rc == 0)
				atomic_store_explicit(&r->ids[tag / 4], id, memory_order_relaxed);
		} else {
			rc = jobq_post(r->q, task, t);
		}
		if (rc) {
			TEST_CHECK(rc == JOBQ_ECLOSED);
			atomic_fetch_add_explicit(&t->rejected, 1, memory_order_relaxed);
		}
		atomic_fetch_add_explicit(&r->submitted, 1, memory_order_relaxed);
	}
	atomic_fetch_sub(&r->submitters_left, 1);
	return NULL;
}

/* Cancels tracked jobs by id while they are being submitted and run. */
static void *canceller(void *p)
{
	struct run *r = p;
	unsigned seed = 12345;
	while (atomic_load(&r->submitters_left) > 0) {
		size_t k = (size_t)rand_r(&seed) % (TOTAL / 4);
		uint64_t id = atomic_load_explicit(&r->ids[k], memory_order_relaxed);
		if (id) {
			int rc = jobq_cancel(r->q, id);
			TEST_CHECK(rc == 0 || rc == JOBQ_EBUSY || rc == JOBQ_ENOENT);
		}
	}
	return NULL;
}

/*
 * Reads tracked job k, if it has an id yet: a record read by id must be that job's, in a valid
 * state, with attempts and times that agree, and a result (tags that are multiples of 32 set
 * one) must be the job's own tag.
 */
static void poll_job(struct run *r, size_t k)
{
	uint64_t id = atomic_load_explicit(&r->ids[k], memory_order_relaxed);
	if (!id)
		return;
	jobq_status_t st;
	int rc = jobq_status(r->q, id, &st);
	TEST_CHECK(rc == 0 || rc == JOBQ_ENOENT);
	if (rc == 0) {
		if (st.id != id)
			ck_abort_msg("job %zu: status of id %llu has id %llu", k,
				     (unsigned long long)id, (unsigned long long)st.id);
		TEST_CHECK(st.state >= JOBQ_SCHEDULED && st.state <= JOBQ_CANCELLED);
		TEST_CHECK(st.attempt <= st.max_attempts);
		TEST_CHECK(st.started_ns == 0 || st.started_ns >= st.created_ns);
		TEST_CHECK(st.finished_ns == 0 || st.finished_ns >= st.created_ns);
		TEST_CHECK(st.finished_ns == 0 || st.finished_ns >= st.started_ns);
		/* A finish time exactly when the state is final: the ender writes both without
		 * the record lock, a canceller's claim under it (job.c, claim_cancel). */
		bool over = st.state == JOBQ_SUCCEEDED || st.state == JOBQ_DEAD ||
			    st.state == JOBQ_CANCELLED;
		TEST_CHECK((st.finished_ns != 0) == over);
		/* An attempt and its start together, and both once the job runs: a worker that
		 * wrote them apart from its move to RUNNING would show a status between. */
		TEST_CHECK((st.attempt == 0) == (st.started_ns == 0));
		TEST_CHECK(st.state != JOBQ_RUNNING || st.attempt > 0);
		TEST_CHECK((st.next_run_ns != 0) == (st.state == JOBQ_SCHEDULED));
	}
	uint64_t tag = 0;
	size_t len = 0;
	rc = jobq_result(r->q, id, &tag, sizeof tag, &len);
	TEST_CHECK(rc == 0 || rc == JOBQ_ENOENT);
	if (rc == 0 && len && (len != sizeof tag || tag != 4 * k))
		ck_abort_msg("job %zu: result of %zu bytes, tag %llu", k, len,
			     (unsigned long long)tag);
	rc = jobq_wait(r->q, id, 1, NULL);
	TEST_CHECK(rc == 0 || rc == JOBQ_ETIMEDOUT || rc == JOBQ_ENOENT);
	atomic_fetch_add_explicit(&r->polled, 1, memory_order_relaxed);
}

/* Reads random jobs while the submitters run, then every job once (records outlive the
 * shutdown), so that it has read some however the threads were scheduled. */
static void *poller(void *p)
{
	struct run *r = p;
	unsigned seed = 4242;
	/* A yield a round: on two CPUs, a poller that never lets go took the workers' time (the
	 * chaos build's run went from 47 to 60 s, with 17 million polls). */
	while (atomic_load(&r->submitters_left) > 0) {
		poll_job(r, (size_t)rand_r(&seed) % (TOTAL / 4));
		sched_yield();
	}
	for (size_t k = 0; k < TOTAL / 4; k++)
		poll_job(r, k);
	return NULL;
}

/* Every event delivered must make sense on its own (they may be dropped, never garbled). */
static void on_event(const jobq_event_t *ev, void *data)
{
	struct run *r = data;
	if (ev->kind == JOBQ_EV_DROPPED) {
		TEST_CHECK(ev->id == 0 && ev->dropped > 0);
	} else {
		TEST_CHECK(ev->kind == JOBQ_EV_STATE || ev->kind == JOBQ_EV_PROGRESS);
		TEST_CHECK(ev->id > 0);
		TEST_CHECK(ev->state >= JOBQ_SCHEDULED && ev->state <= JOBQ_CANCELLED);
		if (ev->kind == JOBQ_EV_PROGRESS)
			TEST_CHECK(ev->percent == 50 && strcmp(ev->text, "half way") == 0);
	}
	atomic_fetch_add_explicit(&r->events, 1, memory_order_relaxed);
}

/* Moves the worker count between 2 and 4, and pauses and resumes the executor, while the
 * submitters run; once the shutdown begins the executor refuses, and a pause that got in just
 * before must not hold the drain up. */
static void *controller(void *p)
{
	struct run *r = p;
	for (unsigned n = 0; atomic_load(&r->submitters_left) > 0; n++) {
		int rc = jobq_set_workers(r->q, 2 + 2 * (n % 2));
		ck_assert(rc == 0 || rc == JOBQ_ECLOSED);
		if (n % 8 == 0) {
			rc = jobq_pause(r->q);
			ck_assert(rc == 0 || rc == JOBQ_ECLOSED);
			sched_yield();
			rc = jobq_resume(r->q);
			ck_assert(rc == 0 || rc == JOBQ_ECLOSED);
		}
		sched_yield();
	}
	return NULL;
}

static void stress(jobq_shutdown_mode_t mode)
{
	struct run *r = calloc(1, sizeof *r);
	ck_assert(r);
	const char *env = getenv("JOBQ_STRESS_TOTAL");
	size_t total = env && *env ? strtoul(env, NULL, 10) : DEFAULT_TOTAL;
	TOTAL = total < 64 ? 64 : total / (4 * SUBMITTERS) * (4 * SUBMITTERS);
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 3;
	o.capacity = 4096;
	o.full = JOBQ_FULL_BLOCK;
	ck_assert_int_eq(jobq_create(&r->q, &o), 0);
	r->t = calloc(TOTAL, sizeof *r->t);
	r->ids = calloc(TOTAL / 4, sizeof *r->ids);
	ck_assert(r->t && r->ids);
	tallies = r->t;
	jobq_sub_options_t so;
	jobq_sub_options_init(&so);
	so.fn = on_event;
	so.data = r;
	jobq_sub_t *sub;
	ck_assert_int_eq(jobq_subscribe(r->q, &so, &sub), 0);
	/* Relaxed atomics shared by the submitters and the canceller: not for helgrind to check. */
	JOBQ_HB_ATOMIC(r->ids, TOTAL / 4 * sizeof *r->ids);
	atomic_store(&r->submitters_left, SUBMITTERS);

	pthread_t subs[SUBMITTERS], canc, poll, control;
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		r->args[i] = (struct sub_arg){r, i};
		ck_assert_int_eq(pthread_create(&subs[i], NULL, submitter, &r->args[i]), 0);
	}
	ck_assert_int_eq(pthread_create(&canc, NULL, canceller, r), 0);
	ck_assert_int_eq(pthread_create(&poll, NULL, poller, r), 0);
	ck_assert_int_eq(pthread_create(&control, NULL, controller, r), 0);

	/* Shut down while the submitters are half-way through. */
	while (atomic_load(&r->submitted) < TOTAL / 2)
		sched_yield();
	int shut = jobq_shutdown(r->q, mode, 0);
	for (unsigned i = 0; i < SUBMITTERS; i++)
		pthread_join(subs[i], NULL);
	pthread_join(canc, NULL);
	pthread_join(poll, NULL);
	pthread_join(control, NULL);
	ck_assert_int_eq(shut, 0);
	ck_assert_uint_gt(atomic_load(&r->polled), 0);
	/* Events are delivered on the executor's event thread, after the fact: wait for one. */
	while (atomic_load(&r->events) == 0)
		sched_yield();
	ck_assert_int_eq(jobq_unsubscribe(sub), 0);
	/* Everything accepted has ended by the time shutdown returned... */
	jobq_stats_t s;
	ck_assert_int_eq(jobq_stats(r->q, &s), 0);
	ck_assert_uint_eq(s.queued, 0);
	ck_assert_uint_eq(s.running, 0);
	ck_assert_int_eq(jobq_destroy(r->q), 0);

	/* ... and every tag is accounted for exactly once. */
	uint64_t cancelled = 0, rejected = 0;
	for (size_t i = 0; i < TOTAL; i++) {
		struct tally *t = &r->t[i];
		unsigned nran = t->ran, ncb = t->callbacks, nfree = t->frees, nrej = t->rejected;
		if (nrej) {
			if (nrej != 1 || nran || ncb || nfree)
				ck_abort_msg("tag %zu: rejected %u ran %u cb %u free %u", i, nrej, nran,
					     ncb, nfree);
			rejected++;
			continue;
		}
		if (!t->tracked) {
			if (nran != 1)
				ck_abort_msg("task %zu ran %u times", i, nran);
			continue;
		}
		unsigned attempts = 1u + t->flaky;
		if (ncb != 1 || nfree != 1 || nran > attempts)
			ck_abort_msg("job %zu: ran %u cb %u free %u", i, nran, ncb, nfree);
		if (t->final_state == JOBQ_CANCELLED) {
			cancelled++;
			/* Cancelled waiting, or while running (it then ran all the same). */
		} else {
			if (nran != attempts ||
			    (t->final_state != JOBQ_SUCCEEDED && t->final_state != JOBQ_DEAD))
				ck_abort_msg("job %zu: state %u ran %u", i, t->final_state, nran);
		}
	}
	/* The shutdown lands mid-way through a large run; a small one may finish first. */
	if (TOTAL >= 100000)
		ck_assert_uint_gt(rejected, 0);
	ck_assert_uint_lt(rejected, TOTAL);
	ck_assert_uint_eq(s.posted + s.submitted + rejected, TOTAL);
	ck_assert_uint_eq(s.succeeded + s.dead + s.cancelled, s.submitted);
	ck_assert_uint_eq(s.cancelled, cancelled);
	free(r->t);
	free((void *)r->ids);
	free(r);
}

START_TEST(stress_drain_races_submits)
{
	stress(JOBQ_DRAIN);
}
END_TEST

START_TEST(stress_cancel_races_submits)
{
	stress(JOBQ_CANCEL);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("stress");
	TCase *tc = tcase_create("exactly once");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, stress_drain_races_submits);
	tcase_add_test(tc, stress_cancel_races_submits);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
