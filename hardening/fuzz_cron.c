/*
 * fuzz_cron.c: libFuzzer target for the cron parser and the next/prev search.
 *
 * The input is the expression text itself (so the seeds are the expressions of
 * shared/cron/vectors.tsv, one a file). A valid expression is searched in a few zones chosen for
 * their clock changes (New York's 1-hour DST, Lord Howe's 30-minute DST, Chatham's +12:45), from
 * the ends of the supported range and from days with a gap and an overlap, a bounded number of
 * steps each way, and the documented properties are checked: next is strictly after its
 * argument and prev strictly before, prev(next(t)) <= t and next(prev(t)) >= t, and a search
 * answers only 0 or JOBQ_ENEVER. A rejected expression must come with a NUL-terminated one-line
 * message, also when the message buffer is tiny.
 *
 * tests/test_fuzz_regress.c includes this file with JOBQ_FUZZ_NO_MAIN and its own FUZZ_CHECK to
 * replay hardening/regress/cron/ in the normal builds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "civil.h"
#include "jobq.h"

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)                  \
	do {                              \
		if (!(cond))              \
			abort();          \
	} while (0)
#endif

#define CRON_STEPS 4

static const char *const cron_zone_names[] = {NULL, "America/New_York", "Australia/Lord_Howe",
					      "Pacific/Chatham"};
static const int64_t cron_starts[] = {
	JOBQ__T_MIN,           /* 0001-01-01: nothing before it */
	INT64_C(1710050000),   /* 2024-03-10 05:53 UTC: New York's spring gap is hours away */
	INT64_C(1730610000),   /* 2024-11-03 05:00 UTC: New York's autumn overlap */
	JOBQ__T_MAX - 3 * 86400, /* 9999-12-28: nothing after it */
};

static void cron_walk(const jobq_cron_t *c, const jobq_zone_t *z, int64_t from)
{
	int64_t t = from, u, back;
	for (int i = 0; i < CRON_STEPS; i++) {
		int rc = jobq_cron_next(c, z, t, &u);
		FUZZ_CHECK(rc == 0 || rc == JOBQ_ENEVER);
		if (rc)
			break;
		FUZZ_CHECK(u > t && u <= JOBQ__T_MAX);
		rc = jobq_cron_prev(c, z, u, &back);
		FUZZ_CHECK(rc == 0 || rc == JOBQ_ENEVER);
		FUZZ_CHECK(rc != 0 || back <= t);
		t = u;
	}
	t = from;
	for (int i = 0; i < CRON_STEPS; i++) {
		int rc = jobq_cron_prev(c, z, t, &u);
		FUZZ_CHECK(rc == 0 || rc == JOBQ_ENEVER);
		if (rc)
			break;
		FUZZ_CHECK(u < t && u >= JOBQ__T_MIN);
		rc = jobq_cron_next(c, z, u, &back);
		FUZZ_CHECK(rc == 0 || rc == JOBQ_ENEVER);
		FUZZ_CHECK(rc != 0 || back >= t);
		t = u;
	}
}

static int fuzz_cron(const uint8_t *data, size_t size)
{
	static jobq_zone_t *zones[sizeof cron_zone_names / sizeof *cron_zone_names];
	static int loaded;
	if (!loaded) {
		for (size_t i = 0; i < sizeof zones / sizeof *zones; i++)
			FUZZ_CHECK(jobq_zone_load(cron_zone_names[i], &zones[i]) == 0);
		loaded = 1;
	}

	/* An exact-size copy, so reading past the terminator is an ASan error. */
	char *expr = malloc(size + 1);
	FUZZ_CHECK(expr != NULL);
	memcpy(expr, data, size);
	expr[size] = '\0';

	char err[128], tiny[7];
	jobq_cron_t *c = NULL;
	int rc = jobq_cron_parse(expr, &c, err, sizeof err);
	FUZZ_CHECK(rc == 0 || rc == JOBQ_ECRON);
	if (rc) {
		FUZZ_CHECK(c == NULL);
		size_t len = strnlen(err, sizeof err);
		FUZZ_CHECK(len > 0 && len < sizeof err && !strchr(err, '\n'));
		FUZZ_CHECK(jobq_cron_parse(expr, &c, tiny, sizeof tiny) == JOBQ_ECRON);
		FUZZ_CHECK(strnlen(tiny, sizeof tiny) < sizeof tiny);
		free(expr);
		return 0;
	}
	FUZZ_CHECK(strlen(expr) <= 1024);
	for (size_t z = 0; z < sizeof zones / sizeof *zones; z++)
		for (size_t s = 0; s < sizeof cron_starts / sizeof *cron_starts; s++)
			cron_walk(c, zones[z], cron_starts[s]);
	jobq_cron_free(c);
	free(expr);
	return 0;
}

#ifndef JOBQ_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_cron(data, size);
}
#endif
