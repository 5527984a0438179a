/* test_error.c: every code in the table has a message and a name; unknown codes get both too. */
#include <string.h>

#include "jobq.h"
#include "testutil.h"

START_TEST(every_code_named)
{
	static const int codes[] = {
#define CODE_(name, value, msg) JOBQ_##name,
		JOBQ_ERRNO_MAP(CODE_)
#undef CODE_
	};
	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		ck_assert_int_lt(codes[i], 0);
		ck_assert_str_ne(jobq_strerror(codes[i]), "unknown error");
		ck_assert_str_ne(jobq_err_name(codes[i]), "JOBQ_UNKNOWN");
		for (size_t j = 0; j < i; j++)
			ck_assert_int_ne(codes[i], codes[j]);
	}
	ck_assert_str_eq(jobq_err_name(JOBQ_ECLOSED), "JOBQ_ECLOSED");
	ck_assert_str_eq(jobq_strerror(0), "success");
}
END_TEST

START_TEST(unknown_code)
{
	ck_assert_str_eq(jobq_strerror(-99999), "unknown error");
	ck_assert_str_eq(jobq_err_name(12345), "JOBQ_UNKNOWN");
	ck_assert_uint_eq(jobq_version(), JOBQ_VERSION_NUMBER);
	ck_assert_str_eq(jobq_version_string(), JOBQ_VERSION_STRING);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, every_code_named);
	tcase_add_test(tc, unknown_code);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
