/*
 * test_cron.c: unit tests of the cron parser, the search and the zone reader: exact error
 * messages, every day extra, macros, DST gaps and overlaps in several zones (New York, Berlin,
 * Lord Howe's 30 minutes, Goose Bay's and Troll's 2 hours), far-future dates through the POSIX
 * footer, prev, the POSIX rule grammar, crafted and corrupted TZif files, the zone cache under
 * threads, and a seeded fuzz of expressions. Expected times were worked out by hand from the
 * zone rules; none of them comes from running this code.
 */
#include <pthread.h>
#include <unistd.h>

#include "testutil.h"
#include "tz.h"

/* Runs a table of cases in the vectors' notation; reports every mismatch, then fails. */
static void run_cases(const struct jobq_vector *v, size_t n)
{
	char got[4096];
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		jobq_vector_run(&v[i], got, sizeof got);
		if (strcmp(got, v[i].expect) != 0) {
			failed++;
			fprintf(stderr, "%s | %s | %s | %d%s\n  got  %s\n  want %s\n", v[i].expr,
				v[i].zone, v[i].from, v[i].n, v[i].prev ? " | prev" : "", got,
				v[i].expect);
		}
	}
	ck_assert_msg(failed == 0, "%d of %zu cases failed", failed, n);
}

#define RUN_CASES(table) run_cases(table, sizeof table / sizeof table[0])

