/*
 * test_fuzz_regress.c: replays every input under hardening/regress/ (inputs that once crashed,
 * hung or broke a property under the fuzzers) through the fuzzers' own entry points, so each
 * fix stays fixed in every build: plain, sanitizers, valgrind. The fuzz targets are included
 * here with their checks turned into Check assertions; libFuzzer is not needed.
 *
 * The directory is $JOBQ_REGRESS, else hardening/regress from the repository root.
 */
#include <dirent.h>
#include <stdint.h>

#include "testutil.h"

#define JOBQ_FUZZ_NO_MAIN
#define FUZZ_CHECK(cond) ck_assert_msg((cond), "%s: %s", current_input, #cond)

static const char *current_input = "";

#include "../hardening/fuzz_cron.c"
#include "../hardening/fuzz_tz.c"

/* Feeds every file of dir/sub to fn; returns how many there were. */
static unsigned replay(const char *sub, int (*fn)(const uint8_t *, size_t))
{
	const char *root = getenv("JOBQ_REGRESS");
	char dir[512], path[1024];
	snprintf(dir, sizeof dir, "%s/%s", root && *root ? root : "hardening/regress", sub);
	DIR *d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s (set JOBQ_REGRESS)", dir);
	unsigned n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		FILE *f = fopen(path, "rb");
		ck_assert_msg(f != NULL, "cannot open %s", path);
		static uint8_t buf[1 << 20];
		size_t len = fread(buf, 1, sizeof buf, f);
		fclose(f);
		/* An exact-size copy, as libFuzzer passes it, so over-reads are caught. */
		uint8_t *copy = malloc(len ? len : 1);
		ck_assert(copy != NULL);
		memcpy(copy, buf, len);
		current_input = path;
		fn(copy, len);
		free(copy);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(cron_inputs)
{
	ck_assert_uint_gt(replay("cron", fuzz_cron), 0);
}
END_TEST

START_TEST(tz_inputs)
{
	replay("tz", fuzz_tz);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("fuzz_regress");
	TCase *tc = tcase_create("replay");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cron_inputs);
	tcase_add_test(tc, tz_inputs);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
