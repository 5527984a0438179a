/*
 * test_cron_sched.c: cron schedules (jobq_cron_add and friends) on a clock the test moves
 * (jobq_options_t.clock): firing times across DST changes, the overlap, misfire and jitter
 * policies, wall-clock steps, pause/resume/remove, firings as ordinary jobs (retried,
 * dead-lettered), bad inputs, the end of schedules at shutdown, and 10,000 schedules at once.
 * No test sleeps; a firing happens in the test's own thread, inside jobq_clock_advanced.
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
#define SEC 1000000000LL

/* RFC 3339 text to CLOCK_REALTIME nanoseconds. */
static int64_t at(const char *text)
{
	int64_t t;
	bool frac;
	ck_assert_msg(jobq__rfc3339_parse(text, &t, &frac) == 0, "time %s", text);
	return t * SEC;
}

static jobq_t *make_at(const char *start, unsigned workers)
{
	atomic_store(&clk.mono, 1000 * SEC);
	atomic_store(&clk.real, at(start));
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = workers;
	o.retain_count = 50000;
	o.clock = fake_now;
	o.clock_data = &clk;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, &o), 0);
	return q;
}

/* Moves both clocks to wall-clock time t. */
static void advance_to(jobq_t *q, int64_t t)
{
	advance(q, t - atomic_load(&clk.real));
}

static jobq_cron_info_t info_of(jobq_t *q, uint64_t id)
{
	jobq_cron_info_t in;
	ck_assert_int_eq(jobq_cron_info(q, id, &in), 0);
	return in;
}

/* What the jobs of a schedule do: count runs, optionally wait at a gate, fail some times. */
struct work {
	_Atomic int runs;
	_Atomic int frees;
	_Atomic int done_calls;
	struct latch gate; /* when gated, each run waits for it to open */
	int gated;
	jobq_outcome_t outcome;
};

static jobq_outcome_t work_job(jobq_ctx_t *ctx, void *arg)
{
	struct work *w = arg;
	(void)ctx;
	atomic_fetch_add(&w->runs, 1);
	if (w->gated)
		latch_wait(&w->gate);
	return w->outcome;
}

static void work_free(void *arg)
{
	struct work *w = arg;
	atomic_fetch_add(&w->frees, 1);
}

static void work_done(const jobq_status_t *st, void *data)
{
	struct work *w = data;
	(void)st;
	atomic_fetch_add(&w->done_calls, 1);
}

static void work_init(struct work *w, int gated)
{
	memset(w, 0, sizeof *w);
	latch_init(&w->gate, 1);
	w->gated = gated;
	w->outcome = JOBQ_DONE;
}

static uint64_t add(jobq_t *q, const char *expr, struct work *w, const jobq_cron_options_t *o)
{
	uint64_t id = 0;
	char err[160];
	int rc = jobq_cron_add(q, expr, work_job, w, o, &id, err, sizeof err);
	ck_assert_msg(rc == 0, "%s: %s", expr, err);
	ck_assert_uint_ne(id, 0);
	return id;
}

/*
 * Moves the clock to the schedule's next time n times; each time exactly one firing must happen
 * at that nominal time, with a new job that succeeds. Checks the times against want[].
 */
static void follow(jobq_t *q, uint64_t id, const char *const *want, int n)
{
	uint64_t last = info_of(q, id).last_job;
	for (int i = 0; i < n; i++) {
		jobq_cron_info_t in = info_of(q, id);
		ck_assert_msg(in.next_ns == at(want[i]), "firing %d: next %lld, want %s", i,
			      (long long)(in.next_ns / SEC), want[i]);
		advance_to(q, in.next_ns - 1);
		ck_assert_uint_eq(info_of(q, id).fired, in.fired);
		advance(q, 1);
		in = info_of(q, id);
		ck_assert_int_eq(in.last_fire_ns, at(want[i]));
		ck_assert_uint_ne(in.last_job, last);
		last = in.last_job;
		jobq_status_t st;
		ck_assert_int_eq(jobq_wait(q, last, 0, &st), 0);
		ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	}
}

