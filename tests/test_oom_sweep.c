/*
 * test_oom_sweep.c: allocation failure in every public call that allocates, beyond the create
 * and plain-submit sweeps of test_oom.c: a delayed submit (the timer heap grows), a submit with
 * an idempotency key, jobq_subscribe of both kinds, jobq_dead_requeue, jobq_ctx_progress with
 * text, jobq_cron_parse and jobq_zone_load.
 *
 * Each call is swept: its 1st, 2nd, ... Nth allocation fails until it succeeds without reaching
 * the failure. Every failing attempt must return JOBQ_ENOMEM and take nothing; every job that was
 * accepted must end exactly once (callback and destructor once each), and none may be lost. The
 * AddressSanitizer build and make valgrind check that nothing leaks.
 */
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>

#include "alloc.h"
#include "jobq.h"
#include "testutil.h"

/* One job's record of what happened to it. */
struct tag {
	_Atomic int runs, callbacks, frees;
	_Atomic int final_state;
};

static void on_done(const jobq_status_t *st, void *data)
{
	struct tag *t = data;
	atomic_store(&t->final_state, st->state);
	atomic_fetch_add(&t->callbacks, 1);
}

static void on_free(void *arg)
{
	struct tag *t = arg;
	atomic_fetch_add(&t->frees, 1);
}

/* Succeeds, except that a job on its first run returns JOBQ_FATAL when fail_first is set. */
static _Atomic int fail_first;

static jobq_outcome_t job(jobq_ctx_t *ctx, void *arg)
{
	struct tag *t = arg;
	int runs = atomic_fetch_add(&t->runs, 1);
	return atomic_load(&fail_first) && runs == 0 ? JOBQ_FATAL : JOBQ_DONE;
}

/* One try of the call under test: 0 when it succeeded (and did its own bookkeeping). */
typedef int (*attempt_fn)(void *ctx);

/*
 * Fails the 1st, 2nd, ... allocation of attempt until it succeeds without reaching the failure;
 * every other result must be JOBQ_ENOMEM (or `also`, a second accepted code). Returns how many
 * attempts failed.
 */
static unsigned long sweep(attempt_fn attempt, void *ctx, int also)
{
	unsigned long failed = 0;
	for (unsigned long n = 1;; n++) {
		jobq__alloc_fail_nth(n);
		int rc = attempt(ctx);
		unsigned long made = jobq__alloc_fail_nth(0);
		if (rc == 0 || (also && rc == also)) {
			if (made < n)
				return failed;
		} else {
			ck_assert_msg(rc == JOBQ_ENOMEM, "attempt %lu: %s", n, jobq_err_name(rc));
			failed++;
		}
		ck_assert_uint_lt(n, 10000);
	}
}

static jobq_t *make_executor(unsigned max_attempts)
{
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 2;
	o.retain_count = 100000;
	o.max_attempts = max_attempts;
	jobq_t *q;
	ck_assert_int_eq(jobq_create(&q, &o), 0);
	return q;
}

/* ---- submits ---- */

struct submits {
	jobq_t *q;
	struct tag *tags;
	unsigned k;
	jobq_job_options_t jo;
	uint64_t *ids;
	unsigned accepted;
};

static int submit_once(void *p)
{
	struct submits *s = p;
	struct tag *t = &s->tags[s->k];
	s->jo.on_done_data = t;
	uint64_t id = 0;
	int rc = jobq_submit(s->q, job, t, &s->jo, &id);
	if (rc == 0) {
		ck_assert_uint_ne(id, 0);
		s->ids[s->k] = id;
		s->accepted++;
	} else if (rc == JOBQ_EEXIST) {
		ck_assert_uint_eq(id, s->ids[s->k]);
	} else {
		ck_assert_uint_eq(id, 0);
	}
	return rc;
}

static void submits_init(struct submits *s, jobq_t *q, unsigned n)
{
	*s = (struct submits){.q = q};
	s->tags = calloc(n, sizeof *s->tags);
	s->ids = calloc(n, sizeof *s->ids);
	ck_assert(s->tags && s->ids);
	jobq_job_options_init(&s->jo);
	s->jo.name = "swept";
	s->jo.on_done = on_done;
	s->jo.arg_free = on_free;
}

