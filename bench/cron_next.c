/*
 * cron_next.c: nanoseconds per jobq_cron_next for common expressions, in UTC and Europe/Berlin.
 * Each measurement feeds next its own result (a schedule being followed), from 2024-01-01, so
 * month, year and DST boundaries are crossed as often as in real use.
 *
 * Build and run from the repository root, after make:
 *   cc -std=gnu11 -O2 -Iinclude bench/cron_next.c build/libjobq.a -pthread -lm -o build/cron_next
 *   ./build/cron_next
 * Single-threaded; timing is CLOCK_MONOTONIC around the loop only.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "jobq.h"

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
	static const char *const exprs[] = {
		"* * * * *",   "*/5 * * * *", "0 * * * *",     "30 2 * * *",   "0 9 * * 1-5",
		"0 0 1 * *",   "0 0 L * *",   "0 12 * * 5#3", "*/10 * * * * *", "0 0 29 2 *",
	};
	static const char *const zones[] = {"UTC", "Europe/Berlin"};
	printf("%-18s %12s %16s\n", "expression", "UTC ns/next", "Berlin ns/next");
	for (size_t e = 0; e < sizeof exprs / sizeof exprs[0]; e++) {
		jobq_cron_t *c;
		if (jobq_cron_parse(exprs[e], &c, NULL, 0) != 0)
			return 1;
		printf("%-18s", exprs[e]);
		for (size_t k = 0; k < 2; k++) {
			jobq_zone_t *z;
			if (jobq_zone_load(zones[k], &z) != 0)
				return 1;
			int n = 0;
			int64_t t = 1704067200, sink = 0;
			double start = now_ns();
			/* Rare schedules get fewer steps so every line takes about as long. */
			for (; n < (e == 9 ? 20000 : 2000000); n++) {
				if (jobq_cron_next(c, z, t, &t) != 0)
					t = 1704067200;
				sink += t;
			}
			double ns = (now_ns() - start) / n;
			printf(" %*.1f", k ? 16 : 12, ns);
			if (sink == 42)
				puts("");
			jobq_zone_free(z);
		}
		putchar('\n');
		jobq_cron_free(c);
	}
	return 0;
}
