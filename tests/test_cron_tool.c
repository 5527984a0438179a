/*
 * test_cron_tool.c: every case of shared/cron/vectors.tsv through the jobq-cron program of the
 * build under test ($JOBQ_BUILD/bin/jobq-cron), checking its lines and exit status, plus the
 * usage errors. One process per case through popen; the output is compared, never timed.
 */
#include <sys/wait.h>

#include "jobq.h"
#include "testutil.h"

static char tool[512];

static void find_tool(void)
{
	const char *build = getenv("JOBQ_BUILD");
	snprintf(tool, sizeof tool, "%s/bin/jobq-cron", build && *build ? build : "build");
}

/* Appends s to cmd in single quotes, for sh. */
static void quote(char *cmd, size_t cap, const char *s)
{
	size_t n = strlen(cmd);
	cmd[n++] = ' ';
	cmd[n++] = '\'';
	for (; *s && n + 6 < cap; s++) {
		if (*s == '\'') {
			memcpy(cmd + n, "'\\''", 4);
			n += 4;
		} else {
			cmd[n++] = *s;
		}
	}
	ck_assert_uint_lt(n + 2, cap);
	cmd[n++] = '\'';
	cmd[n] = '\0';
}

/* Runs cmd (stderr folded into stdout); its output lines joined by commas, and its status. */
static int run(const char *cmd, char *out, size_t cap, int *lines)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	char line[512];
	size_t len = 0;
	*lines = 0;
	out[0] = '\0';
	while (fgets(line, sizeof line, p)) {
		line[strcspn(line, "\n")] = '\0';
		len += (size_t)snprintf(out + len, cap - len, "%s%s", (*lines)++ ? "," : "", line);
		ck_assert_uint_lt(len, cap);
	}
	int st = pclose(p);
	ck_assert(WIFEXITED(st));
	return WEXITSTATUS(st);
}

START_TEST(every_vector)
{
	FILE *f = jobq_vectors_open();
	struct jobq_vector v = {0};
	int cases = 0, failed = 0;
	char cmd[2048], got[8192];
	while (jobq_vector_next(f, &v)) {
		int lines, status;
		cases++;
		snprintf(cmd, sizeof cmd, "'%s' -n %d -z", tool, v.n);
		quote(cmd, sizeof cmd, v.zone);
		strcat(cmd, " -f");
		quote(cmd, sizeof cmd, v.from);
		quote(cmd, sizeof cmd, v.expr);
		strcat(cmd, " 2>&1");
		status = run(cmd, got, sizeof got, &lines);
		int ok = !strcmp(v.expect, "ERROR")
				 ? status == 2 && lines == 1 && strstr(got, "at column ") != NULL
				 : status == 0 && !strcmp(got, v.expect);
		if (!ok) {
			failed++;
			fprintf(stderr, "vectors line %d: %s\n  status %d, got  %s\n  want %s\n", v.line,
				cmd, status, got, v.expect);
		}
	}
	fclose(f);
	ck_assert_int_gt(cases, 0);
	ck_assert_msg(failed == 0, "%d of %d vectors failed through %s", failed, cases, tool);
}
END_TEST

/* Bad usage, zones and times exit 2 with one line; a never-firing schedule exits 0 silently. */
START_TEST(usage_and_exit_status)
{
	static const struct {
		const char *args;
		int status, lines;
		const char *want; /* a substring of the output (lines joined by commas) */
	} cases[] = {
		{"", 2, 2, "usage"},
		{"-n", 2, 2, "needs a value"},
		{"-n x '* * * * *'", 2, 2, "COUNT"},
		{"-q '* * * * *'", 2, 2, "unknown option"},
		{"-f 2024-01-01 '* * * * *'", 2, 2, "RFC 3339"},
		{"-f 2024-02-30T00:00:00Z '* * * * *'", 2, 2, "RFC 3339"},
		{"-z Mars/Olympus '* * * * *'", 2, 1, "Mars/Olympus: unknown or invalid time zone"},
		{"-z ../../etc/passwd '* * * * *'", 2, 1, "unknown or invalid time zone"},
		{"'0 24 * * *'", 2, 1, "at column 3 (hour): value 24 out of range 0-23"},
		{"-f 2024-01-01T00:00:00Z '0 0 30 2 *'", 0, 0, ""},
		{"-f 2024-01-01T00:00:00Z -n 0 '* * * * *'", 0, 0, ""},
		{"--help", 0, 1, "usage"},
		{"-f 2024-01-01T10:00:00.5+01:00 -n 2 0 '*' '*' '*' '*'", 0, 2,
		 "2024-01-01T10:00:00+00:00,2024-01-01T11:00:00+00:00"},
		{"-f 2024-01-01T10:00:00.5Z --prev -n 2 '0 * * * *'", 0, 2,
		 "2024-01-01T10:00:00+00:00,2024-01-01T09:00:00+00:00"},
		{"-z Asia/Kolkata -f 9999-12-31T23:30:00Z '0 0 * * *'", 0, 0, ""},
		{"-z Europe/Berlin -f 1850-01-01T00:00:00Z -n 1 '@daily'", 0, 1,
		 "1850-01-02T00:00:00+00:53:28"},
		{"-- -z UTC", 2, 1, "column"},
	};
	char cmd[1024], got[2048];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int lines;
		snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", tool, cases[i].args);
		int status = run(cmd, got, sizeof got, &lines);
		ck_assert_msg(status == cases[i].status && lines == cases[i].lines &&
				      strstr(got, cases[i].want),
			      "%s: status %d, %d lines: %s", cmd, status, lines, got);
	}
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("cron_tool");
	TCase *tc = tcase_create("tool");
	tcase_add_unchecked_fixture(tc, find_tool, NULL);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_vector);
	tcase_add_test(tc, usage_and_exit_status);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
