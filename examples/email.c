/*
 * email.c: an email sender on jobq. Its transport fails now and then (the job asks for a retry
 * and jobq backs off and tries again), one address bounces for good (the job dies, lands in the
 * dead-letter list, and is requeued once the address is fixed), and a user who clicks "send"
 * three times gets one email (an idempotency key per request).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <jobq.h>

struct email {
	const char *to;
	const char *subject;
	_Atomic int delivered;
};

/* The fake transport: every third delivery attempt times out; one domain does not exist. */
static _Atomic int transport_calls;
static _Atomic int bad_domain_fixed;

static int transport_send(const struct email *m)
{
	if (strstr(m->to, "@exmaple.com") && !atomic_load(&bad_domain_fixed))
		return 550; /* no such domain: permanent */
	if (atomic_fetch_add(&transport_calls, 1) % 3 == 1)
		return 421; /* try again later */
	return 250;
}

static jobq_outcome_t send_email(jobq_ctx_t *ctx, void *arg)
{
	struct email *m = arg;
	int code = transport_send(m);
	if (code == 250) {
		atomic_fetch_add(&m->delivered, 1);
		return JOBQ_DONE;
	}
	jobq_ctx_set_error(ctx, "SMTP %d from %s", code, strchr(m->to, '@') + 1);
	return code >= 500 ? JOBQ_FATAL : JOBQ_RETRY;
}

static void sent(const jobq_status_t *st, void *data)
{
	struct email *m = data;
	printf("  %-22s %-9s after %u attempt%s%s%s%s\n", m->to, jobq_state_name(st->state),
	       st->attempt, st->attempt == 1 ? "" : "s", st->error[0] ? " (" : "", st->error,
	       st->error[0] ? ")" : "");
}

static void died(const jobq_status_t *st, void *data)
{
	(void)data;
	printf("  -> job %llu is dead: %s\n", (unsigned long long)st->id, st->error);
}

static int submit(jobq_t *q, struct email *m, const char *key, uint64_t *id)
{
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.name = m->subject;
	o.on_done = sent;
	o.on_done_data = m;
	o.key = key;
	return jobq_submit(q, send_email, m, &o, id);
}

int main(void)
{
	jobq_options_t opts;
	jobq_options_init(&opts);
	opts.workers = 2;
	opts.max_attempts = 5;
	opts.backoff = (jobq_backoff_t){.base_ms = 20, .cap_ms = 200, .factor = 2};
	opts.on_dead = died;
	jobq_t *q;
	int rc = jobq_create(&q, &opts);
	if (rc) {
		fprintf(stderr, "jobq_create: %s\n", jobq_strerror(rc));
		return 1;
	}

	static struct email mail[] = {
		{.to = "ada@example.com", .subject = "welcome"},
		{.to = "grace@example.com", .subject = "invoice 17"},
		{.to = "linus@example.com", .subject = "reset"},
		{.to = "barbara@example.com", .subject = "digest"},
		{.to = "edsger@exmaple.com", .subject = "receipt"},
	};
	enum { N = sizeof mail / sizeof mail[0] };
	uint64_t ids[N];

	printf("1. sending %d emails (the transport fails every third call)\n", N);
	for (int i = 0; i < N; i++)
		if ((rc = submit(q, &mail[i], NULL, &ids[i])) != 0)
			fprintf(stderr, "submit: %s\n", jobq_strerror(rc));
	jobq_wait_many(q, ids, N, 0, 0, NULL);

	printf("\n2. the dead-letter list\n");
	jobq_status_t dead[4];
	size_t ndead = 0;
	jobq_dead_list(q, dead, 4, &ndead);
	for (size_t i = 0; i < ndead && i < 4; i++)
		printf("  job %llu \"%s\": %u attempt(s), %s\n", (unsigned long long)dead[i].id,
		       dead[i].name, dead[i].attempt, dead[i].error);

	printf("\n3. the typo is fixed in the address book; requeue\n");
	atomic_store(&bad_domain_fixed, 1);
	mail[4].to = "edsger@example.com";
	for (size_t i = 0; i < ndead && i < 4; i++) {
		uint64_t again;
		if (jobq_dead_requeue(q, dead[i].id, &again) == 0)
			jobq_wait(q, again, 0, NULL);
	}

	printf("\n4. three clicks on \"send\" for one request\n");
	static struct email order = {.to = "ada@example.com", .subject = "order 1001 confirmed"};
	uint64_t first = 0;
	for (int click = 1; click <= 3; click++) {
		uint64_t id;
		rc = submit(q, &order, "order-1001-confirmation", &id);
		printf("  click %d: %s, job %llu\n", click,
		       rc == 0 ? "queued" : rc == JOBQ_EEXIST ? "already queued" : jobq_strerror(rc),
		       (unsigned long long)id);
		if (click == 1)
			first = id;
	}
	jobq_wait(q, first, 0, NULL);
	printf("  delivered %d time(s)\n", atomic_load(&order.delivered));

	jobq_stats_t s;
	jobq_stats(q, &s);
	printf("\n5. stats: %llu jobs, %llu succeeded, %llu failed attempts, %llu retries, "
	       "%llu died\n",
	       (unsigned long long)s.submitted, (unsigned long long)s.succeeded,
	       (unsigned long long)s.failed, (unsigned long long)s.retried,
	       (unsigned long long)s.dead);
	jobq_shutdown(q, JOBQ_DRAIN, 0);
	return jobq_destroy(q) == 0 ? 0 : 1;
}