START_TEST(parse_errors)
{
	static const char *const cases[][2] = {
		{"", "at column 1: empty expression"},
		{" \t ", "at column 1: empty expression"},
		{"* * * *", "at column 8: expected 5 or 6 fields, found 4"},
		{"* * * * * * *", "at column 13: expected 5 or 6 fields, found 7"},
		{"30 24 * * *", "at column 4 (hour): value 24 out of range 0-23"},
		{"60 * * * *", "at column 1 (minute): value 60 out of range 0-59"},
		{"0 60 * * * *", "at column 3 (minute): value 60 out of range 0-59"},
		{"60 0 * * * *", "at column 1 (second): value 60 out of range 0-59"},
		{"99999999999 * * * *", "at column 1 (minute): value 99999999999 out of range 0-59"},
		{"*/0 * * * *", "at column 3 (minute): step must be at least 1"},
		{"0 0 1-5/0 * *", "at column 9 (day-of-month): step must be at least 1"},
		{"*/ * * * *", "at column 3 (minute): missing step"},
		{"*/5/2 * * * *", "at column 4 (minute): unexpected character '/'"},
		{"5-1 * * * *", "at column 1 (minute): backwards range 5-1"},
		{"1-2-3 * * * *", "at column 4 (minute): unexpected character '-'"},
		{"0 0 * * fri-mon", "at column 9 (day-of-week): backwards range fri-mon"},
		{"0 0 * * SUN-", "at column 13 (day-of-week): missing value"},
		{"0 0 * * 8", "at column 9 (day-of-week): value 8 out of range 0-7"},
		{"0 0 0 * *", "at column 5 (day-of-month): value 0 out of range 1-31"},
		{"0 0 * 13 *", "at column 7 (month): value 13 out of range 1-12"},
		{"0 0 * * MON#6", "at column 13 (day-of-week): occurrence 6 out of range 1-5"},
		{"0 0 * * 1#0", "at column 11 (day-of-week): occurrence 0 out of range 1-5"},
		{"0 0 1 1 1#", "at column 11 (day-of-week): missing occurrence"},
		{"0 0 * * 1-2#3", "at column 12 (day-of-week): unexpected character '#'"},
		{"0 0 * * L", "at column 9 (day-of-week): 'L' needs a weekday before it, as in 5L"},
		{"0 0 * * 5L2", "at column 11 (day-of-week): unexpected character '2'"},
		{"0 0 * JANUARY *", "at column 7 (month): unknown name 'JANUARY'"},
		{"0 0 JAN * *", "at column 5 (day-of-month): unknown name 'JAN'"},
		{"a b c d e", "at column 1 (minute): unknown name 'a'"},
		{"? * * * *", "at column 1 (minute): '?' is only allowed in the day fields"},
		{"0 0 ? ? ?", "at column 7 (month): '?' is only allowed in the day fields"},
		{"0 0 ?,1 * *", "at column 5 (day-of-month): unexpected character '?'"},
		{"1,,2 * * * *", "at column 3 (minute): empty list item"},
		{",1 * * * *", "at column 1 (minute): empty list item"},
		{"1, * * * *", "at column 3 (minute): empty list item"},
		{"0 0 L-31 * *", "at column 7 (day-of-month): value 31 out of range 0-30"},
		{"0 0 LX * *", "at column 6 (day-of-month): unexpected character 'X'"},
		{"0 0 L/2 * *", "at column 6 (day-of-month): unexpected character '/'"},
		{"0 0 L-3W * *", "at column 8 (day-of-month): unexpected character 'W'"},
		{"0 0 32W * *", "at column 5 (day-of-month): value 32 out of range 1-31"},
		{"0 0 15W2 * *", "at column 8 (day-of-month): unexpected character '2'"},
		{"0 0 1W-3 * *", "at column 7 (day-of-month): unexpected character '-'"},
		{"0 0 W * *", "at column 5 (day-of-month): unknown name 'W'"},
		{"0 0 * * 5W", "at column 10 (day-of-week): unexpected character 'W'"},
		{"0 L * * *", "at column 3 (hour): unknown name 'L'"},
		{"1.5 * * * *", "at column 2 (minute): unexpected character '.'"},
		{"0\n0 * * * *", "at column 2 (minute): unexpected byte 0x0a"},
		{"0 0 * * * 2020", "at column 11 (day-of-week): value 2020 out of range 0-7"},
		{"@foo", "at column 1: unknown macro '@foo'"},
		{"@daily x", "at column 8: unexpected text after @daily"},
		{"@reboot", "at column 1: unknown macro '@reboot'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[200], want[200];
		jobq_cron_t *c = (jobq_cron_t *)&err; /* must stay untouched */
		snprintf(want, sizeof want, "invalid cron expression %s", cases[i][1]);
		ck_assert_int_eq(jobq_cron_parse(cases[i][0], &c, err, sizeof err), JOBQ_ECRON);
		ck_assert_ptr_eq(c, (jobq_cron_t *)&err);
		ck_assert_msg(!strcmp(err, want), "\"%s\": got \"%s\"", cases[i][0], err);
	}
}
END_TEST

START_TEST(parse_edges)
{
	jobq_cron_t *c;
	char err[16], big[1100];
	ck_assert_int_eq(jobq_cron_parse(NULL, &c, NULL, 0), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_parse("* * * * *", NULL, NULL, 0), JOBQ_EINVAL);
	/* A short buffer gets a truncated, terminated message; no buffer is fine too. */
	ck_assert_int_eq(jobq_cron_parse("61 * * * *", &c, err, sizeof err), JOBQ_ECRON);
	ck_assert_str_eq(err, "invalid cron ex");
	ck_assert_int_eq(jobq_cron_parse("61 * * * *", &c, NULL, 0), JOBQ_ECRON);
	memset(big, ' ', sizeof big);
	big[sizeof big - 1] = '\0';
	memcpy(big, "* * * * *", 9);
	ck_assert_int_eq(jobq_cron_parse(big, &c, NULL, 0), JOBQ_ECRON);
	big[1024] = '\0';
	ck_assert_int_eq(jobq_cron_parse(big, &c, NULL, 0), 0);
	jobq_cron_free(c);
	jobq_cron_free(NULL);
	static const char *const ok[] = {
		"\t0  0\t* *  *  ", "*/1 * * * *", "0-59 0-23 1-31 1-12 0-7", "0 0 ? * ?",
		"0 0 L,LW,L-5,15W * *", "0 0 * * 5L,1#1,SUN#5,7L", "@DAILY", "@Annually",
		"0 0 1 jan-DEC/2 sun-sat", "0 0 * * 7-7", "59 59 23 31 12 7", "0 0 1 1/99 *",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		ck_assert_msg(jobq_cron_parse(ok[i], &c, NULL, 0) == 0, "%s", ok[i]);
		jobq_cron_free(c);
	}
}
END_TEST

START_TEST(day_extras)
{
	static const struct jobq_vector cases[] = {
		{.expr = "0 0 L * *", .zone = "UTC", .from = "2023-12-31T00:00:00Z", .n = 3,
		 .expect = "2024-01-31T00:00:00+00:00,2024-02-29T00:00:00+00:00,"
			   "2024-03-31T00:00:00+00:00"},
		{.expr = "0 0 L-1 * *", .zone = "UTC", .from = "2024-02-01T00:00:00Z", .n = 2,
		 .expect = "2024-02-28T00:00:00+00:00,2024-03-30T00:00:00+00:00"},
		/* L-30 exists only in 31-day months, where it is the 1st. */
		{.expr = "0 0 L-30 * *", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 3,
		 .expect = "2024-03-01T00:00:00+00:00,2024-05-01T00:00:00+00:00,"
			   "2024-07-01T00:00:00+00:00"},
		{.expr = "0 0 L-0 * *", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 1,
		 .expect = "2024-01-31T00:00:00+00:00"},
		/* Aug 31 2024 is a Saturday. */
		{.expr = "0 0 LW * *", .zone = "UTC", .from = "2024-08-01T00:00:00Z", .n = 3,
		 .expect = "2024-08-30T00:00:00+00:00,2024-09-30T00:00:00+00:00,"
			   "2024-10-31T00:00:00+00:00"},
		/* Jan 1 2022 is a Saturday: 1W moves forward, not into December. */
		{.expr = "0 0 1W * *", .zone = "UTC", .from = "2022-01-01T00:00:00Z", .n = 1,
		 .expect = "2022-01-03T00:00:00+00:00"},
		/* Oct 31 2021 is a Sunday: 31W moves back; November has no 31st. */
		{.expr = "0 0 31W * *", .zone = "UTC", .from = "2021-10-01T00:00:00Z", .n = 2,
		 .expect = "2021-10-29T00:00:00+00:00,2021-12-31T00:00:00+00:00"},
		{.expr = "0 0 L,15 * *", .zone = "UTC", .from = "2024-02-01T00:00:00Z", .n = 3,
		 .expect = "2024-02-15T00:00:00+00:00,2024-02-29T00:00:00+00:00,"
			   "2024-03-15T00:00:00+00:00"},
		{.expr = "0 0 * * 7L", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 2,
		 .expect = "2024-01-28T00:00:00+00:00,2024-02-25T00:00:00+00:00"},
		{.expr = "0 0 * * SUN#1,SAT#5", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 4,
		 .expect = "2024-01-07T00:00:00+00:00,2024-02-04T00:00:00+00:00,"
			   "2024-03-03T00:00:00+00:00,2024-03-30T00:00:00+00:00"},
		/* Both day fields restricted: either matches (Friday or the 13th). */
		{.expr = "0 0 13 * FRI", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 3,
		 .expect = "2024-01-05T00:00:00+00:00,2024-01-12T00:00:00+00:00,"
			   "2024-01-13T00:00:00+00:00"},
		/* A star-led day field ANDs: days 1, 14, 27 that are Fridays. */
		{.expr = "0 0 */13 * FRI", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 3,
		 .expect = "2024-03-01T00:00:00+00:00,2024-06-14T00:00:00+00:00,"
			   "2024-09-27T00:00:00+00:00"},
		{.expr = "0 0 13 * ?", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 2,
		 .expect = "2024-01-13T00:00:00+00:00,2024-02-13T00:00:00+00:00"},
		{.expr = "0 0 * * 6-0", .zone = "UTC", .from = "2024-01-05T00:00:00Z", .n = 3,
		 .expect = "2024-01-06T00:00:00+00:00,2024-01-07T00:00:00+00:00,"
			   "2024-01-13T00:00:00+00:00"},
		{.expr = "0 0 * * 0-0", .zone = "UTC", .from = "2024-01-05T00:00:00Z", .n = 2,
		 .expect = "2024-01-07T00:00:00+00:00,2024-01-14T00:00:00+00:00"},
		{.expr = "0 0 1 jan,Jul *", .zone = "UTC", .from = "2024-01-05T00:00:00Z", .n = 2,
		 .expect = "2024-07-01T00:00:00+00:00,2025-01-01T00:00:00+00:00"},
		{.expr = "59 59 23 31 12 *", .zone = "UTC", .from = "2024-01-05T00:00:00Z", .n = 2,
		 .expect = "2024-12-31T23:59:59+00:00,2025-12-31T23:59:59+00:00"},
		{.expr = "*/15 * * * * *", .zone = "UTC", .from = "2024-01-05T00:00:00Z", .n = 3,
		 .expect = "2024-01-05T00:00:15+00:00,2024-01-05T00:00:30+00:00,"
			   "2024-01-05T00:00:45+00:00"},
		/* The edges of the supported years. */
		{.expr = "0 0 1 1 *", .zone = "UTC", .from = "9999-06-01T00:00:00Z", .n = 3,
		 .expect = ""},
		{.expr = "0 0 1 1 *", .zone = "UTC", .from = "0001-06-01T00:00:00Z", .n = 2,
		 .prev = 1, .expect = "0001-01-01T00:00:00+00:00"},
		{.expr = "0 0 29 2 *", .zone = "UTC", .from = "2104-03-01T00:00:00Z", .n = 2,
		 .prev = 1, .expect = "2104-02-29T00:00:00+00:00,2096-02-29T00:00:00+00:00"},
		{.expr = "0 0 31 2 *", .zone = "UTC", .from = "2024-01-01T00:00:00Z", .n = 1,
		 .prev = 1, .expect = ""},
	};
	RUN_CASES(cases);
}
END_TEST

/* Each macro fires exactly when its expansion does, in a zone with DST. */
START_TEST(macros)
{
	static const char *const m[][2] = {
		{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
		{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
		{"@hourly", "0 * * * *"},
	};
	jobq_zone_t *z;
	ck_assert_int_eq(jobq_zone_load("America/Santiago", &z), 0);
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		jobq_cron_t *a, *b;
		ck_assert_int_eq(jobq_cron_parse(m[i][0], &a, NULL, 0), 0);
		ck_assert_int_eq(jobq_cron_parse(m[i][1], &b, NULL, 0), 0);
		int64_t ta = 1640995200, tb = ta; /* 2022-01-01 */
		for (int k = 0; k < 50; k++) {
			ck_assert_int_eq(jobq_cron_next(a, z, ta, &ta), 0);
			ck_assert_int_eq(jobq_cron_next(b, z, tb, &tb), 0);
			ck_assert_msg(ta == tb, "%s", m[i][0]);
		}
		jobq_cron_free(a);
		jobq_cron_free(b);
	}
	jobq_zone_free(z);
}
END_TEST

START_TEST(dst_gaps_and_overlaps)
{
	static const struct jobq_vector cases[] = {
		/* New York, prev mirrors next: the gap run at 03:00, the first pass only. */
		{.expr = "30 2 * * *", .zone = "America/New_York", .from = "2024-03-11T00:00:00-04:00",
		 .n = 3, .prev = 1,
		 .expect = "2024-03-10T03:00:00-04:00,2024-03-09T02:30:00-05:00,"
			   "2024-03-08T02:30:00-05:00"},
		{.expr = "15,45 * * * *", .zone = "America/New_York",
		 .from = "2024-11-03T02:30:00-05:00", .n = 6, .prev = 1,
		 .expect = "2024-11-03T02:15:00-05:00,2024-11-03T01:45:00-05:00,"
			   "2024-11-03T01:15:00-05:00,2024-11-03T01:45:00-04:00,"
			   "2024-11-03T01:15:00-04:00,2024-11-03T00:45:00-04:00"},
		{.expr = "30 1 * * *", .zone = "America/New_York", .from = "2024-11-04T00:00:00-05:00",
		 .n = 2, .prev = 1, .expect = "2024-11-03T01:30:00-04:00,2024-11-02T01:30:00-04:00"},
		/* Berlin: two fixed times in one gap coalesce; a wildcard job just loses the hour. */
		{.expr = "30 2 * * *", .zone = "Europe/Berlin", .from = "2024-03-30T12:00:00+01:00",
		 .n = 2, .expect = "2024-03-31T03:00:00+02:00,2024-04-01T02:30:00+02:00"},
		{.expr = "* 2 * * *", .zone = "Europe/Berlin", .from = "2024-03-30T12:00:00+01:00",
		 .n = 1, .expect = "2024-04-01T02:00:00+02:00"},
		{.expr = "0,30 2 * * *", .zone = "Europe/Berlin", .from = "2024-03-30T12:00:00+01:00",
		 .n = 3,
		 .expect = "2024-03-31T03:00:00+02:00,2024-04-01T02:00:00+02:00,"
			   "2024-04-01T02:30:00+02:00"},
		{.expr = "0 2,3 * * *", .zone = "Europe/Berlin", .from = "2024-03-30T12:00:00+01:00",
		 .n = 3,
		 .expect = "2024-03-31T03:00:00+02:00,2024-04-01T02:00:00+02:00,"
			   "2024-04-01T03:00:00+02:00"},
		{.expr = "30 2 * * *", .zone = "Europe/Berlin", .from = "2024-10-26T12:00:00+02:00",
		 .n = 2, .expect = "2024-10-27T02:30:00+02:00,2024-10-28T02:30:00+01:00"},
		{.expr = "0 * * * *", .zone = "Europe/Berlin", .from = "2024-10-27T00:30:00+02:00",
		 .n = 4,
		 .expect = "2024-10-27T01:00:00+02:00,2024-10-27T02:00:00+02:00,"
			   "2024-10-27T02:00:00+01:00,2024-10-27T03:00:00+01:00"},
		/* Lord Howe moves by 30 minutes. */
		{.expr = "15 2 * * *", .zone = "Australia/Lord_Howe", .from = "2024-10-06T12:00:00+11:00",
		 .n = 1, .prev = 1, .expect = "2024-10-06T02:30:00+11:00"},
		{.expr = "*/15 2 * * *", .zone = "Australia/Lord_Howe",
		 .from = "2024-10-05T12:00:00+10:30", .n = 3,
		 .expect = "2024-10-06T02:30:00+11:00,2024-10-06T02:45:00+11:00,"
			   "2024-10-07T02:00:00+11:00"},
		{.expr = "*/15 1 * * *", .zone = "Australia/Lord_Howe",
		 .from = "2024-04-07T01:20:00+11:00", .n = 4,
		 .expect = "2024-04-07T01:30:00+11:00,2024-04-07T01:45:00+11:00,"
			   "2024-04-07T01:30:00+10:30,2024-04-07T01:45:00+10:30"},
		/* Goose Bay 1988: a 2-hour gap at 00:01 (so the run is at 02:01), and a 2-hour
		   overlap at 00:01 that repeats the end of the previous day. */
		{.expr = "30 1 * * *", .zone = "America/Goose_Bay", .from = "1988-04-02T12:00:00-04:00",
		 .n = 2, .expect = "1988-04-03T02:01:00-02:00,1988-04-04T01:30:00-02:00"},
		{.expr = "30 23 * * *", .zone = "America/Goose_Bay",
		 .from = "1988-10-29T12:00:00-02:00", .n = 2,
		 .expect = "1988-10-29T23:30:00-02:00,1988-10-30T23:30:00-04:00"},
		{.expr = "0 * * * *", .zone = "America/Goose_Bay", .from = "1988-10-29T22:30:00-02:00",
		 .n = 4,
		 .expect = "1988-10-29T23:00:00-02:00,1988-10-30T00:00:00-02:00,"
			   "1988-10-29T23:00:00-04:00,1988-10-30T00:00:00-04:00"},
		/* Troll changes by 2 hours every year, through its footer rule. */
		{.expr = "30 1 * * *", .zone = "Antarctica/Troll", .from = "2024-03-31T00:00:00Z",
		 .n = 1, .expect = "2024-03-31T03:00:00+02:00"},
		{.expr = "30 1 * * *", .zone = "Antarctica/Troll", .from = "2024-10-26T12:00:00Z",
		 .n = 2, .expect = "2024-10-27T01:30:00+02:00,2024-10-28T01:30:00+00:00"},
		/* Far future: only the POSIX footer knows these. */
		{.expr = "30 2 * * *", .zone = "Europe/Berlin", .from = "2399-03-27T12:00:00Z", .n = 2,
		 .expect = "2399-03-28T03:00:00+02:00,2399-03-29T02:30:00+02:00"},
		{.expr = "30 1 * * *", .zone = "America/New_York", .from = "2399-11-06T12:00:00Z",
		 .n = 2, .expect = "2399-11-07T01:30:00-04:00,2399-11-08T01:30:00-05:00"},
		{.expr = "30 2 * * *", .zone = "Europe/Berlin", .from = "9999-03-27T12:00:00Z", .n = 1,
		 .expect = "9999-03-28T03:00:00+02:00"},
	};
	RUN_CASES(cases);
}
END_TEST

START_TEST(zone_api)
{
	jobq_zone_t *a, *b;
	int off;
	ck_assert_int_eq(jobq_zone_load("UTC", NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_zone_load(NULL, &a), 0);
	ck_assert_int_eq(jobq_zone_offset(a, 0, &off), 0);
	ck_assert_int_eq(off, 0);
	jobq_zone_free(a);
	jobq_zone_free(NULL);
	ck_assert_int_eq(jobq_zone_offset(NULL, 1700000000, &off), 0);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(jobq_zone_offset(NULL, 0, NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_zone_offset(NULL, INT64_MAX, &off), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_zone_offset(NULL, INT64_MIN, &off), JOBQ_EINVAL);

	static const char *const bad[] = {
		"",      "../etc/passwd",  "/etc/localtime", "Europe/./Berlin", "Europe//Berlin",
		"Europe/Berlin/", "Europe/Ber lin", "Nope/Nowhere", "Europe/..", "Europe/Berlin\n",
		"Europe",  /* a directory */
		"zone.tab" /* not TZif */,
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(jobq_zone_load(bad[i], &a) == JOBQ_EZONE, "\"%s\"", bad[i]);
	if (access("/usr/share/zoneinfo/right/UTC", R_OK) == 0)
		ck_assert_int_eq(jobq_zone_load("right/UTC", &a), JOBQ_EZONE); /* leap seconds */

	/* The cache hands out one zone per name while a handle lives. */
	ck_assert_int_eq(jobq_zone_load("Europe/Berlin", &a), 0);
	ck_assert_int_eq(jobq_zone_load("Europe/Berlin", &b), 0);
	ck_assert_ptr_eq(a, b);
	jobq_zone_free(b);
	ck_assert_int_eq(jobq_zone_offset(a, 1719792000, &off), 0); /* 2024-07-01 */
	ck_assert_int_eq(off, 7200);
	ck_assert_int_eq(jobq_zone_offset(a, 1704067200, &off), 0); /* 2024-01-01 */
	ck_assert_int_eq(off, 3600);
	ck_assert_int_eq(jobq_zone_offset(a, -2422054408 - 1, &off), 0); /* before 1893 */
	ck_assert_int_eq(off, 3208);
	jobq_zone_free(a);
	ck_assert_int_eq(jobq_zone_load("Etc/UTC", &a), 0);
	ck_assert_int_eq(jobq_zone_offset(a, 1719792000, &off), 0);
	ck_assert_int_eq(off, 0);
	jobq_zone_free(a);

	jobq_cron_t *c;
	int64_t t;
	ck_assert_int_eq(jobq_cron_parse("* * * * *", &c, NULL, 0), 0);
	ck_assert_int_eq(jobq_cron_next(NULL, NULL, 0, &t), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_next(c, NULL, 0, NULL), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_next(c, NULL, INT64_MAX, &t), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_prev(c, NULL, INT64_MIN, &t), JOBQ_EINVAL);
	ck_assert_int_eq(jobq_cron_next(c, NULL, 253402300799, &t), JOBQ_ENEVER);
	ck_assert_int_eq(jobq_cron_prev(c, NULL, -62135596800, &t), JOBQ_ENEVER);
	ck_assert_int_eq(jobq_cron_prev(c, NULL, 60, &t), 0);
	ck_assert_int_eq(t, 0);
	jobq_cron_free(c);
}
END_TEST

START_TEST(posix_rules)
{
	static const char *const good[] = {
		"UTC0", "EST5", "<+0330>-3:30", "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
		"IST-2IDT,M3.4.4/26,M10.5.0", "EST5EDT,0/0,J365/25", "EST5EDT", "CET-1CEST-2:00:00,J60,300",
		"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", "XXX-24YYY-23,M1.1.0/-167,M12.5.6/167",
	};
	static const char *const bad[] = {
		"", "EST", "ES5", "<AB>5", "EST25", "EST5EDT,M3.2.0", "EST5EDT,M13.1.0,M11.1.0",
		"EST5EDT,M3.0.0,M11.1.0", "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J365",
		"EST5EDT,0,366", "EST5EDT,M3.2.0/168,M11.1.0", "EST5:60", "EST5EDT,M3.2.0,M11.1.0x",
		"EST+", "<EST5", "EST5EDT4,", "EST5EDT4;M3.2.0,M11.1.0",
	};
	struct jobq__tzrule r;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(jobq__tzrule_parse(good[i], strlen(good[i]), &r) == 0, "%s", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(jobq__tzrule_parse(bad[i], strlen(bad[i]), &r) != 0, "%s", bad[i]);

	static const struct {
		const char *rule;
		int64_t t;
		int off;
	} at[] = {
		/* Nuuk-style negative change times: last Sunday of March 2030 is the 31st, "-2" is
		   22:00 of the Saturday in -03, 01:00Z. */
		{"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", 1901149199, -10800},
		{"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", 1901149200, -7200},
		/* Israel's 26:00 on the 4th Thursday: 2030-03-28 + 26 h is Friday 02:00 +02, 00:00Z
		   on the 29th. */
		{"IST-2IDT,M3.4.4/26,M10.5.0", 1900972799, 7200},
		{"IST-2IDT,M3.4.4/26,M10.5.0", 1900972800, 10800},
		/* All-year DST: never back to standard, also at the year boundary. */
		{"EST5EDT,0/0,J365/25", 1925010000, -14400}, /* 2031-01-01 05:00Z */
		{"EST5EDT,0/0,J365/25", 1925009999, -14400},
		{"EST5EDT,0/0,J365/25", 1909000000, -14400},
		/* Jn never counts Feb 29, n does: in 2024, J60 is March 1, 59 is Feb 29. */
		{"XXX0YYY,J60/0,J300/0", 1709251199, 0},
		{"XXX0YYY,J60/0,J300/0", 1709251200, 3600},
		{"XXX0YYY,59/0,300/0", 1709164799, 0},
		{"XXX0YYY,59/0,300/0", 1709164800, 3600},
		/* The default rule is the US one: 2024-03-10 07:00Z. */
		{"EST5EDT", 1710054000, -14400},
		{"EST5EDT", 1710053999, -18000},
	};
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		struct jobq__span sp;
		ck_assert_int_eq(jobq__tzrule_parse(at[i].rule, strlen(at[i].rule), &r), 0);
		jobq__tzrule_span(&r, at[i].t, &sp);
		ck_assert_msg(sp.off == at[i].off && sp.start <= at[i].t && at[i].t < sp.end,
			      "%s at %lld: %d in [%lld, %lld)", at[i].rule, (long long)at[i].t, sp.off,
			      (long long)sp.start, (long long)sp.end);
	}
}
END_TEST

/* ---- crafted and corrupted TZif files, read through $TZDIR ---- */

static char tzdir[64];

static void make_tzdir(void)
{
	strcpy(tzdir, "/tmp/jobq-tz-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tzdir));
	setenv("TZDIR", tzdir, 1);
}

static void remove_tzdir(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/Zone", tzdir);
	unlink(path);
	rmdir(tzdir);
	unsetenv("TZDIR");
}

static void write_zone(const unsigned char *b, size_t len)
{
	char path[128];
	snprintf(path, sizeof path, "%s/Zone", tzdir);
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(b, 1, len, f), len);
	fclose(f);
}

static unsigned char *put(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

/* A TZif file: offset off0, then offs[i] from when[i]; version 0 (v1 only) or '2' with footer. */
static size_t tzif(unsigned char *buf, char version, int32_t off0, int n, const int64_t *when,
		   const int32_t *offs, const char *footer)
{
	unsigned char *p = buf;
	for (int pass = 0; pass < (version ? 2 : 1); pass++) {
		int tsize = pass ? 8 : 4;
		memcpy(p, "TZif", 4);
		p[4] = (unsigned char)version;
		memset(p + 5, 0, 15);
		p = put(p + 20, 0, 4);
		p = put(p, 0, 4);
		p = put(p, 0, 4);
		p = put(p, (uint32_t)n, 4);
		p = put(p, (uint32_t)n + 1, 4);
		p = put(p, 4, 4);
		for (int i = 0; i < n; i++)
			p = put(p, (uint64_t)when[i], tsize);
		for (int i = 0; i < n; i++)
			*p++ = (unsigned char)(i + 1);
		for (int i = 0; i <= n; i++) {
			p = put(p, (uint32_t)(i ? offs[i - 1] : off0), 4);
			*p++ = 0;
			*p++ = 0;
		}
		memcpy(p, "XXX", 4);
		p += 4;
	}
	if (version)
		p += sprintf((char *)p, "\n%s\n", footer);
	return (size_t)(p - buf);
}

START_TEST(crafted_files)
{
	unsigned char buf[512];
	jobq_zone_t *z;
	int off;
	int64_t when[] = {1000000, 2000000, 3000000};
	int32_t offs[] = {3600, 3600, -1800}; /* the middle change only renames: no boundary */

	make_tzdir();
	write_zone(buf, tzif(buf, 0, 600, 3, when, offs, NULL));
	ck_assert_int_eq(jobq_zone_load("Zone", &z), 0);
	int64_t probe[][2] = {{999999, 600}, {1000000, 3600}, {2500000, 3600}, {3000000, -1800},
			      {253402300799, -1800}};
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(jobq_zone_offset(z, probe[i][0], &off), 0);
		ck_assert_int_eq(off, probe[i][1]);
	}
	struct jobq__span sp;
	jobq__zone_span(z, 2500000, &sp);
	ck_assert(sp.start == 1000000 && sp.end == 3000000 && sp.prev_off == 600);
	jobq_zone_free(z);

	/* A footer-only v2 zone with all-year DST: daily jobs run daily across new year. */
	write_zone(buf, tzif(buf, '2', -18000, 0, NULL, NULL, "EST5EDT,0/0,J365/25"));
	ck_assert_int_eq(jobq_zone_load("Zone", &z), 0);
	jobq_cron_t *c;
	ck_assert_int_eq(jobq_cron_parse("0 0 * * *", &c, NULL, 0), 0);
	int64_t t = 1925010000 - 3 * 86400, prev = t;
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(jobq_cron_next(c, z, t, &t), 0);
		ck_assert_int_eq(jobq_zone_offset(z, t, &off), 0);
		ck_assert_int_eq(off, -14400);
		ck_assert_int_eq((t + off) % 86400, 0);
		ck_assert(i == 0 || t - prev == 86400);
		prev = t;
	}
	jobq_cron_free(c);
	jobq_zone_free(z);

	/* A table that ends before the footer takes over: the last transition is where. */
	int64_t w2[] = {1000000};
	int32_t o2[] = {7200};
	write_zone(buf, tzif(buf, '2', 0, 1, w2, o2, "<+02>-2"));
	ck_assert_int_eq(jobq_zone_load("Zone", &z), 0);
	ck_assert_int_eq(jobq_zone_offset(z, 999999, &off), 0);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(jobq_zone_offset(z, 5000000000, &off), 0);
	ck_assert_int_eq(off, 7200);
	jobq_zone_free(z);

	/* Bad footers, unordered times, offsets past 26 hours, v2 without its footer. */
	write_zone(buf, tzif(buf, '2', 0, 0, NULL, NULL, "EST5EDT,M3"));
	ck_assert_int_eq(jobq_zone_load("Zone", &z), JOBQ_EZONE);
	int64_t w3[] = {2000000, 1000000};
	write_zone(buf, tzif(buf, '2', 0, 2, w3, offs, ""));
	ck_assert_int_eq(jobq_zone_load("Zone", &z), JOBQ_EZONE);
	int32_t o4[] = {93600};
	write_zone(buf, tzif(buf, '2', 0, 1, w2, o4, ""));
	ck_assert_int_eq(jobq_zone_load("Zone", &z), JOBQ_EZONE);
	size_t len = tzif(buf, '2', 0, 0, NULL, NULL, "");
	write_zone(buf, len - 2);
	ck_assert_int_eq(jobq_zone_load("Zone", &z), JOBQ_EZONE);
	remove_tzdir();
}
END_TEST

static uint64_t rng = 0x9e3779b97f4a7c15u;


static size_t slurp(const char *path, unsigned char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	ck_assert_uint_lt(n, cap);
	return n;
}

/* Every truncation of real files fails cleanly; mutated ones never crash and, if accepted, still
   answer every query. */
START_TEST(corrupted_files)
{
	static const char *const real[] = {"/usr/share/zoneinfo/Europe/Berlin",
					   "/usr/share/zoneinfo/America/Sao_Paulo"};
	static unsigned char orig[65536], buf[65536];
	jobq_cron_t *c;
	ck_assert_int_eq(jobq_cron_parse("*/7 1-3 * * *", &c, NULL, 0), 0);
	make_tzdir();
	for (size_t f = 0; f < 2; f++) {
		size_t len = slurp(real[f], orig, sizeof orig);
		jobq_zone_t *z;
		for (size_t cut = 0; cut < len; cut += 1 + cut / 64) {
			write_zone(orig, cut);
			ck_assert_msg(jobq_zone_load("Zone", &z) == JOBQ_EZONE, "%s cut at %zu", real[f],
				      cut);
		}
		int accepted = 0;
		for (int i = 0; i < (getenv("JOBQ_TEST_QUICK") ? 300 : 1500); i++) {
			memcpy(buf, orig, len);
			for (int k = 1 + (int)(test_rnd(&rng) % 4); k > 0; k--)
				buf[test_rnd(&rng) % len] ^= (unsigned char)(1u << test_rnd(&rng) % 8);
			write_zone(buf, len);
			if (jobq_zone_load("Zone", &z) != 0)
				continue;
			accepted++;
			for (int k = 0; k < 20; k++) {
				int64_t t = (int64_t)(test_rnd(&rng) % 10000000000u) - 2000000000, r;
				int off;
				ck_assert_int_eq(jobq_zone_offset(z, t, &off), 0);
				ck_assert(off >= -89999 && off <= 93599);
				if (jobq_cron_next(c, z, t, &r) == 0)
					ck_assert(r > t);
				if (jobq_cron_prev(c, z, t, &r) == 0)
					ck_assert(r < t);
			}
			jobq_zone_free(z);
		}
		ck_assert_int_gt(accepted, 0); /* flips in the v1 block or names are harmless */
	}
	remove_tzdir();
	jobq_cron_free(c);
}
END_TEST

static void *zone_worker(void *arg)
{
	static const char *const names[] = {"Europe/Berlin", "America/New_York", "Asia/Tokyo"};
	jobq_cron_t *c;
	int64_t sum = 0;
	ck_assert_int_eq(jobq_cron_parse("30 2 * * *", &c, NULL, 0), 0);
	for (int i = 0; i < 300; i++) {
		jobq_zone_t *z;
		int64_t t;
		ck_assert_int_eq(jobq_zone_load(names[(i + (intptr_t)arg) % 3], &z), 0);
		ck_assert_int_eq(jobq_cron_next(c, z, 1700000000 + i * 86400, &t), 0);
		sum += t;
		jobq_zone_free(z);
	}
	jobq_cron_free(c);
	return (void *)(intptr_t)(sum != 0);
}

/* Loads and frees racing on the cache (run it under SANITIZE=thread). */
START_TEST(zone_cache_threads)
{
	pthread_t th[4];
	for (intptr_t i = 0; i < 4; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, zone_worker, (void *)i), 0);
	for (int i = 0; i < 4; i++) {
		void *ok;
		pthread_join(th[i], &ok);
		ck_assert_ptr_eq(ok, (void *)1);
	}
}
END_TEST

/* Seeded random expressions, from plausible to garbage: parsing never crashes, a rejection always
   names a column, and every accepted expression searches to an answer in both directions. */
START_TEST(fuzz_expressions)
{
	static const char *const atoms[] = {
		"*", "?", "L", "W", "LW", "#", "/", "-", ",", " ", " ", " ", "\t", "0", "1", "5", "7",
		"12", "23", "31", "59", "60", "99", "MON", "fri", "JAN", "dec", "@daily", "@", "x",
		"\xff", "L-", "3#2", "5L", "15W", "*/", "1-5", "0/4",
	};
	static const char *const zones[] = {"UTC", "America/New_York", "Australia/Lord_Howe",
					    "Pacific/Apia"};
	jobq_zone_t *z[4];
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(jobq_zone_load(zones[i], &z[i]), 0);
	int accepted = 0, n = getenv("JOBQ_TEST_QUICK") ? 5000 : 30000;
	for (int i = 0; i < n; i++) {
		char expr[128] = "", err[200];
		int atoms_n = (int)(test_rnd(&rng) % 16);
		for (int k = 0; k < atoms_n; k++)
			strcat(expr, atoms[test_rnd(&rng) % (sizeof atoms / sizeof atoms[0])]);
		if (test_rnd(&rng) % 2 == 0) /* a valid frame with one random field */
			snprintf(expr, sizeof expr, "%s %s * * %s", test_rnd(&rng) % 2 ? "*/5" : "0",
				 atoms[test_rnd(&rng) % 20], atoms[test_rnd(&rng) % 38]);
		jobq_cron_t *c;
		int rc = jobq_cron_parse(expr, &c, err, sizeof err);
		if (rc != 0) {
			ck_assert_int_eq(rc, JOBQ_ECRON);
			ck_assert_msg(strstr(err, "at column ") != NULL, "%s: %s", expr, err);
			continue;
		}
		accepted++;
		int64_t t = (int64_t)(test_rnd(&rng) % 8000000000u) - 1000000000, r;
		const jobq_zone_t *zz = z[test_rnd(&rng) % 4];
		rc = jobq_cron_next(c, zz, t, &r);
		ck_assert(rc == JOBQ_ENEVER || (rc == 0 && r > t));
		rc = jobq_cron_prev(c, zz, t, &r);
		ck_assert(rc == JOBQ_ENEVER || (rc == 0 && r < t));
		jobq_cron_free(c);
	}
	ck_assert_int_gt(accepted, n / 20);
	for (int i = 0; i < 4; i++)
		jobq_zone_free(z[i]);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("cron");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, parse_errors);
	tcase_add_test(tc, parse_edges);
	tcase_add_test(tc, fuzz_expressions);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	tc = tcase_create("search");
	tcase_add_test(tc, day_extras);
	tcase_add_test(tc, macros);
	tcase_add_test(tc, dst_gaps_and_overlaps);
	suite_add_tcase(s, tc);
	tc = tcase_create("zones");
	tcase_add_test(tc, zone_api);
	tcase_add_test(tc, posix_rules);
	tcase_add_test(tc, crafted_files);
	tcase_add_test(tc, corrupted_files);
	tcase_add_test(tc, zone_cache_threads);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
