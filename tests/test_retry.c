/*
 * test_retry.c: delayed jobs, retries with backoff, the dead-letter list, idempotency keys,
 * soft timeouts and retention by age, all on a clock the test moves (jobq_options_t.clock): no
 * test sleeps, and the timer never fires because real time passed.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "jobq.h"
#include "fakeclock.h"
#include "testutil.h"

#define MS 1000000LL

/* An executor with options o on the test's clock, which starts again. */
static jobq_t *make_on_clock(jobq_options_t *o)
{
	atomic_store(&clk.mono, 1000 * MS);
	atomic_store(&clk.real, 1700000000000 * MS);
	o->clock = fake_now;
	o->clock_data = &clk;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, o), 0);
	return q;
}

static jobq_t *make(unsigned workers, unsigned max_attempts)
{
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = workers;
	o.max_attempts = max_attempts;
	o.backoff = (jobq_backoff_t){.base_ms = 100, .cap_ms = 1000, .factor = 2};
	return make_on_clock(&o);
}

/* A job that fails `fails` times (asking for a retry), then succeeds. */
struct flaky {
	_Atomic int runs;
	int fails;
	jobq_outcome_t failure;
	unsigned retry_after_ms;
	_Atomic int callbacks, frees;
	jobq_state_t final;
};

static jobq_outcome_t flaky_job(jobq_ctx_t *ctx, void *arg)
{
	struct flaky *f = arg;
	int n = atomic_fetch_add(&f->runs, 1);
	if (n < f->fails) {
		jobq_ctx_set_error(ctx, "transient %d", n + 1);
		if (f->retry_after_ms)
			jobq_ctx_retry_after(ctx, f->retry_after_ms);
		return f->failure;
	}
	return JOBQ_DONE;
}

static void flaky_done(const jobq_status_t *st, void *data)
{
	struct flaky *f = data;
	f->final = st->state;
	atomic_fetch_add(&f->callbacks, 1);
}

static void flaky_free(void *arg)
{
	struct flaky *f = arg;
	atomic_fetch_add(&f->frees, 1);
}

static jobq_job_options_t flaky_opts(struct flaky *f)
{
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.on_done = flaky_done;
	o.on_done_data = f;
	o.arg_free = flaky_free;
	return o;
}

START_TEST(delayed_job_waits_for_its_time)
{
	jobq_t *q = make(1, 0);
	struct flaky f = {0};
	jobq_job_options_t o = flaky_opts(&f);
	o.delay_ms = 1000;
	uint64_t id;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &f, &o, &id), 0);
	ck_assert_int_eq(state_of(q, id, &st), JOBQ_SCHEDULED);
	ck_assert_int_eq(st.next_run_ns, atomic_load(&clk.real) + 1000 * MS);
	jobq_stats_t s;
	ck_assert_int_eq(jobq_stats(q, &s), 0);
	ck_assert_uint_eq(s.scheduled, 1);
	advance(q, 999 * MS);
	ck_assert_int_eq(state_of(q, id, &st), JOBQ_SCHEDULED);
	advance(q, 1 * MS);
	ck_assert_int_eq(jobq_wait(q, id, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	ck_assert_int_eq(atomic_load(&f.runs), 1);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&f.callbacks), 1);
	ck_assert_int_eq(atomic_load(&f.frees), 1);
}
END_TEST

