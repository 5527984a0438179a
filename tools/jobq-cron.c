/*
 * jobq-cron: prints the next (or previous) fire times of a cron expression, one a line, as
 * RFC 3339 with the zone's offset.
 *
 *   jobq-cron [-z ZONE] [-f FROM] [-n COUNT] [--prev] EXPR
 *
 * EXPR may be one argument ("30 4 * * 1") or its fields as several ("30" "4" "*" "*" "1"); they
 * are joined with spaces. Options may come before or after it; "--" ends them. Exit status: 0
 * with up to COUNT lines (fewer when the schedule ends, none when it never fires), 2 for a bad
 * expression, zone, time or usage, with one line on stderr. A thin shell over the public API
 * plus the library's RFC 3339 helpers; single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "jobq.h"

#define USAGE "usage: jobq-cron [-z ZONE] [-f FROM] [-n COUNT] [--prev] EXPR\n"

static int usage(const char *why)
{
	fprintf(stderr, "jobq-cron: %s\n%s", why, USAGE);
	return 2;
}

int main(int argc, char **argv)
{
	const char *zone = NULL, *from = NULL;
	long count = 5;
	int prev = 0, opts = 1;
	char expr[1100] = "";
	size_t len = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && (!strcmp(a, "-z") || !strcmp(a, "-f") || !strcmp(a, "-n"))) {
			if (i + 1 == argc)
				return usage("option needs a value");
			const char *v = argv[++i];
			if (a[1] == 'z') {
				zone = v;
			} else if (a[1] == 'f') {
				from = v;
			} else {
				char *end;
				count = strtol(v, &end, 10);
				if (!*v || *end || count < 0 || count > 1000000)
					return usage("COUNT must be a number from 0 to 1000000");
			}
		} else if (opts && !strcmp(a, "--prev")) {
			prev = 1;
		} else if (opts && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
			fputs(USAGE, stdout);
			return 0;
		} else if (opts && !strcmp(a, "--")) {
			opts = 0;
		} else if (opts && a[0] == '-' && a[1] != '\0') {
			return usage("unknown option");
		} else {
			size_t n = strlen(a);
			if (len + n + 2 > sizeof expr)
				return usage("expression too long");
			if (len)
				expr[len++] = ' ';
			memcpy(expr + len, a, n + 1);
			len += n;
		}
	}
	if (!len)
		return usage("missing expression");

	int64_t t;
	bool frac = false;
	if (from) {
		if (jobq__rfc3339_parse(from, &t, &frac) != 0)
			return usage("FROM must be RFC 3339 with an offset, e.g. 2024-03-10T01:30:00-05:00");
	} else {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		t = now.tv_sec;
		frac = now.tv_nsec != 0;
	}
	/* t is FROM rounded down; for --prev, "before FROM" includes that second if FROM was later. */
	if (prev && frac)
		t++;

	char err[200];
	jobq_cron_t *c;
	jobq_zone_t *z;
	int rc = jobq_cron_parse(expr, &c, err, sizeof err);
	if (rc != 0) {
		fprintf(stderr, "jobq-cron: %s\n", rc == JOBQ_ECRON ? err : jobq_strerror(rc));
		return 2;
	}
	rc = jobq_zone_load(zone, &z);
	if (rc != 0) {
		fprintf(stderr, "jobq-cron: %s: %s\n", zone, jobq_strerror(rc));
		jobq_cron_free(c);
		return 2;
	}
	for (long i = 0; i < count; i++) {
		rc = prev ? jobq_cron_prev(c, z, t, &t) : jobq_cron_next(c, z, t, &t);
		if (rc == JOBQ_ENEVER)
			break;
		if (rc != 0) {
			fprintf(stderr, "jobq-cron: %s\n", jobq_strerror(rc));
			break;
		}
		int off;
		char buf[32];
		jobq_zone_offset(z, t, &off);
		jobq__rfc3339_format(t, off, buf);
		puts(buf);
	}
	jobq_zone_free(z);
	jobq_cron_free(c);
	return rc == 0 || rc == JOBQ_ENEVER ? 0 : 2;
}
