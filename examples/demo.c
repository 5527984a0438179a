/*
 * demo.c: a tour of jobq, run by `make demo`. It counts primes in a batch of jobs, polls one
 * job's progress by id, gets each outcome from a completion callback, cancels a long job, shows
 * a failure with its message, prints the stats and shuts down cleanly.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jobq.h>

struct range {
	unsigned limit;   /* count primes below this */
	int fail;         /* pretend the job cannot store its result */
};

static int is_prime(unsigned n)
{
	if (n < 2)
		return 0;
	for (unsigned d = 2; d * d <= n; d++)
		if (n % d == 0)
			return 0;
	return 1;
}

/* The job: count primes in ten slices, reporting progress and stopping early if cancelled. */
static jobq_outcome_t count_primes(jobq_ctx_t *ctx, void *arg)
{
	struct range *r = arg;
	unsigned count = 0, slice = r->limit / 10;
	for (unsigned s = 0; s < 10; s++) {
		if (jobq_ctx_cancelled(ctx))
			return JOBQ_FATAL;
		for (unsigned n = s * slice; n < (s + 1) * slice; n++)
			count += (unsigned)is_prime(n);
		char text[32];
		snprintf(text, sizeof text, "%u primes so far", count);
		jobq_ctx_progress(ctx, (int)(s + 1) * 10, text);
	}
	if (r->fail) {
		jobq_ctx_set_error(ctx, "cannot store %u primes: disk full", count);
		return JOBQ_FATAL;
	}
	jobq_ctx_set_result(ctx, &count, sizeof count);
	return JOBQ_DONE;
}

/* Runs on a worker thread (or on the thread that cancels a queued job), once per job. */
static void on_done(const jobq_status_t *st, void *data)
{
	(void)data;
	printf("  callback: job %llu %-8s %s\n", (unsigned long long)st->id, st->name,
	       jobq_state_name(st->state));
}

int main(void)
{
	jobq_t *q;
	jobq_options_t opts;
	jobq_options_init(&opts);
	opts.workers = 2;
	int rc = jobq_create(&q, &opts);
	if (rc) {
		fprintf(stderr, "jobq_create: %s\n", jobq_strerror(rc));
		return 1;
	}
	printf("jobq %s: 2 workers\n\n1. a batch of jobs\n", jobq_version_string());

	static struct range ranges[] = {
		{200000, 0}, {400000, 0}, {300000, 1}, {3000000, 0}, {100000, 0},
	};
	static const char *names[] = {"small", "medium", "flaky", "huge", "tiny"};
	uint64_t ids[5];
	for (int i = 0; i < 5; i++) {
		jobq_job_options_t o;
		jobq_job_options_init(&o);
		o.name = names[i];
		o.on_done = on_done;
		o.priority = i == 4 ? JOBQ_PRIO_HIGH : JOBQ_PRIO_NORMAL;
		rc = jobq_submit(q, count_primes, &ranges[i], &o, &ids[i]);
		if (rc) {
			fprintf(stderr, "jobq_submit: %s\n", jobq_strerror(rc));
			return 1;
		}
	}

	printf("\n2. polling job %llu (medium) by id\n", (unsigned long long)ids[1]);
	jobq_status_t st;
	int last = -2;
	while ((rc = jobq_wait(q, ids[1], 5, &st)) == JOBQ_ETIMEDOUT) {
		jobq_status(q, ids[1], &st);
		if (st.percent != last && st.percent < 0) /* -1: no progress reported yet */
			printf("  %-9s   -\n", jobq_state_name(st.state));
		else if (st.percent != last)
			printf("  %-9s %3d%%  %s\n", jobq_state_name(st.state), st.percent,
			       st.progress);
		last = st.percent;
	}
	unsigned primes = 0;
	jobq_result(q, ids[1], &primes, sizeof primes, NULL);
	printf("  %-9s %3d%%  result: %u primes below %u\n", jobq_state_name(st.state), st.percent,
	       primes, ranges[1].limit);

	printf("\n3. cancelling job %llu (huge) once it is under way\n", (unsigned long long)ids[3]);
	do {
		jobq_wait(q, ids[3], 2, &st);
		jobq_status(q, ids[3], &st);
	} while (st.state == JOBQ_QUEUED || (st.state == JOBQ_RUNNING && st.percent < 10));
	rc = jobq_cancel(q, ids[3]);
	printf("  jobq_cancel: %s\n", rc ? jobq_strerror(rc) : "ok");
	jobq_wait(q, ids[3], 0, &st);
	printf("  job %llu ended %s at %d%% (%s)\n", (unsigned long long)ids[3],
	       jobq_state_name(st.state), st.percent, st.progress);

	printf("\n4. the failure\n");
	jobq_wait(q, ids[2], 0, &st);
	printf("  job %llu %s: %s\n", (unsigned long long)ids[2], jobq_state_name(st.state),
	       st.error);

	jobq_wait_many(q, ids, 5, 0, 0, NULL);
	jobq_stats_t s;
	jobq_stats(q, &s);
	printf("\n5. stats: submitted %llu, succeeded %llu, failed %llu, cancelled %llu, "
	       "queued %llu, running %llu\n",
	       (unsigned long long)s.submitted, (unsigned long long)s.succeeded,
	       (unsigned long long)s.failed, (unsigned long long)s.cancelled,
	       (unsigned long long)s.queued, (unsigned long long)s.running);

	rc = jobq_shutdown(q, JOBQ_DRAIN, 0);
	printf("\n6. shutdown: %s; a submit now says: %s\n", rc ? jobq_strerror(rc) : "drained",
	       jobq_strerror(jobq_submit(q, count_primes, &ranges[0], NULL, NULL)));
	jobq_destroy(q);
	return 0;
}
