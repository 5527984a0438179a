/*
 * test_oom.c: allocation failure. For each call that allocates, fail its 1st, 2nd, ... Nth
 * allocation until the call succeeds without reaching the failure: every failing attempt must
 * return JOBQ_ENOMEM, call nothing it was given and leak nothing (the AddressSanitizer build
 * checks leaks), and the executor must stay fully usable.
 */
#include <stdatomic.h>

#include "alloc.h"
#include "jobq.h"
#include "testutil.h"

static _Atomic int callbacks, frees, runs;

static void on_done(const jobq_status_t *st, void *data)
{
	(void)st;
	(void)data;
	atomic_fetch_add(&callbacks, 1);
}

static void on_free(void *arg)
{
	(void)arg;
	atomic_fetch_add(&frees, 1);
}

static jobq_outcome_t job(jobq_ctx_t *ctx, void *arg)
{
	(void)ctx;
	(void)arg;
	atomic_fetch_add(&runs, 1);
	return JOBQ_DONE;
}

START_TEST(create_sweep)
{
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 2;
	o.capacity = 16;
	unsigned long n;
	for (n = 1;; n++) {
		jobq_t *q = NULL;
		jobq__alloc_fail_nth(n);
		int rc = jobq_create(&q, &o);
		unsigned long made = jobq__alloc_fail_nth(0);
		if (rc == 0) {
			ck_assert_int_eq(jobq_destroy(q), 0);
			if (made < n)
				break;
		} else {
			ck_assert_int_eq(rc, JOBQ_ENOMEM);
			ck_assert_ptr_null(q);
		}
	}
	ck_assert_uint_gt(n, 4); /* the executor, three rings and the workers all allocate */
}
END_TEST

/*
 * Sweeps each of the first 2000 named submits into one executor: the allocations of a submit
 * are its name and sometimes a segment of records (slots.h: the table of records doubles when
 * the jobs kept pass 64, 128, 256, 512 and 1024). Sweeping every submit fails each of those.
 */
START_TEST(submit_sweep)
{
	enum { JOBS = 2000 };
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 1;
	o.retain_count = 100000;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, &o), 0);
	ck_assert_int_eq(jobq_pause(q), 0);

	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.name = "named";
	jo.on_done = on_done;
	jo.arg_free = on_free;
	unsigned segment_failures = 0;
	for (unsigned k = 0; k < JOBS; k++) {
		unsigned failures = 0;
		for (unsigned long n = 1;; n++) {
			jobq__alloc_fail_nth(n);
			uint64_t id = 0;
			int rc = jobq_submit(q, job, NULL, &jo, &id);
			unsigned long made = jobq__alloc_fail_nth(0);
			if (rc == 0) {
				ck_assert_uint_ne(id, 0);
				if (made < n)
					break;
			} else {
				ck_assert_int_eq(rc, JOBQ_ENOMEM);
				ck_assert_uint_eq(id, 0);
				failures++;
			}
		}
		/* A submit that grows the table fails there, then at its name; any other fails
		 * only at its name. */
		ck_assert_uint_ge(failures, 1);
		segment_failures += failures > 1;
	}
	ck_assert_uint_eq(segment_failures, 5);
	/* Nothing of a refused submit was called; every accepted one ends exactly once. */
	ck_assert_int_eq(atomic_load(&callbacks) + atomic_load(&frees), 0);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(atomic_load(&runs), JOBS);
	ck_assert_int_eq(atomic_load(&callbacks), JOBS);
	ck_assert_int_eq(atomic_load(&frees), JOBS);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

/*
 * Sweeps each of 300 cron schedules added to one executor: its entry, the parsed expression,
 * the zone (loaded once, then cached), the copies of its strings and template, the schedule
 * table (created, then expanded) and the timer's heap (grown from 64 entries).
 */
START_TEST(cron_add_sweep)
{
	enum { SCHEDULES = 300 };
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, NULL), 0);
	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.name = "nightly";
	jo.on_done = on_done;
	jobq_cron_options_t co;
	jobq_cron_options_init(&co);
	co.zone = "Europe/Berlin";
	co.job = &jo;
	co.arg_free = on_free;
	atomic_store(&frees, 0);
	unsigned failures = 0;
	for (unsigned k = 0; k < SCHEDULES; k++) {
		for (unsigned long n = 1;; n++) {
			jobq__alloc_fail_nth(n);
			uint64_t id = 0;
			char err[64];
			int rc = jobq_cron_add(q, "0 2 * * *", job, NULL, &co, &id, err, sizeof err);
			unsigned long made = jobq__alloc_fail_nth(0);
			if (rc == 0) {
				ck_assert_uint_eq(id, k + 1);
				if (made < n)
					break;
			} else {
				ck_assert_int_eq(rc, JOBQ_ENOMEM);
				ck_assert_uint_eq(id, 0);
				ck_assert_str_eq(err, jobq_strerror(JOBQ_ENOMEM));
				failures++;
			}
		}
	}
	ck_assert_uint_gt(failures, SCHEDULES * 4);
	ck_assert_int_eq(atomic_load(&frees), 0);
	size_t n;
	ck_assert_int_eq(jobq_cron_list(q, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, SCHEDULES);
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&frees), SCHEDULES);
}
END_TEST

static jobq_outcome_t oom_inside(jobq_ctx_t *ctx, void *arg)
{
	(void)arg;
	jobq__alloc_fail_nth(1);
	ck_assert_int_eq(jobq_ctx_set_result(ctx, "abc", 3), JOBQ_ENOMEM);
	jobq__alloc_fail_nth(1);
	ck_assert_int_eq(jobq_ctx_set_error(ctx, "failed %d", 1), JOBQ_ENOMEM);
	jobq__alloc_fail_nth(0);
	ck_assert_int_eq(jobq_ctx_set_result(ctx, "abc", 3), 0);
	return JOBQ_DONE;
}

START_TEST(context_calls)
{
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, NULL), 0);
	uint64_t id;
	jobq_status_t st;
	ck_assert_int_eq(jobq_submit(q, oom_inside, NULL, NULL, &id), 0);
	ck_assert_int_eq(jobq_wait(q, id, 0, &st), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	ck_assert_str_eq(st.error, "");
	ck_assert_uint_eq(st.result_len, 3);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("oom");
	TCase *tc = tcase_create("sweeps");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, create_sweep);
	tcase_add_test(tc, submit_sweep);
	tcase_add_test(tc, cron_add_sweep);
	tcase_add_test(tc, context_calls);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
