/*
 * civil.h: proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01) and
 * the limits of the time span jobq's cron and zone code accept.
 *
 * The conversions are Howard Hinnant's days_from_civil / civil_from_days: exact, branch-light,
 * no tables and no time zone, so every caller (zone rules, cron search, RFC 3339 text) can use
 * them from any thread. They are static inline because the cron search calls them per step.
 */
#ifndef JOBQ_CIVIL_H
#define JOBQ_CIVIL_H

#include <stdint.h>

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the years RFC 3339 can write. */
#define JOBQ__T_MIN INT64_C(-62135596800)
#define JOBQ__T_MAX INT64_C(253402300799)

static inline int64_t jobq__floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static inline int64_t jobq__days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static inline void jobq__civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

/* 0 = Sunday; day 0 (1970-01-01) was a Thursday. */
static inline int jobq__weekday(int64_t days)
{
	return (int)((days % 7 + 11) % 7);
}

static inline int jobq__is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static inline int jobq__days_in_month(int64_t y, int m)
{
	static const unsigned char n[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return n[m - 1] + (m == 2 && jobq__is_leap(y));
}

#endif
