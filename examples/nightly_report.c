/*
 * nightly_report.c: a report that runs at 02:00 every night in Berlin, as a jobq cron schedule.
 * It prints the schedule's next five fire times (RFC 3339 with the zone's offset), then runs
 * three nights in a fraction of a second: the executor gets a clock of our own (jobq_options_t
 * .clock), which we move to each fire time and announce with jobq_clock_advanced. Each firing
 * is an ordinary job; we print its id and outcome.
 *
 * Threads: main, the executor's workers (the report jobs and their callback) and its timer
 * thread, which with a custom clock only waits: the firings happen inside jobq_clock_advanced.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jobq.h>

#define SEC 1000000000LL

/* The clock the executor reads: starts at the real time, then moves only when we say so. */
struct sim_clock {
	_Atomic int64_t real, mono;
};

static int64_t sim_now(int realtime, void *data)
{
	struct sim_clock *c = data;
	return realtime ? atomic_load(&c->real) : atomic_load(&c->mono);
}

/* Unix seconds t shown with UTC offset off (seconds east) as 2024-03-31T02:00:00+02:00. */
static void rfc3339(int64_t t, int off, char *buf, size_t cap)
{
	int64_t local = t + off;
	int64_t days = local / 86400, secs = local % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm). */
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = yoe + era * 400 + (m <= 2);
	int a = off < 0 ? -off : off;
	/* Years 1-9999, as jobq_cron_next returns them: every field fits an int. */
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (int)y, (int)m, (int)d,
		 (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60), off < 0 ? '-' : '+',
		 a / 3600 % 100, a / 60 % 60);
}

static void print_time(const jobq_zone_t *z, int64_t t)
{
	int off = 0;
	char buf[40];
	jobq_zone_offset(z, t, &off);
	rfc3339(t, off, buf, sizeof buf);
	printf("%s", buf);
}

/* The report: pretends to gather a night's numbers. */
static jobq_outcome_t nightly_report(jobq_ctx_t *ctx, void *arg)
{
	const char *title = arg;
	char line[80];
	int n = snprintf(line, sizeof line, "%s #%llu: %llu rows", title,
			 (unsigned long long)jobq_ctx_id(ctx),
			 (unsigned long long)(1000 + 37 * jobq_ctx_id(ctx)));
	jobq_ctx_set_result(ctx, line, (size_t)n + 1);
	return JOBQ_DONE;
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "nightly_report: %s: %s\n", what, jobq_strerror(rc));
	return EXIT_FAILURE;
}

int main(void)
{
	static const char *const expr = "0 2 * * *", *const zone_name = "Europe/Berlin";
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct sim_clock clk;
	atomic_init(&clk.real, (int64_t)ts.tv_sec * SEC);
	atomic_init(&clk.mono, 0);

	/* The pure API: the next five fire times from now. */
	jobq_cron_t *cron;
	jobq_zone_t *zone;
	char err[160];
	int rc = jobq_cron_parse(expr, &cron, err, sizeof err);
	if (rc)
		return fprintf(stderr, "%s\n", err), EXIT_FAILURE;
	if ((rc = jobq_zone_load(zone_name, &zone)) != 0)
		return fail(zone_name, rc);
	printf("\"%s\" in %s, next 5 fire times:\n", expr, zone_name);
	int64_t t = ts.tv_sec;
	for (int i = 0; i < 5 && jobq_cron_next(cron, zone, t, &t) == 0; i++) {
		printf("  ");
		print_time(zone, t);
		printf("\n");
	}

	/* The executor, on our clock, and the schedule. */
	jobq_options_t opts;
	jobq_options_init(&opts);
	opts.workers = 2;
	opts.clock = sim_now;
	opts.clock_data = &clk;
	jobq_t *q;
	if ((rc = jobq_create(&q, &opts)) != 0)
		return fail("jobq_create", rc);
	jobq_job_options_t job;
	jobq_job_options_init(&job);
	job.name = "nightly-report";
	job.max_attempts = 3;
	jobq_cron_options_t co;
	jobq_cron_options_init(&co);
	co.zone = zone_name;
	co.job = &job;
	uint64_t sched;
	rc = jobq_cron_add(q, expr, nightly_report, (void *)"sales report", &co, &sched, err,
			   sizeof err);
	if (rc)
		return fprintf(stderr, "jobq_cron_add: %s\n", err), EXIT_FAILURE;

	/* Three nights, fast-forwarded: jump to each fire time and let the executor know. */
	printf("running three nights on a fast-forwarded clock:\n");
	for (int night = 0; night < 3; night++) {
		jobq_cron_info_t info;
		jobq_cron_info(q, sched, &info);
		int64_t step = info.next_ns - atomic_load(&clk.real);
		atomic_fetch_add(&clk.real, step);
		atomic_fetch_add(&clk.mono, step);
		jobq_clock_advanced(q);

		jobq_cron_info(q, sched, &info);
		jobq_status_t st;
		char result[80] = "";
		if ((rc = jobq_wait(q, info.last_job, 0, &st)) != 0)
			return fail("jobq_wait", rc);
		jobq_result(q, info.last_job, result, sizeof result, NULL);
		printf("  fired at ");
		print_time(zone, info.last_fire_ns / SEC);
		printf(": job %llu %s (%s)\n", (unsigned long long)st.id,
		       jobq_state_name(st.state), result);
	}
	jobq_cron_info_t info;
	jobq_cron_info(q, sched, &info);
	printf("fired %llu, skipped %llu, next ", (unsigned long long)info.fired,
	       (unsigned long long)info.skipped);
	print_time(zone, info.next_ns / SEC);
	printf("\n");

	jobq_destroy(q);
	jobq_zone_free(zone);
	jobq_cron_free(cron);
	return info.fired == 3 ? EXIT_SUCCESS : EXIT_FAILURE;
}
