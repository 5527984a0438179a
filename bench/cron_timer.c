/*
 * cron_timer.c: the timer thread under 100,000 cron schedules on the real clock. Half the
 * schedules are "* * * * *" (every minute), half the 6-field "every fifth second" expression
 * (a step of 5 in the seconds field), in UTC. It
 * reports how fast jobq_cron_add adds them, and how late firings are, as p50/p90/p99/max of
 * two figures for every firing: its job's creation (the timer's part: waking, cron next,
 * jobq_submit) and its job's start (CLOCK_REALTIME, read first thing in the job; this adds the
 * queue before a worker takes the job), each minus the nominal fire time. Every fire time is
 * shared by many schedules (a minute boundary fires all of them, each fifth second half of
 * them), so it measures bursts:
 * the lateness of the last firing of a burst is the time to fire and run the whole burst.
 *
 * Build and run from the repository root, after make:
 *   cc -std=gnu11 -O2 -Iinclude bench/cron_timer.c build/libjobq.a -pthread -lm -o build/cron_timer
 *   ./build/cron_timer [-n SCHEDULES] [-w WORKERS] [-s SECONDS]
 * By default it runs until 2 s after the next minute boundary (at least 6 s), so that both
 * kinds fire; -s sets a fixed length instead. Threads: main (adds, then sleeps), the executor's
 * timer and workers. Nothing here is asserted: it prints figures.
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobq.h"

#define SEC 1000000000LL
#define MAX_SAMPLES (8u << 20)

static uint32_t *samples, *fired; /* lateness of job start and of job creation, in us */
static _Atomic uint32_t nsamples;

static int64_t now_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

/* arg is the schedule's period in seconds; every fire time is a multiple of it, and a firing
 * is never a whole period late here, so the nominal time is the start rounded down. */
static jobq_outcome_t job(jobq_ctx_t *ctx, void *arg)
{
	int64_t start = now_ns(CLOCK_REALTIME);
	int64_t period = (int64_t)(intptr_t)arg * SEC;
	int64_t late = start % period;
	/* The job's creation is the firing itself: the timer's part of the lateness. */
	jobq_status_t st;
	jobq_status(jobq_ctx_executor(ctx), jobq_ctx_id(ctx), &st);
	uint32_t i = atomic_fetch_add_explicit(&nsamples, 1, memory_order_relaxed);
	if (i < MAX_SAMPLES) {
		samples[i] = (uint32_t)(late / 1000);
		fired[i] = (uint32_t)((st.created_ns - (start - late)) / 1000);
	}
	return JOBQ_DONE;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct(const uint32_t *v, size_t n, double p)
{
	size_t i = (size_t)(p * (double)(n - 1));
	return v[i] / 1000.0;
}

static void report(const char *what, const uint32_t *v, size_t n)
{
	printf("%s p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms\n", what, pct(v, n, 0.50),
	       pct(v, n, 0.90), pct(v, n, 0.99), v[n - 1] / 1000.0);
}

int main(int argc, char **argv)
{
	unsigned n = 100000, workers = 4;
	int seconds = 0, opt;
	while ((opt = getopt(argc, argv, "n:w:s:")) != -1) {
		if (opt == 'n')
			n = (unsigned)atoi(optarg);
		else if (opt == 'w')
			workers = (unsigned)atoi(optarg);
		else if (opt == 's')
			seconds = atoi(optarg);
		else
			return fprintf(stderr, "usage: %s [-n N] [-w WORKERS] [-s SECONDS]\n",
				       argv[0]), 2;
	}
	samples = malloc(MAX_SAMPLES * sizeof *samples);
	fired = malloc(MAX_SAMPLES * sizeof *fired);
	if (!samples || !fired)
		return 1;

	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = workers;
	o.capacity = 1u << 17; /* a minute boundary queues up to n jobs at once */
	jobq_t *q;
	int rc = jobq_create(&q, &o);
	if (rc)
		return fprintf(stderr, "jobq_create: %s\n", jobq_strerror(rc)), 1;

	int64_t t0 = now_ns(CLOCK_MONOTONIC);
	for (unsigned i = 0; i < n; i++) {
		int minute = i % 2 == 0;
		char err[128];
		rc = jobq_cron_add(q, minute ? "* * * * *" : "*/5 * * * * *", job,
				   (void *)(intptr_t)(minute ? 60 : 5), NULL, NULL, err, sizeof err);
		if (rc)
			return fprintf(stderr, "jobq_cron_add: %s\n", err), 1;
	}
	double add_s = (double)(now_ns(CLOCK_MONOTONIC) - t0) / SEC;

	int64_t real = now_ns(CLOCK_REALTIME);
	int64_t run_ns = (int64_t)seconds * SEC;
	if (!seconds) {
		run_ns = 60 * SEC - real % (60 * SEC) + 2 * SEC;
		if (run_ns < 6 * SEC)
			run_ns = 6 * SEC;
	}
	struct timespec ts = {run_ns / SEC, run_ns % SEC};
	fprintf(stderr, "cron_timer: %u schedules added, running %.1f s\n", n,
		(double)run_ns / SEC);
	nanosleep(&ts, NULL);

	/* Stop firing before reading the samples: a shutdown ends every schedule. */
	jobq_shutdown(q, JOBQ_DRAIN, 0);
	jobq_stats_t st;
	jobq_stats(q, &st);
	size_t got = atomic_load(&nsamples);
	if (got > MAX_SAMPLES)
		got = MAX_SAMPLES;
	qsort(samples, got, sizeof *samples, cmp_u32);
	qsort(fired, got, sizeof *fired, cmp_u32);
	printf("schedules            %u (%u every minute, %u every 5 s), %u workers\n", n,
	       (n + 1) / 2, n / 2, workers);
	printf("add rate             %.0f schedules/s (%.3f s for all)\n", n / add_s, add_s);
	printf("firings run          %zu in %.1f s (jobs succeeded %llu)\n", got,
	       (double)run_ns / SEC, (unsigned long long)st.succeeded);
	if (got) {
		report("lateness, firing    ", fired, got);
		report("lateness, job start ", samples, got);
	}
	jobq_destroy(q);
	free(samples);
	free(fired);
	return 0;
}
