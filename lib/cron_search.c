/*
 * cron_search.c: jobq_cron_next and jobq_cron_prev: the fire times of a parsed expression in a
 * zone, under cron(8)'s DST policy (CRON.md).
 *
 * Two layers. A calendar seek finds the nearest wall-clock time that matches the fields, field by
 * field with bit scans (a month without a match is skipped in one step, seconds are never
 * iterated). Around it, the timeline is walked span by span, a span being a stretch of constant
 * UTC offset (tz.h): inside one, wall time is UTC plus a constant, so the seek's answer maps
 * straight back. The DST policy lives only at span starts: after a gap, a fixed-time job whose
 * time was skipped fires once at the span's first instant; after an overlap, a fixed-time job
 * skips the wall times that repeat the previous span's. Wildcard jobs just follow the clock.
 *
 * Both directions share one seek and one walk, so next and prev always describe the same set of
 * instants. The Gregorian calendar repeats every 400 years, weekdays included, so a seek that
 * finds nothing in 400 years means the expression never matches; the walk gives up after 400
 * years too, which also ends schedules whose every match falls in gaps. Pure functions of their
 * arguments: no clock, no globals, any thread.
 */
#include "civil.h"
#include "cron.h"
#include "tz.h"

#define HORIZON (INT64_C(146097) * 86400 + 2 * 86400) /* 400 years, and the widest offset change */

/* The set bit of mask nearest to i in direction dir, i included, or -1. The seek keeps i below
   64, and only going down does it reach -1. */
static int near(uint64_t mask, int i, int dir)
{
	if (dir > 0) {
		uint64_t m = mask & (~UINT64_C(0) << i);
		return m ? __builtin_ctzll(m) : -1;
	}
	if (i < 0)
		return -1;
	uint64_t m = mask & (~UINT64_C(0) >> (63 - i));
	return m ? 63 - __builtin_clzll(m) : -1;
}

/* The weekday nearest day d (Saturday -> Friday, Sunday -> Monday) without leaving the month. */
static int weekday_near(int d, int n, int wd1)
{
	int wd = (wd1 + d - 1) % 7;
	if (wd == 6)
		return d > 1 ? d - 1 : d + 2;
	if (wd == 0)
		return d < n ? d + 1 : d - 2;
	return d;
}

/* The days of month m of year y that match, as bits 1-31. */
static uint32_t day_mask(const struct jobq_cron *c, int y, int m)
{
	int n = jobq__days_in_month(y, m), wd1 = jobq__weekday(jobq__days_from_civil(y, m, 1));
	uint64_t dom = c->dom, dow = 0;
	for (uint32_t b = c->dom_last; b; b &= b - 1)
		if (n - __builtin_ctz(b) >= 1)
			dom |= UINT64_C(1) << (n - __builtin_ctz(b));
	for (uint32_t b = c->dom_near; b; b &= b - 1)
		if (__builtin_ctz(b) <= n)
			dom |= UINT64_C(1) << weekday_near(__builtin_ctz(b), n, wd1);
	if (c->last_wday) {
		int wd = (wd1 + n - 1) % 7;
		dom |= UINT64_C(1) << (wd == 6 ? n - 1 : wd == 0 ? n - 2 : n);
	}
	for (int w = 0; w < 7; w++) {
		int first = 1 + (w - wd1 + 7) % 7;
		if (c->dow & 1u << w)
			dow |= UINT64_C(0x10204081) << first; /* days first, +7, +14, +21, +28 */
		if (c->dow_last & 1u << w)
			dow |= UINT64_C(1) << (first + 7 * ((n - first) / 7));
		for (int k = 0; k < 5; k++)
			if (c->dow_nth[k] & 1u << w)
				dow |= UINT64_C(1) << (first + 7 * k);
	}
	uint64_t valid = (UINT64_C(2) << n) - 2;
	dom &= valid;
	dow &= valid;
	/* cronie: a day field starting with '*' makes the days AND, else they OR. */
	return (uint32_t)(c->flags & (JOBQ__DOM_STAR | JOBQ__DOW_STAR) ? dom & dow : dom | dow);
}

/*
 * Moves f (year, month, day, hour, minute, second) to the nearest matching time in direction
 * dir, f included. At each level a value without a match carries into the level above and
 * resets the ones below to their first (or last) value. False once the year passes limit.
 */
static bool seek(const struct jobq_cron *c, int f[6], int dir, int limit)
{
	static const int first[6] = {0, 1, 1, 0, 0, 0}, last[6] = {0, 12, 31, 23, 59, 59};
	const int *edge = dir > 0 ? first : last;
	uint32_t days = 0;
	int dy = 0, dm = 0;
	for (int k = 1; k < 6;) {
		if (dir > 0 ? f[0] > limit : f[0] < limit)
			return false;
		uint64_t mask;
		if (k == 2) {
			if (dy != f[0] || dm != f[1]) {
				dy = f[0];
				dm = f[1];
				days = day_mask(c, dy, dm);
			}
			mask = days;
		} else {
			mask = k == 1 ? c->mon : k == 3 ? c->hour : k == 4 ? c->min : c->sec;
		}
		int v = near(mask, f[k], dir);
		if (v < 0) {
			f[k - 1] += dir;
			for (int j = k; j < 6; j++)
				f[j] = edge[j];
			k = k > 1 ? k - 1 : 1;
			continue;
		}
		if (v != f[k]) {
			f[k] = v;
			for (int j = k + 1; j < 6; j++)
				f[j] = edge[j];
		}
		k++;
	}
	return true;
}

