/*
 * fuzz_tz.c: libFuzzer target for the TZif reader (jobq__zone_parse, the bytes-in-memory half of
 * jobq_zone_load) and for the lookups and searches that run on whatever it accepts.
 *
 * The input is a TZif file (the seeds are real files from /usr/share/zoneinfo). A zone the
 * reader accepts must then answer every lookup without a crash or a hang: the span around any
 * instant contains it and has an offset within RFC 8536's bounds, walking spans forward makes
 * progress, and cron searches in the zone are strictly monotonic. The footer's POSIX TZ rule
 * (tz_rule.c) is reached through the same bytes.
 *
 * tests/test_fuzz_regress.c includes this file with JOBQ_FUZZ_NO_MAIN and its own FUZZ_CHECK to
 * replay hardening/regress/tz/ in the normal builds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "civil.h"
#include "jobq.h"
#include "tz.h"

#ifndef FUZZ_CHECK
#define FUZZ_CHECK(cond)                  \
	do {                              \
		if (!(cond))              \
			abort();          \
	} while (0)
#endif

#define TZ_SPANS 64
#define TZ_STEPS 8

static const int64_t tz_probes[] = {
	JOBQ__T_MIN, -INT64_C(2147483648) - 1, -1, 0, INT64_C(1710050000), INT64_C(2147483648),
	INT64_C(4102444800) /* 2100 */, JOBQ__T_MAX,
};

static void tz_check_span(const jobq_zone_t *z, int64_t t, struct jobq__span *sp)
{
	jobq__zone_span(z, t, sp);
	FUZZ_CHECK(sp->start <= t && t < sp->end);
	FUZZ_CHECK(sp->off >= -89999 && sp->off <= 93599);
	FUZZ_CHECK(sp->prev_off >= -89999 && sp->prev_off <= 93599);
}

static void tz_search(const jobq_zone_t *z, const char *text)
{
	jobq_cron_t *c;
	FUZZ_CHECK(jobq_cron_parse(text, &c, NULL, 0) == 0);
	for (size_t s = 0; s < sizeof tz_probes / sizeof *tz_probes; s++) {
		int64_t t = tz_probes[s], u;
		for (int i = 0; i < TZ_STEPS && jobq_cron_next(c, z, t, &u) == 0; i++) {
			FUZZ_CHECK(u > t);
			t = u;
		}
		t = tz_probes[s];
		for (int i = 0; i < TZ_STEPS && jobq_cron_prev(c, z, t, &u) == 0; i++) {
			FUZZ_CHECK(u < t);
			t = u;
		}
	}
	jobq_cron_free(c);
}

static int fuzz_tz(const uint8_t *data, size_t size)
{
	jobq_zone_t *z = NULL;
	int rc = jobq__zone_parse("fuzz", data, size, &z);
	FUZZ_CHECK(rc == 0 || rc == JOBQ_EZONE);
	if (rc)
		return 0;
	struct jobq__span sp;
	for (size_t s = 0; s < sizeof tz_probes / sizeof *tz_probes; s++) {
		int off;
		FUZZ_CHECK(jobq_zone_offset(z, tz_probes[s], &off) == 0);
		tz_check_span(z, tz_probes[s], &sp);
		FUZZ_CHECK(sp.off == off);
	}
	/* Walk the changes from 1900 on: each span ends after it starts, and the walk ends. */
	int64_t t = INT64_C(-2208988800);
	for (int i = 0; i < TZ_SPANS && t <= JOBQ__T_MAX; i++) {
		tz_check_span(z, t, &sp);
		if (sp.end == INT64_MAX)
			break;
		t = sp.end;
	}
	tz_search(z, "0 30 2 * * *");
	tz_search(z, "*/20 * * * *");
	jobq__free(z);
	return 0;
}

#ifndef JOBQ_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_tz(data, size);
}
#endif