START_TEST(run_at_follows_wall_clock_steps)
{
	jobq_t *q = make(1, 0);
	struct flaky at = {0}, after = {0};
	jobq_job_options_t o = flaky_opts(&at);
	o.run_at_ns = atomic_load(&clk.real) + 3600 * 1000 * MS;
	uint64_t id_at, id_after;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &at, &o, &id_at), 0);
	o = flaky_opts(&after);
	o.delay_ms = 3600 * 1000;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &after, &o, &id_after), 0);
	/* The wall clock jumps an hour ahead; the monotonic clock does not move. */
	atomic_fetch_add(&clk.real, 3600 * 1000 * MS);
	ck_assert_int_eq(jobq_clock_advanced(q), 0);
	jobq_status_t st;
	ck_assert_int_eq(jobq_wait(q, id_at, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	/* A delay is measured on the monotonic clock: the step does not shorten it. */
	ck_assert_int_eq(state_of(q, id_after, &st), JOBQ_SCHEDULED);
	advance(q, 3600 * 1000 * MS);
	ck_assert_int_eq(jobq_wait(q, id_after, 0, &st), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

struct order {
	_Atomic int n;
	int seen[64];
};

struct ordered {
	struct order *o;
	int rank;
};

static jobq_outcome_t record_rank(jobq_ctx_t *ctx, void *arg)
{
	struct ordered *x = arg;
	x->o->seen[atomic_fetch_add(&x->o->n, 1)] = x->rank;
	(void)ctx;
	return JOBQ_DONE;
}

START_TEST(delayed_jobs_start_in_due_order)
{
	jobq_t *q = make(1, 0);
	static struct order ord;
	static struct ordered args[40];
	uint64_t ids[40];
	memset(&ord, 0, sizeof ord);
	/* Delays in a scrambled order: rank r is due at r * 7 ms. */
	for (int i = 0; i < 40; i++) {
		int rank = (i * 17) % 40;
		args[i] = (struct ordered){&ord, rank};
		jobq_job_options_t o;
		jobq_job_options_init(&o);
		o.delay_ms = (unsigned)rank * 7 + 1;
		ck_assert_int_eq(jobq_submit(q, record_rank, &args[i], &o, &ids[i]), 0);
	}
	advance(q, 1000 * MS);
	ck_assert_int_eq(jobq_wait_many(q, ids, 40, 0, 0, NULL), 0);
	ck_assert_int_eq(atomic_load(&ord.n), 40);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(ord.seen[i], i);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(fails_k_times_then_succeeds)
{
	enum { K = 4 };
	jobq_t *q = make(2, 10);
	struct flaky f = {.fails = K, .failure = JOBQ_RETRY};
	jobq_job_options_t o = flaky_opts(&f);
	uint64_t id;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &f, &o, &id), 0);
	for (int attempt = 1; attempt <= K; attempt++) {
		await_state(q, id, JOBQ_SCHEDULED, &st);
		ck_assert_uint_eq(st.attempt, attempt);
		ck_assert_uint_eq(st.max_attempts, 10);
		ck_assert_str_eq(st.error, attempt == 1   ? "transient 1"
					   : attempt == 2 ? "transient 2"
					   : attempt == 3 ? "transient 3"
							  : "transient 4");
		/* Full jitter: within [0, min(cap, base * 2^(attempt-1))] of now. */
		int64_t wait = st.next_run_ns - atomic_load(&clk.real);
		int64_t bound = 100 * MS << (attempt - 1);
		if (bound > 1000 * MS)
			bound = 1000 * MS;
		ck_assert(wait >= 0 && wait <= bound);
		/* Never early: a nanosecond before its time it is still waiting. */
		if (wait > 0) {
			advance(q, wait - 1);
			ck_assert_int_eq(state_of(q, id, &st), JOBQ_SCHEDULED);
			advance(q, 1);
		} else {
			ck_assert_int_eq(jobq_clock_advanced(q), 0);
		}
	}
	ck_assert_int_eq(jobq_wait(q, id, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	ck_assert_uint_eq(st.attempt, K + 1);
	ck_assert_int_eq(atomic_load(&f.runs), K + 1);
	ck_assert_int_eq(atomic_load(&f.callbacks), 1);
	ck_assert_int_eq(atomic_load(&f.frees), 1);
	jobq_stats_t s;
	ck_assert_int_eq(jobq_stats(q, &s), 0);
	ck_assert_uint_eq(s.retried, K);
	ck_assert_uint_eq(s.failed, K);
	ck_assert_uint_eq(s.succeeded, 1);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(backoff_stays_within_bounds)
{
	enum { N = 200 };
	jobq_t *q = make(2, 2);
	static struct flaky f[N];
	uint64_t ids[N];
	memset(f, 0, sizeof f);
	for (int i = 0; i < N; i++) {
		f[i] = (struct flaky){.fails = 1, .failure = JOBQ_RETRY};
		ck_assert_int_eq(jobq_submit(q, flaky_job, &f[i], NULL, &ids[i]), 0);
	}
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < N; i++) {
		jobq_status_t st;
		await_state(q, ids[i], JOBQ_SCHEDULED, &st);
		int64_t wait = st.next_run_ns - atomic_load(&clk.real);
		ck_assert(wait >= 0 && wait <= 100 * MS);
		lo = wait < lo ? wait : lo;
		hi = wait > hi ? wait : hi;
	}
	/* Jittered, not all alike: 200 draws spread over most of [0, 100 ms]. */
	ck_assert(hi - lo > 50 * MS);
	advance(q, 100 * MS);
	ck_assert_int_eq(jobq_wait_many(q, ids, N, 0, 0, NULL), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(job_chooses_its_retry_delay)
{
	jobq_t *q = make(1, 3);
	struct flaky f = {.fails = 1, .failure = JOBQ_RETRY, .retry_after_ms = 250};
	uint64_t id;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &f, NULL, &id), 0);
	await_state(q, id, JOBQ_SCHEDULED, &st);
	ck_assert_int_eq(st.next_run_ns - atomic_load(&clk.real), 250 * MS);
	advance(q, 250 * MS);
	ck_assert_int_eq(jobq_wait(q, id, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

static _Atomic int dead_calls;

static void on_dead(const jobq_status_t *st, void *data)
{
	ck_assert_int_eq(st->state, JOBQ_DEAD);
	(void)data;
	atomic_fetch_add(&dead_calls, 1);
}

START_TEST(fatal_skips_remaining_attempts)
{
	jobq_t *q = make(1, 5);
	struct flaky f = {.fails = 100, .failure = JOBQ_FATAL};
	jobq_job_options_t o = flaky_opts(&f);
	uint64_t id;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &f, &o, &id), 0);
	ck_assert_int_eq(jobq_wait(q, id, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_DEAD);
	ck_assert_uint_eq(st.attempt, 1);
	ck_assert_int_eq(atomic_load(&f.callbacks), 1);
	/* A dead job keeps its argument until it leaves the dead-letter list. */
	ck_assert_int_eq(atomic_load(&f.frees), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&f.frees), 1);
}
END_TEST

START_TEST(dead_letters_list_requeue_purge)
{
	atomic_store(&clk.mono, 0);
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 1;
	o.max_attempts = 2;
	o.backoff.base_ms = 10;
	o.on_dead = on_dead;
	o.clock = fake_now;
	o.clock_data = &clk;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, &o), 0);
	atomic_store(&dead_calls, 0);

	struct flaky a = {.fails = 2, .failure = JOBQ_RETRY};
	struct flaky b = {.fails = 100, .failure = JOBQ_FATAL};
	jobq_job_options_t jo = flaky_opts(&a);
	jo.name = "mailer";
	uint64_t ida, idb;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &a, &jo, &ida), 0);
	await_state(q, ida, JOBQ_SCHEDULED, &st);
	advance(q, 10 * MS);
	ck_assert_int_eq(jobq_wait(q, ida, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_DEAD);
	ck_assert_uint_eq(st.attempt, 2);
	jo = flaky_opts(&b);
	ck_assert_int_eq(jobq_submit(q, flaky_job, &b, &jo, &idb), 0);
	ck_assert_int_eq(jobq_wait(q, idb, 0, &st), 0);
	ck_assert_int_eq(atomic_load(&dead_calls), 2);

	jobq_status_t list[4];
	size_t n = 0;
	ck_assert_int_eq(jobq_dead_list(q, list, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(list[0].id, ida);
	ck_assert_str_eq(list[0].name, "mailer");
	ck_assert_str_eq(list[0].error, "transient 2");
	ck_assert_uint_eq(list[0].attempt, 2);
	ck_assert(list[0].finished_ns >= list[0].created_ns);
	ck_assert_uint_eq(list[1].id, idb);

	/* Requeue: a new job with fresh attempts, same argument; this time it succeeds. */
	uint64_t again;
	ck_assert_int_eq(jobq_dead_requeue(q, ida, &again), 0);
	ck_assert_uint_ne(again, ida);
	ck_assert_int_eq(jobq_wait(q, again, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	ck_assert_str_eq(st.name, "mailer");
	ck_assert_uint_eq(st.attempt, 1);
	ck_assert_int_eq(atomic_load(&a.frees), 1);
	ck_assert_int_eq(atomic_load(&a.callbacks), 2); /* once per job: the dead one, the new */
	ck_assert_int_eq(state_of(q, ida, &st), JOBQ_DEAD);
	ck_assert_int_eq(jobq_dead_requeue(q, ida, NULL), JOBQ_ENOENT);

	ck_assert_int_eq(jobq_dead_purge(q, 999), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_dead_purge(q, idb), 0);
	ck_assert_int_eq(atomic_load(&b.frees), 1);
	ck_assert_int_eq(jobq_dead_list(q, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(jobq_dead_list(NULL, NULL, 0, &n), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&a.frees) + atomic_load(&b.frees), 2);
}
END_TEST

/* Submits a job that succeeds at once and waits for it to settle; returns its id. */
static uint64_t run_one(jobq_t *q)
{
	static struct flaky never_fails; /* fails 0 times */
	uint64_t id;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &never_fails, NULL, &id), 0);
	ck_assert_int_eq(jobq_wait(q, id, 0, NULL), 0);
	return id;
}

START_TEST(records_are_forgotten_past_their_age_on_the_monotonic_clock)
{
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 1;
	o.retain_count = 100; /* no slack for a worker's batch: retained as each job ends */
	o.retain_ms = 1000;
	jobq_t *q = make_on_clock(&o);
	jobq_status_t st;

	uint64_t a = run_one(q);
	advance(q, 600 * MS);
	/* One worker: it retained each job before it ran the next, so a and b are retained. */
	uint64_t b = run_one(q);
	run_one(q);
	/* A wall-clock step ages nothing: a is 600 ms old, not 2.6 s. */
	step(q, 2000 * MS);
	ck_assert_int_eq(jobq_status(q, a, &st), 0);
	advance(q, 500 * MS);
	ck_assert_int_eq(jobq_status(q, a, &st), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_status(q, b, &st), 0);
	advance(q, 600 * MS);
	ck_assert_int_eq(jobq_status(q, b, &st), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(dead_letter_list_is_bounded)
{
	enum { N = 10 };
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 1;
	o.dead_max = 3;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, &o), 0);
	static struct flaky f[N];
	uint64_t ids[N];
	memset(f, 0, sizeof f);
	for (int i = 0; i < N; i++) {
		f[i] = (struct flaky){.fails = 1, .failure = JOBQ_FATAL};
		jobq_job_options_t jo = flaky_opts(&f[i]);
		ck_assert_int_eq(jobq_submit(q, flaky_job, &f[i], &jo, &ids[i]), 0);
		ck_assert_int_eq(jobq_wait(q, ids[i], 0, NULL), 0);
	}
	jobq_stats_t s;
	ck_assert_int_eq(jobq_stats(q, &s), 0);
	ck_assert_uint_eq(s.dead, N);
	ck_assert_uint_eq(s.dead_listed, 3);
	ck_assert_uint_eq(s.dead_dropped, N - 3);
	jobq_status_t list[N];
	size_t n;
	ck_assert_int_eq(jobq_dead_list(q, list, N, &n), 0);
	ck_assert_uint_eq(n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(list[i].id, ids[N - 3 + i]);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(atomic_load(&f[i].frees), i < N - 3);
	ck_assert_int_eq(jobq_dead_purge(q, 0), 0);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(atomic_load(&f[i].frees), 1);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

enum { RACERS = 8 };

struct racer {
	jobq_t *q;
	pthread_barrier_t *go;
	struct flaky *f;
	int rc;
	uint64_t id;
};

static void *race_submit(void *arg)
{
	struct racer *r = arg;
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.key = "order-42";
	pthread_barrier_wait(r->go);
	r->rc = jobq_submit(r->q, flaky_job, r->f, &o, &r->id);
	return NULL;
}

START_TEST(one_key_one_run)
{
	jobq_options_t opts;
	jobq_options_init(&opts);
	opts.key_window_ms = 5000;
	opts.clock = fake_now;
	opts.clock_data = &clk;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, &opts), 0);
	struct flaky f = {0};
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, RACERS);
	struct racer r[RACERS];
	pthread_t t[RACERS];
	for (int i = 0; i < RACERS; i++) {
		r[i] = (struct racer){q, &go, &f, 0, 0};
		ck_assert_int_eq(pthread_create(&t[i], NULL, race_submit, &r[i]), 0);
	}
	int won = 0;
	uint64_t id = 0;
	for (int i = 0; i < RACERS; i++) {
		pthread_join(t[i], NULL);
		if (r[i].rc == 0) {
			won++;
			id = r[i].id;
		} else {
			ck_assert_int_eq(r[i].rc, JOBQ_EEXIST);
		}
	}
	ck_assert_int_eq(won, 1);
	for (int i = 0; i < RACERS; i++)
		ck_assert_uint_eq(r[i].id, id);
	ck_assert_int_eq(jobq_wait(q, id, 0, NULL), 0);
	ck_assert_int_eq(atomic_load(&f.runs), 1);

	/* Ended, but within the window: still taken. Past it: free again. */
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.key = "order-42";
	uint64_t again = 0;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &f, &o, &again), JOBQ_EEXIST);
	ck_assert_uint_eq(again, id);
	atomic_fetch_add(&clk.mono, 5000 * MS);
	ck_assert_int_eq(jobq_submit(q, flaky_job, &f, &o, &again), 0);
	ck_assert_uint_ne(again, id);
	ck_assert_int_eq(jobq_wait(q, again, 0, NULL), 0);
	ck_assert_int_eq(atomic_load(&f.runs), 2);
	ck_assert_int_eq(jobq_destroy(q), 0);
	pthread_barrier_destroy(&go);
}
END_TEST

struct slow {
	struct latch started;
	int seen;
};

static jobq_outcome_t until_stopped(jobq_ctx_t *ctx, void *arg)
{
	struct slow *s = arg;
	latch_arrive(&s->started);
	while (!(s->seen = jobq_ctx_cancelled(ctx)))
		sched_yield();
	return JOBQ_RETRY;
}

static void soft_timeout(int retry_timeouts, jobq_state_t after)
{
	jobq_t *q = make(1, 3);
	struct slow s = {.seen = 0};
	latch_init(&s.started, 1);
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.timeout_ms = 100;
	o.retry_timeouts = retry_timeouts;
	uint64_t id;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, until_stopped, &s, &o, &id), 0);
	latch_wait(&s.started);
	advance(q, 100 * MS);
	await_state(q, id, after, &st);
	ck_assert_int_eq(s.seen, JOBQ_ETIMEDOUT);
	ck_assert_int_eq(st.code, JOBQ_ETIMEDOUT);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_CANCEL, 0), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	latch_destroy(&s.started);
}

