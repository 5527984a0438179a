/*
 * testutil.h: what every Check suite shares: a main() that runs one suite and exits with its
 * result, an assertion for hot loops, a latch (a one-shot gate) for making threads meet without
 * sleeping, a reproducible pseudo-random sequence, and the reader and runner of cron vectors
 * (the shared file's cases and the unit tests' own). Suites define `Suite *suite(void)`.
 */
#ifndef JOBQ_TESTUTIL_H
#define JOBQ_TESTUTIL_H

#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"
#include "jobq.h"

/* The suite's runner and the thread that runs its tests, set by JOBQ_TEST_MAIN. */
static SRunner *jobq_test_runner;
static pthread_t jobq_test_thread;

/*
 * Where every Check macro's failure goes (the define below routes _ck_assert_failed here).
 * Without fork (CK_FORK=no, as under valgrind) Check ends a failed test with a longjmp onto
 * the test thread's stack; from a job, a callback or a helper thread that jump lands on a
 * stack its owner still runs on, and both go on there: CI saw helgrind's test_stress die so,
 * with no word of the check. Such a failure prints where and what, and aborts the run, which
 * fails it. On the test's own thread, or with fork, Check's own path runs.
 */
__attribute__((noreturn, format(printf, 4, 5))) static inline void
jobq_test_failed(const char *file, int line, const char *expr, const char *msg, ...)
{
	char text[1024];
	if (msg) {
		va_list ap;
		va_start(ap, msg);
		vsnprintf(text, sizeof text, msg, ap);
		va_end(ap);
	} else {
		snprintf(text, sizeof text, "%s", expr);
	}
	if (!jobq_test_runner || srunner_fork_status(jobq_test_runner) != CK_NOFORK ||
	    pthread_equal(pthread_self(), jobq_test_thread))
		_ck_assert_failed(file, line, expr, "%s", text);
	fprintf(stderr, "%s:%d: %s (off the test's thread, without fork)\n", file, line, text);
	abort();
}
#define _ck_assert_failed(...) jobq_test_failed(__VA_ARGS__)

/*
 * ck_assert for loops that check every item: only a failure reports (with the expression and
 * the line). Each passing ck_assert writes its location to Check's runner, one write(2), so
 * that a crash or a timeout can be reported "after this point"; loops of them made hundreds of
 * thousands of calls, which took a table's test over two minutes under valgrind. Outside such
 * loops use Check's own macros, which keep that location.
 */
#define TEST_CHECK(expr) \
	do { \
		if (!(expr)) \
			ck_abort_msg("Assertion '%s' failed", #expr); \
	} while (0)

/* xorshift64: the next number of a reproducible sequence; *state is its seed, never 0. */
static inline uint64_t test_rnd(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* A count-down latch: latch_wait returns once latch_arrive was called `count` times. */
struct latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int count;
};

static inline void latch_init(struct latch *l, int count)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->count = count;
}

static inline void latch_arrive(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	if (l->count > 0 && --l->count == 0)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static inline void latch_wait(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->count > 0)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

static inline void latch_destroy(struct latch *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
}

Suite *suite(void);

#define JOBQ_TEST_MAIN()                                              \
	int main(void)                                                \
	{                                                             \
		SRunner *sr = srunner_create(suite());                \
		jobq_test_runner = sr;                                \
		jobq_test_thread = pthread_self();                    \
		srunner_run_all(sr, CK_NORMAL);                       \
		int failed = srunner_ntests_failed(sr);               \
		srunner_free(sr);                                     \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;          \
	}

/*
 * One case of shared/cron/vectors.tsv: expr, zone, from (RFC 3339), n, and the expected fire
 * times as a comma list, "ERROR" (the expression must be rejected) or "" (it never fires).
 * The strings point into buf.
 */
struct jobq_vector {
	int line;
	const char *expr, *zone, *from, *expect;
	int n;
	int prev; /* the unit tests also run jobq_cron_prev */
	char buf[4096];
};

/* The vectors file: $JOBQ_VECTORS, else ../shared/cron/vectors.tsv from the repository root. */
static inline FILE *jobq_vectors_open(void)
{
	const char *path = getenv("JOBQ_VECTORS");
	if (!path || !*path)
		path = "../shared/cron/vectors.tsv";
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s (set JOBQ_VECTORS)", path);
	return f;
}

/* Reads the next case into *v, skipping comments and blank lines; 0 at the end of the file. */
static inline int jobq_vector_next(FILE *f, struct jobq_vector *v)
{
	while (fgets(v->buf, sizeof v->buf, f)) {
		v->line++;
		v->buf[strcspn(v->buf, "\r\n")] = '\0';
		if (v->buf[0] == '#' || v->buf[0] == '\0')
			continue;
		char *col[5], *p = v->buf;
		for (int i = 0; i < 5; i++) {
			col[i] = p;
			p += strcspn(p, "\t");
			ck_assert_msg(*p || i == 4, "vectors line %d: too few columns", v->line);
			if (*p)
				*p++ = '\0';
		}
		v->expr = col[0];
		v->zone = col[1];
		v->from = col[2];
		v->n = atoi(col[3]);
		v->expect = col[4];
		return 1;
	}
	return 0;
}

/* What the library makes of case v, in the file's notation, into got (cap bytes). */
static inline void jobq_vector_run(const struct jobq_vector *v, char *got, size_t cap)
{
	jobq_cron_t *c;
	jobq_zone_t *z;
	int64_t t;
	bool frac;
	got[0] = '\0';
	if (jobq_cron_parse(v->expr, &c, NULL, 0) != 0) {
		snprintf(got, cap, "ERROR");
		return;
	}
	ck_assert_msg(jobq_zone_load(v->zone, &z) == 0, "zone %s", v->zone);
	ck_assert_msg(jobq__rfc3339_parse(v->from, &t, &frac) == 0, "time %s", v->from);
	size_t len = 0;
	for (int i = 0; i < v->n; i++) {
		int rc = v->prev ? jobq_cron_prev(c, z, t, &t) : jobq_cron_next(c, z, t, &t);
		if (rc == JOBQ_ENEVER)
			break;
		ck_assert_int_eq(rc, 0);
		int off;
		char buf[32];
		ck_assert_int_eq(jobq_zone_offset(z, t, &off), 0);
		jobq__rfc3339_format(t, off, buf);
		len += (size_t)snprintf(got + len, cap - len, "%s%s", i ? "," : "", buf);
		ck_assert_uint_lt(len, cap);
	}
	jobq_zone_free(z);
	jobq_cron_free(c);
}

#endif