/*
 * The seek over wall times as seconds, remembering its last answer: walking span by span asks
 * again from each span's start, and while that start lies between the last question and its
 * answer, the answer stands.
 */
struct finder {
	const struct jobq_cron *c;
	int dir;
	bool have;
	int64_t from, found;
};

static bool find(struct finder *fd, int64_t w, int64_t *out)
{
	int dir = fd->dir;
	if (fd->have && (dir > 0 ? w >= fd->from && w <= fd->found : w <= fd->from && w >= fd->found)) {
		*out = fd->found;
		return true;
	}
	int64_t day = jobq__floor_div(w, 86400);
	int f[6], s = (int)(w - day * 86400);
	jobq__civil_from_days(day, &f[0], &f[1], &f[2]);
	f[3] = s / 3600;
	f[4] = s / 60 % 60;
	f[5] = s % 60;
	int limit = dir > 0 ? (f[0] + 401 < 10000 ? f[0] + 401 : 10000)
			    : (f[0] - 401 > 0 ? f[0] - 401 : 0);
	if (!seek(fd->c, f, dir, limit))
		return false;
	fd->have = true;
	fd->from = w;
	fd->found = *out = jobq__days_from_civil(f[0], f[1], f[2]) * 86400 + f[3] * 3600 +
			   f[4] * 60 + f[5];
	return true;
}

/* The nearest matching wall time within [lo, hi] from the end the search comes from: 1 and *w,
   0 if none there, -1 if none at all. */
static int match_in(struct finder *fd, int64_t lo, int64_t hi, int64_t *w)
{
	if (lo > hi)
		return 0;
	if (!find(fd, fd->dir > 0 ? lo : hi, w))
		return -1;
	return *w >= lo && *w <= hi;
}

/* The wall time of instant t at offset off, keeping the unbounded ends unbounded. */
static int64_t wall(int64_t t, int32_t off)
{
	return t == INT64_MIN || t == INT64_MAX ? t : t + off;
}

/* The fire time nearest `from` in direction dir (+1 next, -1 prev), `from` excluded. */
static int search(const jobq_cron_t *c, const jobq_zone_t *z, int64_t from, int dir, int64_t *out)
{
	if (!c || !out || from < JOBQ__T_MIN || from > JOBQ__T_MAX)
		return JOBQ_EINVAL;
	if (!z)
		z = &jobq__utc;
	bool fixed = !(c->flags & JOBQ__WILD);
	struct finder fd = {.c = c, .dir = dir};
	int64_t u = from + dir, stop = from + dir * HORIZON, w, r;
	while (dir > 0 ? u <= stop && u <= JOBQ__T_MAX : u >= stop && u >= JOBQ__T_MIN) {
		struct jobq__span sp;
		jobq__zone_span(z, u, &sp);
		/* The span's wall times from u on (or up to u); a fixed-time job skips those an
		   overlap repeats, having run them on the first pass. */
		int64_t lo = dir > 0 ? u + sp.off : wall(sp.start, sp.off);
		int64_t hi = dir > 0 ? wall(sp.end, sp.off) - 1 : u + sp.off;
		if (fixed && sp.prev_off > sp.off && lo < sp.start + sp.prev_off)
			lo = sp.start + sp.prev_off;
		/* A fixed-time job whose time fell in the gap before the span runs at its start. */
		bool gap = fixed && sp.prev_off < sp.off && (dir < 0 || u == sp.start);
		/* In time order: the gap run, then the span's own times; prev looks at them backwards. */
		for (int k = 0; k < 2; k++) {
			bool own = (k == 0) == (dir < 0);
			int m = own ? match_in(&fd, lo, hi, &w)
			      : gap ? match_in(&fd, sp.start + sp.prev_off, sp.start + sp.off - 1, &w)
				    : 0;
			if (m < 0)
				return JOBQ_ENEVER;
			if (m) {
				r = own ? w - sp.off : sp.start;
				if (r < JOBQ__T_MIN || r > JOBQ__T_MAX)
					return JOBQ_ENEVER;
				*out = r;
				return 0;
			}
		}
		if (dir > 0 ? sp.end == INT64_MAX : sp.start == INT64_MIN)
			return JOBQ_ENEVER;
		u = dir > 0 ? sp.end : sp.start - 1;
	}
	return JOBQ_ENEVER;
}

int jobq_cron_next(const jobq_cron_t *c, const jobq_zone_t *z, int64_t after, int64_t *out)
{
	return search(c, z, after, 1, out);
}

int jobq_cron_prev(const jobq_cron_t *c, const jobq_zone_t *z, int64_t before, int64_t *out)
{
	return search(c, z, before, -1, out);
}
