/*
 * cron_parse.c: turns cron text into the bitmasks of struct jobq_cron (cron.h), with errors that
 * name the column and the field.
 *
 * The dialect is CRON.md's: 5 fields, or 6 with seconds first; a star, a, a-b, each with an
 * optional step /n (a/n is a-max/n), lists; month and weekday names; '?' in the day fields; L,
 * L-n, nW, LW in day-of-month; nL and n#k in day-of-week; the @ macros. Whether a day field or
 * the minute or hour field starts with '*' is recorded as a flag, because cronie's day rule and
 * its DST rule look at the text, not at the set (a stepped star still counts, "0-59" does not).
 *
 * Pure: no globals, no locale (names compare ASCII case-insensitively), any thread. Items are
 * checked in place in the caller's string; nothing is copied until the expression is valid.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "cron.h"

#define EXPR_MAX 1024

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW };

static const struct spec {
	const char *name;
	int lo, hi;
} specs[6] = {
	{"second", 0, 59},       {"minute", 0, 59}, {"hour", 0, 23},
	{"day-of-month", 1, 31}, {"month", 1, 12},  {"day-of-week", 0, 7},
};

static const char *const macros[][2] = {
	{"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

struct ps {
	const char *expr; /* for columns */
	char *err;
	size_t errlen;
	int field; /* F_*, or -1 outside the fields */
};

static int fail(const struct ps *ps, const char *at, const char *fmt, ...) JOBQ_PRINTF(3, 4);

