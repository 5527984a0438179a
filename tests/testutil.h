/*
 * testutil.h: what every Check suite shares: a main() that runs one suite and exits with its
 * result, and the path of the shared cron vectors. Suites define `Suite *suite(void)`.
 */
#ifndef JOBQ_TESTUTIL_H
#define JOBQ_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

Suite *suite(void);

#define JOBQ_TEST_MAIN()                                              \
	int main(void)                                                \
	{                                                             \
		SRunner *sr = srunner_create(suite());                \
		srunner_run_all(sr, CK_NORMAL);                       \
		int failed = srunner_ntests_failed(sr);               \
		srunner_free(sr);                                     \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;          \
	}

#endif