/* Every accepted job ended exactly once, in state `state`, having run `runs` times. */
static void submits_check(struct submits *s, unsigned n, int state, int runs)
{
	for (unsigned k = 0; k < n; k++) {
		struct tag *t = &s->tags[k];
		ck_assert_msg(atomic_load(&t->callbacks) == 1 && atomic_load(&t->frees) == 1,
			      "job %u: callbacks %d frees %d", k, atomic_load(&t->callbacks),
			      atomic_load(&t->frees));
		ck_assert_int_eq(atomic_load(&t->final_state), state);
		ck_assert_int_eq(atomic_load(&t->runs), runs);
	}
	free(s->tags);
	free(s->ids);
}

/* Delayed jobs wait in the timer heap, which doubles as it fills: sweeping 1000 delayed submits
 * fails each of the heap's reallocations. The jobs are cancelled by the shutdown, unrun. */
START_TEST(delayed_submit_sweep)
{
	enum { JOBS = 1000 };
	jobq_t *q = make_executor(0);
	struct submits s;
	submits_init(&s, q, JOBS);
	s.jo.delay_ms = 3600 * 1000;
	unsigned long failed = 0;
	for (s.k = 0; s.k < JOBS; s.k++) {
		failed += sweep(submit_once, &s, 0);
		ck_assert_uint_eq(s.accepted, s.k + 1);
	}
	/* The name of each, and now and then a segment of records and the heap as they grow. */
	ck_assert_uint_gt(failed, JOBS + 4);
	fprintf(stderr, "oom_sweep: delayed submit: %lu refused attempts over %d jobs\n", failed,
		JOBS);
	jobq_stats_t st;
	ck_assert_int_eq(jobq_stats(q, &st), 0);
	ck_assert_uint_eq(st.scheduled, JOBS);
	ck_assert_uint_eq(st.submitted, JOBS);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_CANCEL, 0), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	submits_check(&s, JOBS, JOBQ_CANCELLED, 0);
}
END_TEST

/* Keyed submits: the key table entry and its copy of the key can fail too. A second submit of a
 * live key answers JOBQ_EEXIST with the first id (or JOBQ_ENOMEM), and never runs anything. */
START_TEST(key_submit_sweep)
{
	enum { JOBS = 300 };
	jobq_t *q = make_executor(0);
	ck_assert_int_eq(jobq_pause(q), 0);
	struct submits s;
	submits_init(&s, q, JOBS);
	char key[32];
	s.jo.key = key;
	unsigned long failed = 0;
	for (s.k = 0; s.k < JOBS; s.k++) {
		snprintf(key, sizeof key, "key-%u", s.k);
		failed += sweep(submit_once, &s, 0);
		ck_assert_uint_eq(s.accepted, s.k + 1);
		sweep(submit_once, &s, JOBQ_EEXIST);
		ck_assert_uint_eq(s.accepted, s.k + 1);
	}
	ck_assert_uint_gt(failed, 3 * JOBS); /* record, name, key entry, key copy */
	fprintf(stderr, "oom_sweep: keyed submit: %lu refused attempts over %d jobs\n", failed, JOBS);
	ck_assert_int_eq(jobq_resume(q), 0);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	submits_check(&s, JOBS, JOBQ_SUCCEEDED, 1);
}
END_TEST

/* ---- dead letters ---- */

struct requeue {
	jobq_t *q;
	uint64_t dead_id, new_id;
};

static int requeue_once(void *p)
{
	struct requeue *r = p;
	r->new_id = 0;
	int rc = jobq_dead_requeue(r->q, r->dead_id, &r->new_id);
	size_t n;
	ck_assert_int_eq(jobq_dead_list(r->q, NULL, 0, &n), 0);
	if (rc) {
		/* Refused: the job is still in the list, and nothing new exists. */
		ck_assert_uint_eq(r->new_id, 0);
		jobq_status_t st;
		ck_assert_int_eq(jobq_status(r->q, r->dead_id, &st), 0);
		ck_assert_int_eq(st.state, JOBQ_DEAD);
	}
	return rc;
}

/* Jobs die on their first run; each is requeued under the sweep and then succeeds. Its callback
 * runs once per life (dead, then succeeded), its destructor once, when the new job ends. */