START_TEST(timeout_kills_when_not_retryable)
{
	soft_timeout(0, JOBQ_DEAD);
}
END_TEST

START_TEST(timeout_retries_when_asked)
{
	soft_timeout(1, JOBQ_SCHEDULED);
}
END_TEST

START_TEST(cancel_scheduled_job)
{
	jobq_t *q = make(1, 0);
	struct flaky f = {0};
	jobq_job_options_t o = flaky_opts(&f);
	o.delay_ms = 50;
	uint64_t id;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &f, &o, &id), 0);
	ck_assert_int_eq(jobq_cancel(q, id), 0);
	ck_assert_int_eq(state_of(q, id, &st), JOBQ_CANCELLED);
	ck_assert_int_eq(atomic_load(&f.callbacks), 1);
	ck_assert_int_eq(atomic_load(&f.frees), 1);
	jobq_stats_t s;
	ck_assert_int_eq(jobq_stats(q, &s), 0);
	ck_assert_uint_eq(s.scheduled, 0);
	advance(q, 100 * MS);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(atomic_load(&f.runs), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(drain_waits_for_scheduled_cancel_ends_them)
{
	jobq_t *q = make(1, 0);
	struct flaky a = {0}, b = {0};
	jobq_job_options_t o = flaky_opts(&a);
	o.delay_ms = 500;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &a, &o, NULL), 0);
	o = flaky_opts(&b);
	o.delay_ms = 60000;
	ck_assert_int_eq(jobq_submit(q, flaky_job, &b, &o, NULL), 0);
	/* Nothing is due yet on the test's clock, so a drain cannot finish. */
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 10), JOBQ_ETIMEDOUT);
	advance(q, 500 * MS);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 10), JOBQ_ETIMEDOUT);
	ck_assert_int_eq(atomic_load(&a.runs), 1);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_CANCEL, 0), 0);
	ck_assert_int_eq(atomic_load(&b.runs), 0);
	ck_assert_int_eq(b.final, JOBQ_CANCELLED);
	ck_assert_int_eq(atomic_load(&b.frees), 1);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(bad_retry_options)
{
	jobq_t *q = make(1, 0);
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.backoff.factor = 0.5;
	ck_assert_int_eq(jobq_submit(q, flaky_job, NULL, &o, NULL), JOBQ_EINVAL);
	jobq_job_options_init(&o);
	o.max_attempts = 70000;
	ck_assert_int_eq(jobq_submit(q, flaky_job, NULL, &o, NULL), JOBQ_EINVAL);
	jobq_job_options_init(&o);
	o.run_at_ns = -1;
	ck_assert_int_eq(jobq_submit(q, flaky_job, NULL, &o, NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_ctx_retry_after(NULL, 5), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_clock_advanced(NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_dead_requeue(q, 0, NULL), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_dead_requeue(NULL, 1, NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_dead_purge(NULL, 1), JOBQ_EINVAL);
	jobq_options_t eo;
	jobq_options_init(&eo);
	eo.backoff.factor = 0.1;
	jobq_t *bad = NULL;
	ck_assert_int_eq(jobq_create(&bad, &eo), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("retry");
	TCase *tc = tcase_create("timer");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, delayed_job_waits_for_its_time);
	tcase_add_test(tc, run_at_follows_wall_clock_steps);
	tcase_add_test(tc, delayed_jobs_start_in_due_order);
	tcase_add_test(tc, cancel_scheduled_job);
	tcase_add_test(tc, drain_waits_for_scheduled_cancel_ends_them);
	suite_add_tcase(s, tc);
	tc = tcase_create("retries");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fails_k_times_then_succeeds);
	tcase_add_test(tc, backoff_stays_within_bounds);
	tcase_add_test(tc, job_chooses_its_retry_delay);
	tcase_add_test(tc, fatal_skips_remaining_attempts);
	tcase_add_test(tc, timeout_kills_when_not_retryable);
	tcase_add_test(tc, timeout_retries_when_asked);
	tcase_add_test(tc, bad_retry_options);
	suite_add_tcase(s, tc);
	tc = tcase_create("dead letters and keys");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dead_letters_list_requeue_purge);
	tcase_add_test(tc, dead_letter_list_is_bounded);
	tcase_add_test(tc, one_key_one_run);
	tcase_add_test(tc, records_are_forgotten_past_their_age_on_the_monotonic_clock);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