START_TEST(fires_at_its_times_as_ordinary_jobs)
{
	jobq_t *q = make_at("2024-01-01T00:30:00Z", 2);
	struct work w;
	work_init(&w, 0);
	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.name = "hourly";
	jo.on_done = work_done;
	jo.on_done_data = &w;
	jo.key = "ignored";
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.job = &jo;
	uint64_t id = add(q, "0 * * * *", &w, &o);
	ck_assert_uint_eq(id, 1);
	jobq_cron_info_t in = info_of(q, id);
	ck_assert_str_eq(in.expr, "0 * * * *");
	ck_assert_str_eq(in.zone, "UTC");
	ck_assert_uint_eq(in.fired, 0);
	ck_assert_uint_eq(in.last_job, 0);
	static const char *const want[] = {"2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z",
					   "2024-01-01T03:00:00Z"};
	follow(q, id, want, 3);
	in = info_of(q, id);
	ck_assert_uint_eq(in.fired, 3);
	ck_assert_uint_eq(in.skipped, 0);
	ck_assert_int_eq(in.next_ns, at("2024-01-01T04:00:00Z"));
	jobq_status_t st;
	ck_assert_int_eq(jobq_status(q, in.last_job, &st), 0);
	ck_assert_str_eq(st.name, "hourly");
	ck_assert_int_eq(atomic_load(&w.runs), 3);
	/* The template's callback runs once per firing; the key is ignored (all three ran). */
	ck_assert_int_eq(atomic_load(&w.done_calls), 3);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

/* Follows expr in zone from start through the fire times want[0..n-1], on its own executor. */
static void check_times(const char *start, const char *zone, const char *expr,
			const char *const *want, int n)
{
	jobq_t *q = make_at(start, 2);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.zone = zone;
	uint64_t id = add(q, expr, &w, &o);
	follow(q, id, want, n);
	jobq_cron_info_t in = info_of(q, id);
	ck_assert_str_eq(in.zone, zone);
	ck_assert_uint_eq(in.fired, (uint64_t)n);
	ck_assert_uint_eq(in.skipped, 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&w.runs), n);
}

START_TEST(new_york_spring_gap)
{
	/* A fixed-time job in the gap runs once, at the first instant after it. */
	static const char *const fixed[] = {"2024-03-10T03:00:00-04:00",
					    "2024-03-11T02:30:00-04:00"};
	check_times("2024-03-09T12:00:00-05:00", "America/New_York", "30 2 * * *", fixed, 2);
	/* A wildcard job has no runs in the gap. */
	static const char *const wild[] = {"2024-03-10T01:30:00-05:00",
					   "2024-03-10T03:30:00-04:00",
					   "2024-03-10T04:30:00-04:00"};
	check_times("2024-03-10T00:50:00-05:00", "America/New_York", "30 * * * *", wild, 3);
}
END_TEST

START_TEST(new_york_fall_overlap)
{
	/* A fixed-time job runs once, on the first pass of 01:xx. */
	static const char *const fixed[] = {"2024-11-03T01:30:00-04:00",
					    "2024-11-04T01:30:00-05:00"};
	check_times("2024-11-02T12:00:00-04:00", "America/New_York", "30 1 * * *", fixed, 2);
	/* A wildcard job runs on both passes. */
	static const char *const wild[] = {
		"2024-11-03T01:15:00-04:00", "2024-11-03T01:45:00-04:00",
		"2024-11-03T01:15:00-05:00", "2024-11-03T01:45:00-05:00",
		"2024-11-03T02:15:00-05:00"};
	check_times("2024-11-03T00:50:00-04:00", "America/New_York", "15,45 * * * *", wild, 5);
}
END_TEST

/* Fires schedule id's next time, leaving its job gated; returns the job id. */
static uint64_t fire_next(jobq_t *q, uint64_t id)
{
	advance_to(q, info_of(q, id).next_ns);
	return info_of(q, id).last_job;
}

