/*
 * cron.h: the parsed form of a cron expression, shared by the parser (cron_parse.c) and the
 * search (cron_search.c), and the RFC 3339 text helpers the tool and the tests share
 * (rfc3339.c).
 *
 * Every field is a bitmask, so matching a value is one AND and finding the next allowed value
 * is one count-trailing-zeros. The day extras (L, nW, n#k, ...) depend on the month, so they are
 * kept as their own small masks and resolved into a day mask once per month visited.
 */
#ifndef JOBQ_CRON_H
#define JOBQ_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "jobq.h"

enum {
	JOBQ__DOM_STAR = 1, /* day-of-month starts with '*' or is '?' */
	JOBQ__DOW_STAR = 2, /* day-of-week likewise */
	JOBQ__WILD = 4      /* minute or hour starts with '*': a wildcard job (cronie's rule) */
};

struct jobq_cron {
	uint64_t sec, min; /* bits 0-59 */
	uint32_t hour;     /* bits 0-23 */
	uint32_t dom;      /* bits 1-31: plain days */
	uint32_t dom_last; /* bit k: L-k, k days before the month's last (L is bit 0) */
	uint32_t dom_near; /* bit n: nW, the weekday nearest day n */
	bool last_wday;    /* LW: the month's last weekday */
	uint16_t mon;      /* bits 1-12 */
	uint8_t dow;       /* bits 0-6, Sunday = 0 (7 is folded into 0) */
	uint8_t dow_last;  /* bit d: dL, the month's last weekday d */
	uint8_t dow_nth[5]; /* dow_nth[k-1] bit d: d#k, the k-th weekday d */
	unsigned flags;
};

/* Parses RFC 3339 text ("2024-03-10T03:00:00-04:00", fraction and 'Z' allowed) into Unix seconds
   rounded down, and whether a fraction was cut. 0 or -1. */
int jobq__rfc3339_parse(const char *s, int64_t *t, bool *frac);

/* Writes t with UTC offset off as "2024-03-10T03:00:00-04:00" (":SS" added to the offset when it
   has seconds) into buf, which must hold 32 bytes. t must be within years 1-9999. */
void jobq__rfc3339_format(int64_t t, int off, char *buf);

#endif
