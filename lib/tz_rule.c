/*
 * tz_rule.c: the POSIX TZ rule that ends a TZif v2+ file ("CET-1CEST,M3.5.0,M10.5.0/3"), which
 * gives the zone's clock changes for every year past the file's table.
 *
 * Owns no state: parsing fills a caller's struct, and a span is computed from the rule alone, so
 * any thread may call both. The grammar is POSIX's plus the RFC 8536 extensions: angle-bracket
 * names ("<+0330>-3:30"), signed change times and times up to 167 hours (v3), which is how
 * tzdata writes "all year DST" and changes "at 24:00 on the last Saturday".
 *
 * Spans are computed on demand from the rule of the year around the instant (five years of
 * changes, sorted, merged) rather than from a table precomputed at load time: that keeps a zone
 * small and makes far-future dates cost the same as near ones.
 */
#include <string.h>

#include "civil.h"
#include "tz.h"

struct cur {
	const char *p, *end;
};

static int peek(const struct cur *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

static int alpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* A zone abbreviation: three or more letters, or <...> of letters, digits, '+' and '-'. */
static int name(struct cur *c)
{
	const char *start = c->p;
	if (peek(c) == '<') {
		c->p++;
		start = c->p;
		while (alpha(peek(c)) || digit(peek(c)) || peek(c) == '+' || peek(c) == '-')
			c->p++;
		if (peek(c) != '>' || c->p - start < 3)
			return -1;
		c->p++;
		return 0;
	}
	while (alpha(peek(c)))
		c->p++;
	return c->p - start >= 3 ? 0 : -1;
}

/* A number of at most three digits, at most max. */
static int number(struct cur *c, int max, int *out)
{
	int v = 0, n = 0;
	while (digit(peek(c)) && n < 3) {
		v = v * 10 + (*c->p++ - '0');
		n++;
	}
	if (n == 0 || digit(peek(c)) || v > max)
		return -1;
	*out = v;
	return 0;
}

/* [+-]hh[:mm[:ss]] with hh at most max_hours; the sign is POSIX's (positive = west). */
static int hms(struct cur *c, int max_hours, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;
	if (peek(c) == '+' || peek(c) == '-')
		sign = *c->p++ == '-' ? -1 : 1;
	if (number(c, max_hours, &h))
		return -1;
	if (peek(c) == ':') {
		c->p++;
		if (number(c, 59, &m))
			return -1;
		if (peek(c) == ':') {
			c->p++;
			if (number(c, 59, &s))
				return -1;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return 0;
}

static int date(struct cur *c, struct jobq__tzdate *d)
{
	memset(d, 0, sizeof *d);
	d->secs = 7200; /* POSIX: 02:00 unless a time is given */
	if (peek(c) == 'J') {
		c->p++;
		d->kind = 'J';
		if (number(c, 365, &d->n) || d->n < 1)
			return -1;
	} else if (peek(c) == 'M') {
		c->p++;
		d->kind = 'M';
		if (number(c, 12, &d->m) || d->m < 1 || peek(c) != '.')
			return -1;
		c->p++;
		if (number(c, 5, &d->w) || d->w < 1 || peek(c) != '.')
			return -1;
		c->p++;
		if (number(c, 6, &d->d))
			return -1;
	} else {
		d->kind = 'D';
		if (number(c, 365, &d->n))
			return -1;
	}
	if (peek(c) == '/') {
		c->p++;
		return hms(c, 167, &d->secs);
	}
	return 0;
}

int jobq__tzrule_parse(const char *s, size_t len, struct jobq__tzrule *r)
{
	struct cur c = {s, s + len};
	int32_t west;
	memset(r, 0, sizeof *r);
	if (name(&c) || hms(&c, 24, &west))
		return -1;
	r->std_off = r->dst_off = -west;
	if (peek(&c) == -1)
		return 0;
	if (name(&c))
		return -1;
	r->has_dst = 1;
	r->dst_off = r->std_off + 3600;
	if (peek(&c) != ',' && peek(&c) != -1) {
		if (hms(&c, 24, &west))
			return -1;
		r->dst_off = -west;
	}
	if (peek(&c) == -1) {
		/* POSIX leaves the default rule to the implementation; tzcode uses the US one. */
		r->start = (struct jobq__tzdate){.kind = 'M', .m = 3, .w = 2, .d = 0, .secs = 7200};
		r->end = (struct jobq__tzdate){.kind = 'M', .m = 11, .w = 1, .d = 0, .secs = 7200};
		return 0;
	}
	if (peek(&c) != ',')
		return -1;
	c.p++;
	if (date(&c, &r->start) || peek(&c) != ',')
		return -1;
	c.p++;
	if (date(&c, &r->end) || peek(&c) != -1)
		return -1;
	return 0;
}

/* The day (days since 1970-01-01) on which date d falls in year y. */
static int64_t rule_day(const struct jobq__tzdate *d, int64_t y)
{
	int64_t jan1 = jobq__days_from_civil(y, 1, 1);
	if (d->kind == 'J')
		return jan1 + d->n - 1 + (jobq__is_leap(y) && d->n >= 60);
	if (d->kind == 'D')
		return jan1 + d->n;
	int64_t first = jobq__days_from_civil(y, d->m, 1);
	int day = (d->d - jobq__weekday(first) + 7) % 7 + 7 * (d->w - 1);
	if (day >= jobq__days_in_month(y, d->m))
		day -= 7; /* week 5 means the last such weekday */
	return first + day;
}

struct change {
	int64_t at;
	int32_t off; /* offset from `at` on */
};

void jobq__tzrule_span(const struct jobq__tzrule *r, int64_t t, struct jobq__span *sp)
{
	sp->start = INT64_MIN;
	sp->end = INT64_MAX;
	sp->off = sp->prev_off = r->std_off;
	if (!r->has_dst)
		return;

	/*
	 * The changes of t's year and the years either side. A change may lie up to eight days
	 * outside its own year (167 h plus the offset), so these hold every change within a year
	 * of t; where none lies before (or after) t, the span ends at a pseudo boundary, which is
	 * true since no change lies between it and t. Sorting is stable, so of two changes at one
	 * instant the later year's wins, which is what makes "all year DST" (end of year y at the
	 * same instant as the start of year y+1) no change at all.
	 */
	struct change ch[6];
	int n = 0, y, m, d;
	jobq__civil_from_days(jobq__floor_div(t, 86400), &y, &m, &d);
	for (int k = 0; k < 3; k++) {
		int64_t yy = (int64_t)y - 1 + k;
		ch[n++] = (struct change){rule_day(&r->start, yy) * 86400 + r->start.secs - r->std_off,
					  r->dst_off};
		ch[n++] = (struct change){rule_day(&r->end, yy) * 86400 + r->end.secs - r->dst_off,
					  r->std_off};
	}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && ch[j - 1].at > ch[j].at; j--) {
			struct change tmp = ch[j];
			ch[j] = ch[j - 1];
			ch[j - 1] = tmp;
		}

	/* Before the first change the clock shows the other offset. */
	int32_t cur = ch[0].off == r->dst_off ? r->std_off : r->dst_off;
	int64_t start = INT64_MIN;
	int32_t prev = cur;
	for (int i = 0; i < n; i++) {
		if (i + 1 < n && ch[i + 1].at == ch[i].at)
			continue;
		if (ch[i].off == cur)
			continue;
		if (ch[i].at > t) {
			sp->end = ch[i].at;
			break;
		}
		prev = cur;
		cur = ch[i].off;
		start = ch[i].at;
	}
	/* Past the window's edges nothing is known here: end the span at a pseudo boundary, which
	   a caller crosses without any change, rather than claim the offset holds forever. */
	if (start == INT64_MIN) {
		start = jobq__days_from_civil(y, 1, 1) * 86400;
		prev = cur;
	}
	if (sp->end == INT64_MAX)
		sp->end = jobq__days_from_civil((int64_t)y + 1, 1, 1) * 86400;
	sp->start = start;
	sp->off = cur;
	sp->prev_off = prev;
}
