/*
 * test_walltime.c: the cheap wall clock against clock_gettime(CLOCK_REALTIME). Every reading,
 * from one thread and from several at once (while they replace the anchor under one another),
 * lies between two clock_gettime readings taken around it, give or take TOL_NS. On a machine
 * whose kernel keeps time with the TSC the readings interpolate once an anchor lies where the
 * rate puts it; the log says whether they did here.
 */
#include <stdint.h>
#include <time.h>

#include "os.h"
#include "testutil.h"
#include "walltime.h"

/* Interpolation is good to about a hundred nanoseconds; this is the bound asserted. */
#define TOL_NS 20000
#define RUN_NS 40000000 /* each thread reads for this long (a bound on the loop, not a timing) */

struct tally {
	uint64_t reads, fast, bad; /* readings, interpolated ones, ones out of bounds */
	int64_t w, before, after;  /* the first one out of bounds */
};

/* Reads for RUN_NS into *arg (a struct tally). Plain comparisons in the loop: a Check
 * assertion per reading would cost more than the readings. */
static void *bracket(void *arg)
{
	struct tally *t = arg;
	int64_t end = jobq__os_now(CLOCK_MONOTONIC) + RUN_NS;
	int64_t last = 0;
	while (jobq__os_now(CLOCK_MONOTONIC) < end) {
		int64_t before = jobq__os_now(CLOCK_REALTIME);
		bool interp = jobq__walltime_interpolating();
		int64_t w = jobq__walltime();
		int64_t after = jobq__os_now(CLOCK_REALTIME);
		/* Without steps of the wall clock, one thread's readings never go back by more
		 * than the error either. */
		bool bad = w < before - TOL_NS || w > after + TOL_NS || w < last - TOL_NS;
		if (bad && !t->bad++)
			*t = (struct tally){t->reads, t->fast, 1, w, before, after};
		last = w;
		t->reads++;
		t->fast += interp;
	}
	return NULL;
}

static void check(const struct tally *t)
{
	fprintf(stderr, "walltime: %llu of %llu readings interpolated from the TSC\n",
		(unsigned long long)t->fast, (unsigned long long)t->reads);
	ck_assert_msg(t->bad == 0, "%llu readings out of bounds, the first %lld in [%lld, %lld]",
		      (unsigned long long)t->bad, (long long)t->w, (long long)t->before,
		      (long long)t->after);
}

START_TEST(one_thread_brackets)
{
	struct tally t = {0};
	bracket(&t);
	check(&t);
}
END_TEST

START_TEST(threads_brackets)
{
	enum { N = 4 };
	pthread_t t[N];
	struct tally tally[N] = {{0}};
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, bracket, &tally[i]), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		check(&tally[i]);
	}
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("walltime");
	TCase *tc = tcase_create("walltime");
	tcase_add_test(tc, one_thread_brackets);
	tcase_add_test(tc, threads_brackets);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
