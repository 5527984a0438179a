/*
 * test_cron_vectors.c: every case of shared/cron/vectors.tsv through the library API. A mismatch
 * prints its line, what came out and what was expected; all lines run before the test fails, so
 * one report shows every broken case.
 */
#include "cron.h"
#include "jobq.h"
#include "testutil.h"

/* What the library makes of one case, in the file's notation. */
static void run(const struct jobq_vector *v, char *got, size_t cap)
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
	ck_assert_int_eq(jobq_zone_load(v->zone, &z), 0);
	ck_assert_int_eq(jobq__rfc3339_parse(v->from, &t, &frac), 0);
	size_t len = 0;
	for (int i = 0; i < v->n && jobq_cron_next(c, z, t, &t) == 0; i++) {
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

START_TEST(every_vector)
{
	FILE *f = jobq_vectors_open();
	struct jobq_vector v = {0};
	int cases = 0, failed = 0;
	char got[8192];
	while (jobq_vector_next(f, &v)) {
		cases++;
		run(&v, got, sizeof got);
		if (strcmp(got, v.expect) != 0) {
			failed++;
			fprintf(stderr, "vectors line %d: %s | %s | %s | %d\n  got  %s\n  want %s\n",
				v.line, v.expr, v.zone, v.from, v.n, got, v.expect);
		}
	}
	fclose(f);
	ck_assert_int_gt(cases, 0);
	ck_assert_msg(failed == 0, "%d of %d vectors failed", failed, cases);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("cron_vectors");
	TCase *tc = tcase_create("vectors");
	tcase_add_test(tc, every_vector);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