START_TEST(dead_requeue_sweep)
{
	enum { JOBS = 200 };
	atomic_store(&fail_first, 1);
	jobq_t *q = make_executor(1);
	struct submits s;
	submits_init(&s, q, JOBS);
	for (s.k = 0; s.k < JOBS; s.k++)
		ck_assert_int_eq(submit_once(&s), 0);
	ck_assert_int_eq(jobq_wait_many(q, s.ids, JOBS, 0, 0, NULL), 0);
	size_t n;
	ck_assert_int_eq(jobq_dead_list(q, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, JOBS);
	for (unsigned k = 0; k < JOBS; k++) {
		ck_assert_int_eq(atomic_load(&s.tags[k].callbacks), 1);
		ck_assert_int_eq(atomic_load(&s.tags[k].frees), 0);
	}

	unsigned long failed = 0;
	struct requeue r = {.q = q};
	for (unsigned k = 0; k < JOBS; k++) {
		r.dead_id = s.ids[k];
		failed += sweep(requeue_once, &r, 0);
		ck_assert_uint_ne(r.new_id, 0);
		s.ids[k] = r.new_id;
	}
	ck_assert_uint_ge(failed, JOBS); /* the new job's name, at least */
	fprintf(stderr, "oom_sweep: dead requeue: %lu refused attempts over %d jobs\n", failed, JOBS);
	ck_assert_int_eq(jobq_wait_many(q, s.ids, JOBS, 0, 0, NULL), 0);
	ck_assert_int_eq(jobq_shutdown(q, JOBQ_DRAIN, 0), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
	for (unsigned k = 0; k < JOBS; k++) {
		/* The second callback saw success; both lives counted. */
		ck_assert_int_eq(atomic_load(&s.tags[k].callbacks), 2);
		atomic_store(&s.tags[k].callbacks, 1);
	}
	submits_check(&s, JOBS, JOBQ_SUCCEEDED, 2);
	atomic_store(&fail_first, 0);
}
END_TEST

/* ---- subscriptions ---- */

struct subscribe {
	jobq_t *q;
	jobq_sub_options_t so;
	jobq_sub_t *sub;
};

static int subscribe_once(void *p)
{
	struct subscribe *s = p;
	s->sub = NULL;
	int rc = jobq_subscribe(s->q, &s->so, &s->sub);
	ck_assert(rc == 0 || s->sub == NULL);
	return rc;
}

static _Atomic int heard;

static void listener(const jobq_event_t *ev, void *data)
{
	(void)ev;
	(void)data;
	atomic_fetch_add(&heard, 1);
}

/* Both kinds, each swept ten times; the one left at the end must hear a job's events. */
START_TEST(subscribe_sweep)
{
	jobq_t *q = make_executor(0);
	struct subscribe cb = {.q = q}, fd = {.q = q};
	jobq_sub_options_init(&cb.so);
	cb.so.fn = listener;
	jobq_sub_options_init(&fd.so);
	fd.so.capacity = 64;
	for (int i = 0; i < 10; i++) {
		ck_assert_uint_gt(sweep(subscribe_once, &cb, 0), 0);
		ck_assert_uint_gt(sweep(subscribe_once, &fd, 0), 0);
		if (i < 9) {
			ck_assert_int_eq(jobq_unsubscribe(cb.sub), 0);
			ck_assert_int_eq(jobq_unsubscribe(fd.sub), 0);
		}
	}
	struct tag t = {0};
	uint64_t id;
	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.on_done = on_done;
	jo.on_done_data = &t;
	ck_assert_int_eq(jobq_submit(q, job, &t, &jo, &id), 0);
	ck_assert_int_eq(jobq_wait(q, id, 0, NULL), 0);
	struct pollfd pfd = {.fd = jobq_sub_fd(fd.sub), .events = POLLIN};
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	jobq_event_t ev[16];
	size_t n;
	ck_assert_int_eq(jobq_sub_read(fd.sub, ev, 16, &n), 0);
	ck_assert_uint_gt(n, 0);
	ck_assert_int_eq(jobq_unsubscribe(fd.sub), 0);
	/* The callback subscription hears the job's events on the event thread, in its own time:
	 * wait for it (destroy would drop what is still buffered). */
	while (atomic_load(&heard) == 0)
		sched_yield();
	ck_assert_int_eq(jobq_destroy(q), 0);
	ck_assert_int_eq(atomic_load(&t.callbacks), 1);
}
END_TEST

/* ---- progress ---- */

static _Atomic int progress_bad, progress_failed;

static int progress_once(void *p)
{
	jobq_ctx_t *ctx = p;
	return jobq_ctx_progress(ctx, 50, "half-way there");
}

/* Sweeps progress with text on the job's own thread (injection is per thread). An
 * ENOMEM leaves the earlier progress in place; the job still ends once. */
static jobq_outcome_t progress_job(jobq_ctx_t *ctx, void *arg)
{
	(void)arg;
	if (jobq_ctx_progress(ctx, 10, "started") != 0)
		atomic_store(&progress_bad, 1);
	for (unsigned long n = 1;; n++) {
		jobq__alloc_fail_nth(n);
		int rc = progress_once(ctx);
		unsigned long made = jobq__alloc_fail_nth(0);
		if (rc == 0 && made < n)
			break;
		if (rc != 0 && rc != JOBQ_ENOMEM)
			atomic_store(&progress_bad, 1);
		if (rc)
			atomic_fetch_add(&progress_failed, 1);
		if (n > 100) {
			atomic_store(&progress_bad, 1);
			break;
		}
	}
	return JOBQ_DONE;
}

START_TEST(progress_sweep)
{
	jobq_t *q = make_executor(0);
	/* A subscriber, so that the progress events are built and buffered too. */
	jobq_sub_t *sub;
	ck_assert_int_eq(jobq_subscribe(q, NULL, &sub), 0);
	struct tag t = {0};
	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.on_done = on_done;
	jo.on_done_data = &t;
	jo.arg_free = on_free;
	uint64_t id;
	ck_assert_int_eq(jobq_submit(q, progress_job, &t, &jo, &id), 0);
	jobq_status_t st;
	ck_assert_int_eq(jobq_wait(q, id, 0, &st), 0);
	ck_assert_int_eq(atomic_load(&progress_bad), 0);
	ck_assert_int_gt(atomic_load(&progress_failed), 0);
	ck_assert_int_eq(st.state, JOBQ_SUCCEEDED);
	ck_assert_int_eq(st.percent, 50);
	ck_assert_str_eq(st.progress, "half-way there");
	ck_assert_int_eq(atomic_load(&t.callbacks), 1);
	ck_assert_int_eq(atomic_load(&t.frees), 1);
	ck_assert_int_eq(jobq_unsubscribe(sub), 0);
	ck_assert_int_eq(jobq_destroy(q), 0);
}
END_TEST

/* ---- cron and zones ---- */

static int parse_once(void *p)
{
	const char *expr = p;
	jobq_cron_t *c = NULL;
	char err[128];
	int rc = jobq_cron_parse(expr, &c, err, sizeof err);
	if (rc == 0) {
		int64_t t;
		ck_assert_int_eq(jobq_cron_next(c, NULL, 1700000000, &t), 0);
		jobq_cron_free(c);
	} else {
		ck_assert_ptr_null(c);
	}
	return rc;
}

START_TEST(cron_parse_sweep)
{
	static const char *const exprs[] = {
		"*/5 * * * *", "0 30 2 * * *", "@weekly", "0 0 L-3,15W * *", "0 12 ? JAN-MAR 5L",
		"0 0 * * MON#2,FRI#5",
	};
	for (size_t i = 0; i < sizeof exprs / sizeof *exprs; i++)
		ck_assert_uint_gt(sweep(parse_once, (void *)exprs[i], 0), 0);
}
END_TEST

struct zone_load {
	const char *name;
	jobq_zone_t *z;
};

static int zone_once(void *p)
{
	struct zone_load *l = p;
	l->z = NULL;
	int rc = jobq_zone_load(l->name, &l->z);
	ck_assert(rc == 0 || l->z == NULL);
	return rc;
}

/* A first load (path, file buffer, zone) and a load that finds the zone in the cache. */
START_TEST(zone_load_sweep)
{
	struct zone_load first = {.name = "Europe/Berlin"}, again = {.name = "Europe/Berlin"};
	ck_assert_uint_ge(sweep(zone_once, &first, 0), 3);
	ck_assert_uint_ge(sweep(zone_once, &again, 0), 1);
	ck_assert_ptr_eq(first.z, again.z);
	int off;
	ck_assert_int_eq(jobq_zone_offset(again.z, 1720000000, &off), 0);
	ck_assert_int_eq(off, 7200);
	jobq_zone_free(again.z);
	jobq_zone_free(first.z);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("oom_sweep");
	TCase *tc = tcase_create("sweeps");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, delayed_submit_sweep);
	tcase_add_test(tc, key_submit_sweep);
	tcase_add_test(tc, dead_requeue_sweep);
	tcase_add_test(tc, subscribe_sweep);
	tcase_add_test(tc, progress_sweep);
	tcase_add_test(tc, cron_parse_sweep);
	tcase_add_test(tc, zone_load_sweep);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