static int fail(const struct ps *ps, const char *at, const char *fmt, ...)
{
	if (!ps->err || ps->errlen == 0)
		return JOBQ_ECRON;
	char what[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int col = (int)(at - ps->expr) + 1;
	if (ps->field >= 0)
		snprintf(ps->err, ps->errlen, "invalid cron expression at column %d (%s): %s", col,
			 specs[ps->field].name, what);
	else
		snprintf(ps->err, ps->errlen, "invalid cron expression at column %d: %s", col, what);
	return JOBQ_ECRON;
}

static int unexpected(const struct ps *ps, const char *p)
{
	unsigned char ch = (unsigned char)*p;
	if (ch > ' ' && ch < 127)
		return fail(ps, p, "unexpected character '%c'", ch);
	return fail(ps, p, "unexpected byte 0x%02x", ch);
}

static bool isdigit_(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool isalpha_(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int upper(char ch)
{
	return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

/* ASCII case-insensitive comparison of n bytes: names must not depend on the locale. */
static bool same(const char *a, const char *b, size_t n)
{
	while (n && upper(*a) == upper(*b))
		a++, b++, n--;
	return n == 0;
}

/* Digits at *p as a number that saturates at 999999; how many digits there were. */
static int digits(const char **p, const char *e, int *v)
{
	const char *s = *p;
	*v = 0;
	while (s < e && isdigit_(*s)) {
		if (*v < 100000)
			*v = *v * 10 + (*s - '0');
		else
			*v = 999999;
		s++;
	}
	int n = (int)(s - *p);
	*p = s;
	return n;
}

/* A number at *p within lo..hi (hi INT_MAX: no upper bound), reported as `what` ("value", ...). */
static int number(const struct ps *ps, const char **p, const char *e, const char *what, int lo,
		  int hi, int *v)
{
	const char *at = *p;
	int n = digits(p, e, v);
	if (n == 0)
		return *p < e ? unexpected(ps, *p) : fail(ps, *p, "missing %s", what);
	if (*v < lo && hi == INT_MAX)
		return fail(ps, at, "%s must be at least %d", what, lo);
	if (*v < lo || *v > hi)
		return fail(ps, at, "%s %.*s out of range %d-%d", what, n > 20 ? 20 : n, at, lo, hi);
	return 0;
}

/* A number or, in month and day-of-week, a three-letter name. */
static int value(const struct ps *ps, const char **p, const char *e, int f, int *v)
{
	const char *s = *p;
	if (s >= e || !isalpha_(*s))
		return number(ps, p, e, "value", specs[f].lo, specs[f].hi, v);
	while (s < e && isalpha_(*s))
		s++;
	int len = (int)(s - *p);
	const char *names = f == F_MON ? "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC"
			    : f == F_DOW ? "SUNMONTUEWEDTHUFRISAT"
					 : "";
	for (int i = 0; len == 3 && names[3 * i]; i++)
		if (same(*p, names + 3 * i, 3)) {
			*v = f == F_MON ? i + 1 : i;
			*p = s;
			return 0;
		}
	if (f == F_DOW && len == 1 && upper(**p) == 'L')
		return fail(ps, *p, "'L' needs a weekday before it, as in 5L");
	return fail(ps, *p, "unknown name '%.*s'", len > 20 ? 20 : len, *p);
}

static void set_range(struct jobq_cron *c, int f, int lo, int hi, int step)
{
	for (int v = lo; v <= hi; v += step)
		switch (f) {
		case F_SEC: c->sec |= UINT64_C(1) << v; break;
		case F_MIN: c->min |= UINT64_C(1) << v; break;
		case F_HOUR: c->hour |= UINT32_C(1) << v; break;
		case F_DOM: c->dom |= UINT32_C(1) << v; break;
		case F_MON: c->mon |= (uint16_t)(1u << v); break;
		default: c->dow |= (uint8_t)(1u << (v % 7)); break;
		}
}

/* The day-of-month items that start with L: L, L-n, LW. */
static int dom_last(const struct ps *ps, struct jobq_cron *c, const char *p, const char *e)
{
	int n = 0, rc;
	bool lw = false;
	p++;
	if (p < e && upper(*p) == 'W') {
		lw = true;
		p++;
	} else if (p < e && *p == '-') {
		p++;
		if ((rc = number(ps, &p, e, "value", 0, 30, &n)))
			return rc;
	}
	if (p != e)
		return unexpected(ps, p);
	if (lw)
		c->last_wday = true;
	else
		c->dom_last |= UINT32_C(1) << n;
	return 0;
}

/* One list item of field f: [p, e). */
static int item(const struct ps *ps, struct jobq_cron *c, int f, const char *p, const char *e)
{
	const struct spec *sp = &specs[f];
	const char *at = p;
	int lo = sp->lo, hi = sp->hi, step = 1, rc;
	bool single = false;
	if (p == e)
		return fail(ps, p, "empty list item");
	if (*p == '*') {
		p++;
	} else if (f == F_DOM && upper(*p) == 'L') {
		return dom_last(ps, c, p, e);
	} else {
		if ((rc = value(ps, &p, e, f, &lo)))
			return rc;
		/* nW in day-of-month, nL and n#k in day-of-week: a value with a suffix, alone. */
		int suffix = p < e ? upper(*p) : 0, k = 0;
		if ((f == F_DOM && suffix == 'W') || (f == F_DOW && (suffix == 'L' || suffix == '#'))) {
			p++;
			if (suffix == '#' && (rc = number(ps, &p, e, "occurrence", 1, 5, &k)))
				return rc;
			if (p != e)
				return unexpected(ps, p);
			if (suffix == 'W')
				c->dom_near |= UINT32_C(1) << lo;
			else if (suffix == 'L')
				c->dow_last |= (uint8_t)(1u << lo % 7);
			else
				c->dow_nth[k - 1] |= (uint8_t)(1u << lo % 7);
			return 0;
		}
		hi = lo;
		if (p < e && *p == '-') {
			p++;
			if ((rc = value(ps, &p, e, f, &hi)))
				return rc;
			if (f == F_DOW && hi == 0 && lo > 0)
				hi = 7; /* "fri-sun" is 5-7, as in cronie */
			if (hi < lo)
				return fail(ps, at, "backwards range %.*s", (int)(p - at), at);
		} else {
			single = true;
		}
	}
	if (p < e && *p == '/') {
		p++;
		/* Any positive step, as in cronie: "5/13" in day-of-week is just Friday. */
		if ((rc = number(ps, &p, e, "step", 1, INT_MAX, &step)))
			return rc;
		if (single)
			hi = sp->hi; /* "a/n" is "a-max/n" */
	}
	if (p != e)
		return unexpected(ps, p);
	set_range(c, f, lo, hi, step);
	return 0;
}

static int field(struct ps *ps, struct jobq_cron *c, int f, const char *b, const char *e)
{
	ps->field = f;
	bool day = f == F_DOM || f == F_DOW;
	if (e - b == 1 && *b == '?') {
		if (!day)
			return fail(ps, b, "'?' is only allowed in the day fields");
		set_range(c, f, specs[f].lo, specs[f].hi, 1);
		c->flags |= f == F_DOM ? JOBQ__DOM_STAR : JOBQ__DOW_STAR;
		return 0;
	}
	if (*b == '*')
		c->flags |= f == F_DOM ? JOBQ__DOM_STAR : f == F_DOW ? JOBQ__DOW_STAR
			    : f == F_MIN || f == F_HOUR ? JOBQ__WILD : 0;
	for (const char *p = b;; p++) {
		const char *comma = p;
		while (comma < e && *comma != ',')
			comma++;
		int rc = item(ps, c, f, p, comma);
		if (rc)
			return rc;
		if (comma == e)
			return 0;
		p = comma;
	}
}

int jobq_cron_parse(const char *expr, jobq_cron_t **out, char *err, size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!expr || !out)
		return JOBQ_EINVAL;
	struct ps ps = {expr, err, errlen, -1};
	size_t len = strnlen(expr, EXPR_MAX + 1);
	if (len > EXPR_MAX)
		return fail(&ps, expr + EXPR_MAX, "expression longer than %d bytes", EXPR_MAX);

	const char *b[6], *e[6], *p = expr, *extra = NULL;
	int n = 0;
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == 6 && !extra)
			extra = p;
		const char *start = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (n < 6) {
			b[n] = start;
			e[n] = p;
		}
		n++;
	}
	if (n == 0)
		return fail(&ps, expr, "empty expression");
	if (*b[0] == '@') {
		int mlen = (int)(e[0] - b[0]);
		for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
			if (strlen(macros[i][0]) == (size_t)mlen && same(macros[i][0], b[0], (size_t)mlen)) {
				if (n > 1)
					return fail(&ps, b[1], "unexpected text after %s",
						    macros[i][0]);
				return jobq_cron_parse(macros[i][1], out, err, errlen);
			}
		/* Echo at most 20 bytes of the name, and none from its first unprintable byte on
		 * (a newline or an escape would break the one-line message). */
		int shown = 1;
		while (shown < mlen && shown < 20 && b[0][shown] > ' ' && b[0][shown] < 127)
			shown++;
		return fail(&ps, b[0], "unknown macro '%.*s'", shown, b[0]);
	}
	if (n < 5 || n > 6)
		return fail(&ps, n < 5 ? p : extra, "expected 5 or 6 fields, found %d", n);

	struct jobq_cron c = {0};
	int first = n == 6 ? F_SEC : F_MIN;
	if (n == 5)
		c.sec = 1;
	for (int i = 0; i < n; i++) {
		int rc = field(&ps, &c, first + i, b[i], e[i]);
		if (rc)
			return rc;
	}
	jobq_cron_t *copy = jobq__malloc(sizeof *copy);
	if (!copy)
		return JOBQ_ENOMEM;
	*copy = c;
	*out = copy;
	return 0;
}

void jobq_cron_free(jobq_cron_t *c)
{
	jobq__free(c);
}
