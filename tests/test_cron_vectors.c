/*
 * test_cron_vectors.c: every case of shared/cron/vectors.tsv through the library API. A mismatch
 * prints its line, what came out and what was expected; all lines run before the test fails, so
 * one report shows every broken case.
 */
#include "testutil.h"

START_TEST(every_vector)
{
	FILE *f = jobq_vectors_open();
	struct jobq_vector v = {0};
	int cases = 0, failed = 0;
	char got[8192];
	while (jobq_vector_next(f, &v)) {
		cases++;
		jobq_vector_run(&v, got, sizeof got);
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
