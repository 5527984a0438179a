/*
 * tz.h: the zone internals shared by tz.c (TZif files, the zone cache), tz_rule.c (the POSIX TZ
 * rule of a file's footer) and the cron search.
 *
 * The search does not ask "which UTC instants show this wall time"; it asks for the span of
 * constant UTC offset around an instant, and the offset just before that span. Within a span the
 * wall clock is UTC plus one constant, so calendar search is plain arithmetic there, and a span
 * whose offset grew (a gap) or shrank (an overlap) is exactly where the DST policy applies.
 */
#ifndef JOBQ_TZ_H
#define JOBQ_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "jobq.h"

struct jobq__span {
	int64_t start;    /* first instant with this offset; INT64_MIN when unbounded */
	int64_t end;      /* first instant after the span; INT64_MAX when unbounded */
	int32_t off;      /* UTC offset in the span, seconds east */
	int32_t prev_off; /* offset just before start; equal to off when nothing changes there */
};

/* A date of a POSIX TZ rule: Jn (1-365, Feb 29 never counted), n (0-365), or Mm.w.d. */
struct jobq__tzdate {
	char kind; /* 'J', 'D' or 'M' */
	int n, m, w, d;
	int32_t secs; /* local time of day of the change, -167h..167h (RFC 8536 v3) */
};

struct jobq__tzrule {
	int32_t std_off, dst_off; /* UTC offsets, seconds east (POSIX writes them west) */
	int has_dst;
	struct jobq__tzdate start, end;
};

/* Parses a POSIX TZ string of len bytes (no NUL needed). 0, or -1 when it is not one. */
int jobq__tzrule_parse(const char *s, size_t len, struct jobq__tzrule *r);

/* The span of the rule around instant t (JOBQ__T_MIN..JOBQ__T_MAX). Spans may end at a pseudo
   boundary where nothing changes (prev_off == off), never beyond the next real change. */
void jobq__tzrule_span(const struct jobq__tzrule *r, int64_t t, struct jobq__span *sp);

/*
 * Parses the TZif bytes buf[0..len) (untrusted) into a new zone whose cache key is name. The zone
 * is not in the cache: jobq_zone_load puts it there, and anyone else (the fuzzer, the regression
 * test) frees it with jobq__free, never with jobq_zone_free. Returns 0, JOBQ_EZONE or
 * JOBQ_ENOMEM; *out is set only on success.
 */
int jobq__zone_parse(const char *name, const unsigned char *buf, size_t len, jobq_zone_t **out);

/* UTC, the zone of a NULL zone pointer: no file, never freed. */
extern const struct jobq_zone jobq__utc;

/* The span of zone z (never NULL) around instant t (JOBQ__T_MIN..JOBQ__T_MAX). An end more than
 * two days outside that range is given as unbounded (INT64_MIN or INT64_MAX; an unbounded start
 * has prev_off == off), so that instant + offset never overflows. */
void jobq__zone_span(const jobq_zone_t *z, int64_t t, struct jobq__span *sp);

#endif
