/*
 * rfc3339.c: RFC 3339 timestamps as text, for jobq-cron and the tests: "2024-03-10T03:00:00-04:00".
 *
 * Written by hand because strptime/strftime bring the locale and mktime/timegm bring $TZ: the
 * offset in the text is the only zone involved. Internal to the library (cron.h); pure, any
 * thread.
 */
#include <stdio.h>

#include "civil.h"
#include "cron.h"

/* Exactly n digits at *p. */
static bool num(const char **p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

static bool lit(const char **p, const char *set)
{
	for (; *set; set++)
		if (**p == *set) {
			(*p)++;
			return true;
		}
	return false;
}

int jobq__rfc3339_parse(const char *s, int64_t *t, bool *frac)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0;
	if (!num(&s, 4, &y) || !lit(&s, "-") || !num(&s, 2, &mo) || !lit(&s, "-") ||
	    !num(&s, 2, &d) || !lit(&s, "Tt ") || !num(&s, 2, &h) || !lit(&s, ":") ||
	    !num(&s, 2, &mi) || !lit(&s, ":") || !num(&s, 2, &sec))
		return -1;
	/* A leap second (:60) is the last second of its minute with a fraction. */
	*frac = sec == 60;
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9')
			*frac |= *s++ != '0';
	}
	int sign = 0;
	if (lit(&s, "+"))
		sign = 1;
	else if (lit(&s, "-"))
		sign = -1;
	else if (!lit(&s, "Zz"))
		return -1;
	if (sign && (!num(&s, 2, &oh) || !lit(&s, ":") || !num(&s, 2, &om)))
		return -1;
	if (*s || y < 1 || mo < 1 || mo > 12 || d < 1 || d > jobq__days_in_month(y, mo) || h > 23 ||
	    mi > 59 || sec > 60 || oh > 23 || om > 59)
		return -1;
	*t = jobq__days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + (sec == 60 ? 59 : sec) -
	     sign * (oh * 3600 + om * 60);
	return 0;
}

void jobq__rfc3339_format(int64_t t, int off, char *buf)
{
	int64_t w = t + off, day = jobq__floor_div(w, 86400);
	int y, mo, d, s = (int)(w - day * 86400);
	jobq__civil_from_days(day, &y, &mo, &d);
	int a = off < 0 ? -off : off;
	int n = snprintf(buf, 32, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, mo, d, s / 3600,
			 s / 60 % 60, s % 60, off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
	if (a % 60)
		snprintf(buf + n, 32 - (size_t)n, ":%02d", a % 60);
}