START_TEST(overlap_skip)
{
	jobq_t *q = make_at("2024-01-01T00:00:30Z", 2);
	struct work w;
	work_init(&w, 1);
	uint64_t id = add(q, "* * * * *", &w, NULL);
	uint64_t first = fire_next(q, id);
	await_state(q, first, JOBQ_RUNNING, NULL);
	advance(q, 60 * SEC);
	jobq_cron_info_t in = info_of(q, id);
	ck_assert_uint_eq(in.fired, 1);
	ck_assert_uint_eq(in.skipped, 1);
	ck_assert_uint_eq(in.last_job, first);
	latch_arrive(&w.gate);
	ck_assert_int_eq(jobq_wait(q, first, 0, NULL), 0);
	uint64_t second = fire_next(q, id);
	ck_assert_uint_ne(second, first);
	ck_assert_uint_eq(info_of(q, id).fired, 2);
	ck_assert_int_eq(jobq_wait(q, second, 0, NULL), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(overlap_allow)
{
	jobq_t *q = make_at("2024-01-01T00:00:30Z", 2);
	struct work w;
	work_init(&w, 1);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.overlap = JOBQ_OVERLAP_ALLOW;
	uint64_t id = add(q, "* * * * *", &w, &o);
	uint64_t first = fire_next(q, id);
	await_state(q, first, JOBQ_RUNNING, NULL);
	uint64_t second = fire_next(q, id);
	ck_assert_uint_ne(second, first);
	/* Both run at once, on the two workers. */
	await_state(q, second, JOBQ_RUNNING, NULL);
	jobq_cron_info_t in = info_of(q, id);
	ck_assert_uint_eq(in.fired, 2);
	ck_assert_uint_eq(in.skipped, 0);
	latch_arrive(&w.gate);
	ck_assert_int_eq(jobq_wait(q, first, 0, NULL), 0);
	ck_assert_int_eq(jobq_wait(q, second, 0, NULL), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(overlap_queue_one)
{
	jobq_t *q = make_at("2024-01-01T00:00:30Z", 2);
	struct work w;
	work_init(&w, 1);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.overlap = JOBQ_OVERLAP_QUEUE_ONE;
	uint64_t id = add(q, "* * * * *", &w, &o);
	uint64_t first = fire_next(q, id);
	await_state(q, first, JOBQ_RUNNING, NULL);
	int64_t held = info_of(q, id).next_ns;
	advance(q, 60 * SEC); /* held */
	advance(q, 60 * SEC); /* one is already held: skipped */
	jobq_cron_info_t in = info_of(q, id);
	ck_assert_uint_eq(in.fired, 1);
	ck_assert_uint_eq(in.skipped, 1);
	ck_assert_uint_eq(in.last_job, first);
	/* The first job's end submits the held firing before jobq_wait returns. */
	latch_arrive(&w.gate);
	ck_assert_int_eq(jobq_wait(q, first, 0, NULL), 0);
	in = info_of(q, id);
	ck_assert_uint_eq(in.fired, 2);
	ck_assert_uint_ne(in.last_job, first);
	ck_assert_int_eq(in.last_fire_ns, held);
	ck_assert_int_eq(jobq_wait(q, in.last_job, 0, NULL), 0);
	ck_assert_int_eq(atomic_load(&w.runs), 2);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(misfire_within_and_beyond_grace)
{
	jobq_t *q = make_at("2024-01-01T00:00:30Z", 2);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t once, skip;
	jobq_cron_options_init(&once);
	jobq_cron_options_init(&skip);
	skip.misfire = JOBQ_MISFIRE_SKIP;
	uint64_t a = add(q, "* * * * *", &w, &once);
	uint64_t b = add(q, "* * * * *", &w, &skip);
	/* 30 s late, within the default 60 s grace: both fire normally, and their next time
	 * follows the nominal one. */
	advance_to(q, at("2024-01-01T00:01:30Z"));
	for (uint64_t id = a; id <= b; id++) {
		jobq_cron_info_t in = info_of(q, id);
		ck_assert_uint_eq(in.fired, 1);
		ck_assert_int_eq(in.last_fire_ns, at("2024-01-01T00:01:00Z"));
		ck_assert_int_eq(in.next_ns, at("2024-01-01T00:02:00Z"));
		ck_assert_int_eq(jobq_wait(q, in.last_job, 0, NULL), 0);
	}
	/* Five minutes late: fire once now for the missed times, or skip; both go on from the
	 * first time after now. */
	advance_to(q, at("2024-01-01T00:07:10Z"));
	jobq_cron_info_t in = info_of(q, a);
	ck_assert_uint_eq(in.fired, 2);
	ck_assert_uint_eq(in.skipped, 0);
	ck_assert_int_eq(in.last_fire_ns, at("2024-01-01T00:02:00Z"));
	ck_assert_int_eq(in.next_ns, at("2024-01-01T00:08:00Z"));
	ck_assert_int_eq(jobq_wait(q, in.last_job, 0, NULL), 0);
	in = info_of(q, b);
	ck_assert_uint_eq(in.fired, 1);
	ck_assert_uint_eq(in.skipped, 1);
	ck_assert_int_eq(in.next_ns, at("2024-01-01T00:08:00Z"));
	ck_assert_int_eq(atomic_load(&w.runs), 3);
	/* A shorter grace: 2 s late is beyond 1 s. */
	skip.grace_ms = 1000;
	uint64_t c = add(q, "* * * * *", &w, &skip);
	advance_to(q, at("2024-01-01T00:08:02Z"));
	in = info_of(q, c);
	ck_assert_uint_eq(in.fired, 0);
	ck_assert_uint_eq(in.skipped, 1);
	ck_assert_int_eq(in.next_ns, at("2024-01-01T00:09:00Z"));
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(wall_clock_steps_recompute)
{
	jobq_t *q = make_at("2024-01-01T10:30:00Z", 2);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t skip;
	jobq_cron_options_init(&skip);
	skip.misfire = JOBQ_MISFIRE_SKIP;
	uint64_t a = add(q, "0 * * * *", &w, NULL);
	uint64_t b = add(q, "0 * * * *", &w, &skip);
	ck_assert_int_eq(info_of(q, a).next_ns, at("2024-01-01T11:00:00Z"));
	/* Back two hours: the next time follows the wall clock back, nothing fires. */
	step(q, -2 * 3600 * SEC);
	ck_assert_int_eq(info_of(q, a).next_ns, at("2024-01-01T09:00:00Z"));
	ck_assert_int_eq(info_of(q, b).next_ns, at("2024-01-01T09:00:00Z"));
	ck_assert_uint_eq(info_of(q, a).fired, 0);
	/* Forward three hours (08:30 to 11:30): 09:00 is 2.5 h late; fire once or skip. */
	step(q, 3 * 3600 * SEC);
	jobq_cron_info_t in = info_of(q, a);
	ck_assert_uint_eq(in.fired, 1);
	ck_assert_int_eq(in.last_fire_ns, at("2024-01-01T09:00:00Z"));
	ck_assert_int_eq(in.next_ns, at("2024-01-01T12:00:00Z"));
	ck_assert_int_eq(jobq_wait(q, in.last_job, 0, NULL), 0);
	in = info_of(q, b);
	ck_assert_uint_eq(in.fired, 0);
	ck_assert_uint_eq(in.skipped, 1);
	ck_assert_int_eq(in.next_ns, at("2024-01-01T12:00:00Z"));
	ck_assert_int_eq(atomic_load(&w.runs), 1);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(pause_resume_remove)
{
	jobq_t *q = make_at("2024-01-01T00:30:00Z", 2);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.arg_free = work_free;
	uint64_t id = add(q, "0 * * * *", &w, &o);
	ck_assert_int_eq(jobq_cron_pause(q, id), 0);
	ck_assert_int_eq(jobq_cron_pause(q, id), 0);
	jobq_cron_info_t in = info_of(q, id);
	ck_assert_int_eq(in.paused, 1);
	ck_assert_int_eq(in.next_ns, 0);
	advance(q, 3 * 3600 * SEC); /* 03:30: three fire times pass */
	in = info_of(q, id);
	ck_assert_uint_eq(in.fired, 0);
	ck_assert_uint_eq(in.skipped, 0);
	/* Resumed: from the first fire time after now, not the missed ones. */
	ck_assert_int_eq(jobq_cron_resume(q, id), 0);
	ck_assert_int_eq(jobq_cron_resume(q, id), 0);
	in = info_of(q, id);
	ck_assert_int_eq(in.paused, 0);
	ck_assert_int_eq(in.next_ns, at("2024-01-01T04:00:00Z"));
	advance_to(q, in.next_ns);
	in = info_of(q, id);
	ck_assert_uint_eq(in.fired, 1);
	ck_assert_int_eq(jobq_wait(q, in.last_job, 0, NULL), 0);
	/* Removed: arg_free runs once, at once (no firing job holds arg), nothing fires. */
	ck_assert_int_eq(jobq_cron_remove(q, id), 0);
	ck_assert_int_eq(atomic_load(&w.frees), 1);
	ck_assert_int_eq(jobq_cron_info(q, id, &in), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_cron_remove(q, id), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_cron_pause(q, id), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_cron_resume(q, id), JOBQ_ENOENT);
	advance(q, 3 * 3600 * SEC);
	ck_assert_int_eq(atomic_load(&w.runs), 1);
	/* Ids are never reused. */
	uint64_t next = add(q, "0 * * * *", &w, &o);
	ck_assert_uint_eq(next, id + 1);
	ck_assert_int_eq(jobq_destroy(q), 0);
	/* The executor's end frees the live schedule's arg: once each. */
	ck_assert_int_eq(atomic_load(&w.frees), 2);
}
END_TEST

START_TEST(jitter_never_past_next_time)
{
	jobq_t *q = make_at("2024-01-01T00:00:01Z", 2);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.jitter_ms = 60000; /* far more than the 5 s between fire times */
	o.overlap = JOBQ_OVERLAP_ALLOW;
	uint64_t id = add(q, "*/5 * * * * *", &w, &o);
	int delayed = 0;
	int64_t lo = INT64_MAX, hi = 0;
	for (int i = 0; i < 100; i++) {
		int64_t nominal = info_of(q, id).next_ns;
		advance_to(q, nominal);
		jobq_cron_info_t in = info_of(q, id);
		ck_assert_int_eq(in.last_fire_ns, nominal);
		ck_assert_int_eq(in.next_ns, nominal + 5 * SEC);
		jobq_status_t st;
		ck_assert_int_eq(jobq_status(q, in.last_job, &st), 0);
		if (st.state != JOBQ_SCHEDULED)
			continue;
		delayed++;
		ck_assert(st.next_run_ns > nominal && st.next_run_ns < in.next_ns);
		int64_t d = st.next_run_ns - nominal;
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	/* Random: almost every firing is delayed, and the delays spread over the room. */
	ck_assert_int_ge(delayed, 90);
	ck_assert(hi - lo > 2 * SEC);
	/* The last delayed firings come due; then a drain has nothing left to wait for. */
	ck_assert_int_eq(jobq_cron_remove(q, id), 0);
	advance(q, 10 * SEC);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(atomic_load(&w.runs), 100);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(firings_retry_and_die)
{
	jobq_t *q = make_at("2024-01-01T00:30:00Z", 1);
	struct work w;
	work_init(&w, 0);
	w.outcome = JOBQ_RETRY;
	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.name = "report";
	jo.max_attempts = 3;
	jo.backoff = (jobq_backoff_t){.base_ms = 100, .cap_ms = 100, .factor = 1};
	jo.on_done = work_done;
	jo.on_done_data = &w;
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.job = &jo;
	o.arg_free = work_free;
	uint64_t id = add(q, "0 * * * *", &w, &o);
	uint64_t jobs[2];
	for (int k = 0; k < 2; k++) {
		jobs[k] = fire_next(q, id);
		jobq_status_t st;
		for (int attempt = 1; attempt < 3; attempt++) {
			await_state(q, jobs[k], JOBQ_SCHEDULED, NULL);
			advance(q, 100 * MS);
		}
		ck_assert_int_eq(jobq_wait(q, jobs[k], 0, &st), 0);
		ck_assert_int_eq(st.state, JOBQ_DEAD);
		ck_assert_uint_eq(st.attempt, 3);
		ck_assert_str_eq(st.name, "report");
	}
	ck_assert_uint_ne(jobs[0], jobs[1]);
	ck_assert_int_eq(atomic_load(&w.runs), 6);
	ck_assert_int_eq(atomic_load(&w.done_calls), 2);
	jobq_status_t dead[4];
	size_t n;
	ck_assert_int_eq(jobq_dead_list(q, dead, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(dead[0].id, jobs[0]);
	ck_assert_uint_eq(dead[1].id, jobs[1]);
	/* A dead firing may be requeued, so it keeps arg alive after the schedule is gone. */
	ck_assert_int_eq(jobq_cron_remove(q, id), 0);
	ck_assert_int_eq(atomic_load(&w.frees), 0);
	ck_assert_int_eq(jobq_dead_purge(q, jobs[0]), 0);
	ck_assert_int_eq(atomic_load(&w.frees), 0);
	ck_assert_int_eq(jobq_dead_purge(q, jobs[1]), 0);
	ck_assert_int_eq(atomic_load(&w.frees), 1);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&w.frees), 1);
}
END_TEST

START_TEST(bad_inputs)
{
	jobq_t *q = make_at("2024-01-01T00:30:00Z", 1);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.arg_free = work_free;
	char err[160];
	uint64_t id = 77;
	ck_assert_int_eq(jobq_cron_add(NULL, "* * * * *", work_job, &w, &o, &id, err, sizeof err),
			 JOBQ_EINVAL);
	ck_assert_str_eq(err, jobq_strerror(JOBQ_EINVAL));
	ck_assert_int_eq(jobq_cron_add(q, NULL, work_job, &w, &o, &id, NULL, 0), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_add(q, "* * * * *", NULL, &w, &o, &id, NULL, 0), JOBQ_EINVAL);
	o.overlap = (jobq_overlap_t)7;
	ck_assert_int_eq(jobq_cron_add(q, "* * * * *", work_job, &w, &o, &id, NULL, 0),
			 JOBQ_EINVAL);
	o.overlap = JOBQ_OVERLAP_SKIP;
	o.misfire = (jobq_misfire_t)-1;
	ck_assert_int_eq(jobq_cron_add(q, "* * * * *", work_job, &w, &o, &id, NULL, 0),
			 JOBQ_EINVAL);
	o.misfire = JOBQ_MISFIRE_FIRE_ONCE;
	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.priority = (jobq_priority_t)9;
	o.job = &jo;
	ck_assert_int_eq(jobq_cron_add(q, "* * * * *", work_job, &w, &o, &id, NULL, 0),
			 JOBQ_EINVAL);
	o.job = NULL;
	ck_assert_int_eq(jobq_cron_add(q, "0 24 * * *", work_job, &w, &o, &id, err, sizeof err),
			 JOBQ_ECRON);
	ck_assert_str_eq(err, "invalid cron expression at column 3 (hour): value 24 out of "
			      "range 0-23");
	char tiny[8];
	ck_assert_int_eq(jobq_cron_add(q, "* * *", work_job, &w, &o, &id, tiny, sizeof tiny),
			 JOBQ_ECRON);
	ck_assert_uint_eq(strlen(tiny), sizeof tiny - 1);
	o.zone = "Mars/Olympus_Mons";
	ck_assert_int_eq(jobq_cron_add(q, "* * * * *", work_job, &w, &o, &id, err, sizeof err),
			 JOBQ_EZONE);
	ck_assert_str_eq(err, jobq_strerror(JOBQ_EZONE));
	o.zone = NULL;
	ck_assert_uint_eq(id, 77);
	ck_assert_int_eq(atomic_load(&w.frees), 0);
	jobq_cron_info_t in;
	size_t n = 9;
	ck_assert_int_eq(jobq_cron_info(q, 1, &in), JOBQ_ENOENT);
	ck_assert_int_eq(jobq_cron_info(NULL, 1, &in), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_info(q, 1, NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_list(q, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(jobq_cron_list(q, NULL, 1, &n), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_remove(NULL, 1), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_pause(NULL, 1), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_resume(NULL, 1), JOBQ_EINVAL);
	/* Failed adds took no id: the first schedule is 1. An expression that never fires is
	 * accepted and has no next time. */
	ck_assert_int_eq(jobq_cron_add(q, "0 0 30 2 *", work_job, &w, &o, &id, NULL, 0), 0);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(info_of(q, id).next_ns, 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&w.frees), 1);
}
END_TEST

START_TEST(shutdown_ends_schedules)
{
	jobq_t *q = make_at("2024-01-01T00:30:00Z", 1);
	struct work w;
	work_init(&w, 0);
	uint64_t a = add(q, "* * * * * *", &w, NULL);
	uint64_t b = add(q, "0 * * * *", &w, NULL);
	jobq_stats_t s;
	ck_assert_int_eq(jobq_stats(q, &s), 0);
	ck_assert_uint_eq(s.scheduled, 2);
	/* A drain with recurring schedules returns: they end. */
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(jobq_stats(q, &s), 0);
	ck_assert_uint_eq(s.scheduled, 0);
	uint64_t id;
	ck_assert_int_eq(jobq_cron_add(q, "* * * * *", work_job, &w, NULL, &id, NULL, 0),
			 JOBQ_ECLOSED);
	ck_assert_int_eq(jobq_cron_pause(q, a), JOBQ_ECLOSED);
	ck_assert_int_eq(jobq_cron_resume(q, a), JOBQ_ECLOSED);
	jobq_cron_info_t list[4];
	size_t n;
	ck_assert_int_eq(jobq_cron_list(q, list, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(list[0].id, a);
	ck_assert_uint_eq(list[1].id, b);
	ck_assert_int_eq(list[0].next_ns, 0);
	advance(q, 3600 * SEC);
	ck_assert_int_eq(atomic_load(&w.runs), 0);
	ck_assert_int_eq(jobq_cron_remove(q, a), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(list_in_id_order)
{
	jobq_t *q = make_at("2024-01-01T00:30:00Z", 1);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.zone = "Europe/Berlin";
	for (int i = 0; i < 5; i++)
		add(q, i % 2 ? "0 2 * * *" : "*/5 * * * *", &w, &o);
	ck_assert_int_eq(jobq_cron_remove(q, 2), 0);
	jobq_cron_info_t list[3];
	size_t n;
	ck_assert_int_eq(jobq_cron_list(q, list, 3, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(list[0].id, 1);
	ck_assert_uint_eq(list[1].id, 3);
	ck_assert_uint_eq(list[2].id, 4);
	ck_assert_str_eq(list[2].expr, "0 2 * * *");
	ck_assert_str_eq(list[2].zone, "Europe/Berlin");
	/* 02:00 in Berlin (CET) is 01:00 UTC. */
	ck_assert_int_eq(list[2].next_ns, at("2024-01-01T02:00:00+01:00"));
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

START_TEST(ten_thousand_schedules_fire_once)
{
	enum { N = 10000 };
	jobq_t *q = make_at("2024-01-01T00:00:30Z", 4);
	struct work w;
	work_init(&w, 0);
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	for (int i = 0; i < N; i++) {
		o.zone = i % 3 ? NULL : "Europe/Berlin";
		add(q, i % 2 ? "* * * * *" : "0 * * * * *", &w, &o);
	}
	advance(q, 60 * SEC);
	static jobq_cron_info_t list[N];
	static uint64_t jobs[N];
	size_t n;
	ck_assert_int_eq(jobq_cron_list(q, list, N, &n), 0);
	ck_assert_uint_eq(n, N);
	for (int i = 0; i < N; i++) {
		ck_assert_uint_eq(list[i].fired, 1);
		ck_assert_int_eq(list[i].last_fire_ns, at("2024-01-01T00:01:00Z"));
		ck_assert_int_eq(list[i].next_ns, at("2024-01-01T00:02:00Z"));
		jobs[i] = list[i].last_job;
	}
	ck_assert_int_eq(jobq_wait_many(q, jobs, N, 0, 0, NULL), 0);
	ck_assert_int_eq(atomic_load(&w.runs), N);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

/*
 * Moves the clock a second at a time while another thread works the schedule API. The ticker
 * stays at most TICKS_AHEAD ticks ahead of the other thread's rounds, so the firings (and the
 * jobs they make) are bounded by the rounds however the threads are scheduled: under valgrind,
 * which runs one thread at a time, a free-running ticker made tens of thousands of firings
 * while the other thread waited for its turn, and the suite ran for over ten minutes.
 */
#define TICKS_AHEAD 4

struct ticker {
	jobq_t *q;
	_Atomic int stop;
	_Atomic int rounds; /* done by the API thread */
};

static void *tick(void *arg)
{
	struct ticker *t = arg;
	for (int ticks = 0; !atomic_load(&t->stop);) {
		if (ticks >= (atomic_load(&t->rounds) + 1) * TICKS_AHEAD) {
			sched_yield();
			continue;
		}
		atomic_fetch_add(&clk.mono, SEC);
		atomic_fetch_add(&clk.real, SEC);
		jobq_clock_advanced(t->q);
		ticks++;
	}
	return NULL;
}

START_TEST(api_races_firings)
{
	enum { ROUNDS = 2000, SLOTS = 16 };
	jobq_t *q = make_at("2024-01-01T00:00:00Z", 2);
	struct work w;
	work_init(&w, 0);
	static const jobq_overlap_t policies[] = {JOBQ_OVERLAP_SKIP, JOBQ_OVERLAP_ALLOW,
						  JOBQ_OVERLAP_QUEUE_ONE};
	jobq_cron_options_t o;
	jobq_cron_options_init(&o);
	o.arg_free = work_free;
	o.jitter_ms = 1500;
	struct ticker t = {.q = q};
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, tick, &t), 0);
	uint64_t ids[SLOTS] = {0};
	int added = 0;
	for (int i = 0; i < ROUNDS; i++) {
		unsigned k = (unsigned)i % SLOTS;
		if (ids[k] && i % 3 == 0) {
			ck_assert_int_eq(jobq_cron_remove(q, ids[k]), 0);
			ids[k] = 0;
		} else if (ids[k]) {
			ck_assert_int_eq(i % 2 ? jobq_cron_pause(q, ids[k])
					       : jobq_cron_resume(q, ids[k]), 0);
		} else {
			o.overlap = policies[i % 3];
			ids[k] = add(q, "* * * * * *", &w, &o);
			added++;
		}
		atomic_store(&t.rounds, i + 1);
	}
	atomic_store(&t.stop, 1);
	pthread_join(th, NULL);
	/* However the races went, the executor still fires a new schedule on time. */
	o.jitter_ms = 0;
	o.overlap = JOBQ_OVERLAP_ALLOW;
	uint64_t last = add(q, "* * * * * *", &w, &o);
	added++;
	atomic_fetch_add(&clk.mono, SEC);
	atomic_fetch_add(&clk.real, SEC);
	ck_assert_int_eq(jobq_clock_advanced(q), 0);
	jobq_cron_info_t info;
	ck_assert_int_eq(jobq_cron_info(q, last, &info), 0);
	ck_assert_uint_ge(info.fired, 1);
	jobq_status_t st;
	ck_assert_int_eq(jobq_wait(q, info.last_job, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&w.frees), added);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("cron_sched");
	TCase *tc = tcase_create("schedules");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, fires_at_its_times_as_ordinary_jobs);
	tcase_add_test(tc, new_york_spring_gap);
	tcase_add_test(tc, new_york_fall_overlap);
	tcase_add_test(tc, overlap_skip);
	tcase_add_test(tc, overlap_allow);
	tcase_add_test(tc, overlap_queue_one);
	tcase_add_test(tc, misfire_within_and_beyond_grace);
	tcase_add_test(tc, wall_clock_steps_recompute);
	tcase_add_test(tc, pause_resume_remove);
	tcase_add_test(tc, jitter_never_past_next_time);
	tcase_add_test(tc, firings_retry_and_die);
	tcase_add_test(tc, bad_inputs);
	tcase_add_test(tc, shutdown_ends_schedules);
	tcase_add_test(tc, list_in_id_order);
	tcase_add_test(tc, ten_thousand_schedules_fire_once);
	tcase_add_test(tc, api_races_firings);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
