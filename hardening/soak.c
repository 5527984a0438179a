/*
 * soak.c: hours of mixed load in minutes, with exactly-once accounting and a flat memory check.
 *
 * The run is a sequence of epochs of about three seconds. Each epoch creates an executor with
 * two event subscribers (one by callback, one by file descriptor, read by its own thread), and
 * three submitter threads that mix fire-and-forget posts, plain jobs, delayed jobs, jobs that
 * fail and retry with backoff, jobs that die (dead letters, some requeued by the main thread),
 * keyed jobs whose keys collide on purpose, and cancellations. The epoch ends with a shutdown
 * (drain and cancel in turn) racing the submitters, then jobq_destroy. Every item carries a tag,
 * and after the destroy every tag must be accounted for exactly once: refused by its submit (and
 * then nothing of it ran), or ran and ended with one callback per life (a requeued job has two)
 * and one destructor call.
 *
 * Cron schedules run alongside: the main thread keeps about six live (every second, every other
 * second with overlapping firings allowed, queue-one, firings that fail once and retry, a short
 * grace with misfire skip and jitter, every minute in New York) and, while the load runs,
 * pauses, resumes and removes them, adds new ones and cancels their latest jobs. Every other
 * epoch runs on a fast wall clock (jobq_options_t.clock): the monotonic clock is the system's,
 * so delays, backoff and windows keep their real lengths, while the wall clock that cron reads
 * runs CRON_SPEED times as fast, and a driver thread calls jobq_clock_advanced in a loop (it
 * then does the timer's work), so that every-second schedules fire hundreds of times a second;
 * the wall clock also looks stepped whenever the driver is descheduled for a few milliseconds,
 * which exercises the step hook. The other epochs use the system clocks and the timer thread.
 * Each firing's job is followed by its id: after the destroy every such job must have ended
 * exactly once (its callback), have run once if it succeeded (twice for the retrying kind) and
 * less if it was cancelled, and for each schedule the jobs up to the last job id seen by a
 * jobq_cron_info/list snapshot must number exactly the snapshot's fired count; the last
 * snapshot of a schedule that was paused before its removal, or that lived to the shutdown, is
 * final, so there all of its jobs must match the count. Each schedule's arg_free runs once.
 *
 * Memory is sampled after each destroy and malloc_trim: the resident size (/proc/self/statm)
 * and malloc's bytes in use (mallinfo2). After a warm-up (a third of the epochs, at least
 * three), the bytes in use must stay flat: the last third's largest sample within 5% (at least
 * 1 MiB) of the first third's largest. The process runs on one malloc arena (M_ARENA_MAX), so
 * that the resident size is not swung by tens of MiB of arenas cached for threads that came and
 * went; the last third's smallest resident sample must be within 10% (at least 8 MiB) of the
 * first third's largest: a leak raises every sample and fails it. Either way a leak of a few
 * bytes a job shows (an epoch runs about 450,000 items).
 *
 * Usage: soak [SECONDS]   (default 600); exits 0 when every check passed.
 */
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobq.h"
#include "slots.h"

#define EPOCH_MS 3000
#define SUBMITTERS 3
#define TAGS_PER_SUBMITTER 150000
#define TAGS (SUBMITTERS * TAGS_PER_SUBMITTER)
#define KEYS 97
#define CRON_SPEED 500       /* wall-clock seconds per second in the fast-clock epochs */
#define LIVE_SCHEDS 6        /* schedules kept live while the load runs */
#define MAX_SCHEDS 64        /* schedules added per epoch at most */
#define MAX_IDS (1u << 20)   /* job counters followed per epoch (an epoch uses about 500,000) */

enum kind { POST, PLAIN, DELAYED, FLAKY, DYING, KEYED, NKINDS };

struct tag {
	unsigned char kind;
	_Atomic unsigned char refused, runs, callbacks, frees, requeued;
	_Atomic unsigned char state; /* final state of the last life */
};

/* The schedule kinds, added in turn. */
enum cron_kind { C_SKIP, C_ALLOW, C_QUEUE, C_FLAKY, C_LATE, C_ZONED, NCRON };
static const char *const cron_expr[NCRON] = {
	"* * * * * *", "*/2 * * * * *", "* * * * * *", "* * * * * *", "* * * * * *", "* * * * *",
};

struct epoch;

/* One schedule, and what the main thread last saw of it. */
struct sched {
	struct epoch *e;
	uint64_t id;
	unsigned char kind;
	bool paused, removed, direct; /* direct: removed without a pause first */
	uint64_t fired, skipped, last_job; /* the last snapshot */
	_Atomic unsigned frees;
};

/* A firing's job, by id. sched_* are the schedule's index + 1, as its function and its
 * callback saw it. */
struct cron_job {
	_Atomic unsigned char runs, ends, state, sched_run, sched_end;
};

struct epoch {
	jobq_t *q;
	struct tag *tags;
	int64_t mono0, wall0; /* the fast wall clock reads wall0 at mono0 */
	bool fast;
	_Atomic int clock_stop;
	struct sched scheds[MAX_SCHEDS + 1]; /* the last one for the add after the shutdown */
	unsigned nscheds, nremoved;
	struct cron_job *cjobs;
	_Atomic uint64_t beyond; /* firings' ids past MAX_IDS */
	uint64_t cron_bad;       /* cron calls that answered what they must not */
	_Atomic int stop;
	_Atomic uint64_t ids[SUBMITTERS][256]; /* recent ids, for cancels */
	_Atomic uint64_t events_cb, events_fd, dropped;
	jobq_sub_t *fd_sub;
	uint64_t collapsed; /* keyed submits answered EEXIST */
	_Atomic uint64_t used[SUBMITTERS];
};

struct sub_arg {
	struct epoch *e;
	unsigned idx;
};

static unsigned passed, failed;

#define CHECK(cond, ...)                                            \
	do {                                                        \
		if (cond) {                                         \
			passed++;                                   \
		} else {                                            \
			failed++;                                   \
			fprintf(stderr, "soak: FAILED: " __VA_ARGS__); \
			fputc('\n', stderr);                        \
		}                                                   \
	} while (0)

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long rss_kib(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The fast-clock epochs' clock: the system's monotonic clock, and a wall clock CRON_SPEED
 * times as fast. */
static int64_t fast_clock(int realtime, void *data)
{
	const struct epoch *e = data;
	int64_t mono = mono_ns();
	return realtime ? e->wall0 + (mono - e->mono0) * CRON_SPEED : mono;
}

/* With a custom clock the executor acts only when told: this thread does the timer's work
 * (delays, retries, firings) for as long as the epoch runs. */
static void *clock_driver(void *p)
{
	struct epoch *e = p;
	while (!atomic_load(&e->clock_stop)) {
		if (jobq_clock_advanced(e->q) != 0)
			abort();
		sched_yield();
	}
	return NULL;
}

static void task(void *arg)
{
	struct tag *t = arg;
	atomic_fetch_add_explicit(&t->runs, 1, memory_order_relaxed);
}

static jobq_outcome_t job(jobq_ctx_t *ctx, void *arg)
{
	struct tag *t = arg;
	atomic_fetch_add_explicit(&t->runs, 1, memory_order_relaxed);
	jobq_ctx_progress(ctx, 50, "working");
	switch (t->kind) {
	case FLAKY:
		/* Fails its first two attempts; the third (the last allowed) succeeds. */
		return jobq_ctx_attempt(ctx) < 3 ? JOBQ_RETRY : JOBQ_DONE;
	case DYING:
		/* Dies in its first life; a requeued life succeeds. */
		if (!atomic_load(&t->requeued)) {
			jobq_ctx_set_error(ctx, "dying on purpose");
			return JOBQ_FATAL;
		}
		return JOBQ_DONE;
	default:
		jobq_ctx_set_result(ctx, "ok", 2);
		return JOBQ_DONE;
	}
}

static void done(const jobq_status_t *st, void *data)
{
	struct tag *t = data;
	atomic_store_explicit(&t->state, (unsigned char)st->state, memory_order_relaxed);
	atomic_fetch_add_explicit(&t->callbacks, 1, memory_order_relaxed);
}

static void arg_free(void *arg)
{
	struct tag *t = arg;
	atomic_fetch_add_explicit(&t->frees, 1, memory_order_relaxed);
}

/* A firing's job, by its id's counter, which grows by one with each id (lib/slots.h). */
static struct cron_job *cron_slot(struct epoch *e, uint64_t id)
{
	if (jobq__id_counter(id) < MAX_IDS)
		return &e->cjobs[jobq__id_counter(id)];
	atomic_fetch_add_explicit(&e->beyond, 1, memory_order_relaxed);
	return NULL;
}

/* A firing's job: the retrying kind fails its first attempt, every other attempt succeeds. */
static jobq_outcome_t cron_job(jobq_ctx_t *ctx, void *arg)
{
	struct sched *s = arg;
	struct cron_job *c = cron_slot(s->e, jobq_ctx_id(ctx));
	if (c) {
		atomic_store_explicit(&c->sched_run, (unsigned char)(s - s->e->scheds + 1),
				      memory_order_relaxed);
		atomic_fetch_add_explicit(&c->runs, 1, memory_order_relaxed);
	}
	return s->kind == C_FLAKY && jobq_ctx_attempt(ctx) == 1 ? JOBQ_RETRY : JOBQ_DONE;
}

static void cron_done(const jobq_status_t *st, void *data)
{
	struct sched *s = data;
	struct cron_job *c = cron_slot(s->e, st->id);
	if (c) {
		atomic_store_explicit(&c->sched_end, (unsigned char)(s - s->e->scheds + 1),
				      memory_order_relaxed);
		atomic_store_explicit(&c->state, (unsigned char)st->state, memory_order_relaxed);
		atomic_fetch_add_explicit(&c->ends, 1, memory_order_relaxed);
	}
}

static void cron_free(void *arg)
{
	struct sched *s = arg;
	atomic_fetch_add_explicit(&s->frees, 1, memory_order_relaxed);
}

static void on_event(const jobq_event_t *ev, void *data)
{
	struct epoch *e = data;
	atomic_fetch_add_explicit(&e->events_cb, 1, memory_order_relaxed);
	if (ev->kind == JOBQ_EV_DROPPED)
		atomic_fetch_add_explicit(&e->dropped, ev->dropped, memory_order_relaxed);
}

static void *fd_reader(void *p)
{
	struct epoch *e = p;
	jobq_event_t ev[64];
	while (!atomic_load(&e->stop)) {
		struct pollfd pfd = {.fd = jobq_sub_fd(e->fd_sub), .events = POLLIN};
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		size_t n;
		if (jobq_sub_read(e->fd_sub, ev, 64, &n) == 0)
			atomic_fetch_add_explicit(&e->events_fd, n, memory_order_relaxed);
	}
	return NULL;
}

static void *submitter(void *p)
{
	struct sub_arg *a = p;
	struct epoch *e = a->e;
	unsigned seed = a->idx * 7919u + (unsigned)now_ms();
	char key[16], name[16];
	for (unsigned i = 0; i < TAGS_PER_SUBMITTER && !atomic_load(&e->stop); i++) {
		struct tag *t = &e->tags[a->idx * TAGS_PER_SUBMITTER + i];
		t->kind = (unsigned char)(rand_r(&seed) % NKINDS);
		atomic_store(&e->used[a->idx], i + 1);
		int rc;
		if (t->kind == POST) {
			rc = jobq_post(e->q, task, t);
		} else {
			jobq_job_options_t o;
			jobq_job_options_init(&o);
			o.on_done = done;
			o.on_done_data = t;
			o.arg_free = arg_free;
			o.priority = (jobq_priority_t)(rand_r(&seed) % 3);
			snprintf(name, sizeof name, "%u", a->idx * TAGS_PER_SUBMITTER + i);
			o.name = name;
			if (t->kind == DELAYED)
				o.delay_ms = 1 + rand_r(&seed) % 20;
			if (t->kind == FLAKY || t->kind == DYING)
				o.max_attempts = 3;
			if (t->kind == FLAKY) {
				o.backoff.base_ms = 1;
				o.backoff.cap_ms = 4;
			}
			if (t->kind == KEYED) {
				snprintf(key, sizeof key, "k%u", rand_r(&seed) % KEYS);
				o.key = key;
			}
			uint64_t id = 0;
			rc = jobq_submit(e->q, job, t, &o, &id);
			if (rc == 0)
				atomic_store_explicit(&e->ids[a->idx][i % 256], id, memory_order_relaxed);
			if (rc == JOBQ_EEXIST)
				rc = 1;
		}
		if (rc) {
			if (rc != 1 && rc != JOBQ_ECLOSED && rc != JOBQ_EAGAIN) {
				fprintf(stderr, "soak: submit: %s\n", jobq_strerror(rc));
				abort();
			}
			atomic_store_explicit(&t->refused, 1, memory_order_relaxed);
		}
		if (rand_r(&seed) % 16 == 0) {
			uint64_t id = atomic_load_explicit(&e->ids[a->idx][rand_r(&seed) % 256],
							   memory_order_relaxed);
			if (id) {
				int c = jobq_cancel(e->q, id);
				if (c != 0 && c != JOBQ_EBUSY && c != JOBQ_ENOENT) {
					fprintf(stderr, "soak: cancel: %s\n", jobq_strerror(c));
					abort();
				}
			}
		}
	}
	return NULL;
}

/* Requeues about half of the dead jobs; the rest stay dead until destroy frees them. A job's
 * name is its tag's index, which is how the tag is found from the dead list. */
static void requeue_some(struct epoch *e, unsigned *seed)
{
	jobq_status_t dead[32];
	size_t n;
	if (jobq_dead_list(e->q, dead, 32, &n) != 0)
		return;
	for (size_t i = 0; i < n && i < 32; i++) {
		if (rand_r(seed) % 2)
			continue;
		/* Only tags' jobs: a firing's job is named "cron" (it never dies; the cron
		 * accounting reports one that did). */
		char *end;
		unsigned long idx = strtoul(dead[i].name, &end, 10);
		if (end == dead[i].name || *end || idx >= TAGS)
			continue;
		struct tag *t = &e->tags[idx];
		if (atomic_load(&t->requeued))
			continue;
		/* Set first: the new life reads it to decide to succeed. */
		atomic_store(&t->requeued, 1);
		int rc = jobq_dead_requeue(e->q, dead[i].id, NULL);
		if (rc) {
			if (rc != JOBQ_ECLOSED && rc != JOBQ_EAGAIN && rc != JOBQ_ENOENT) {
				fprintf(stderr, "soak: requeue: %s\n", jobq_strerror(rc));
				abort();
			}
			atomic_store(&t->requeued, 0);
		}
	}
}

/* A cron call that answered what it must not: reported (the first few) and counted. */
static void cron_fail(struct epoch *e, const char *what, uint64_t id, int rc)
{
	if (e->cron_bad++ < 5)
		fprintf(stderr, "soak: cron %s of schedule %llu: %s\n", what, (unsigned long long)id,
			jobq_strerror(rc));
}

/* Adds schedule e->scheds[i], of kind i % NCRON. Returns jobq_cron_add's code. */
static int cron_add(struct epoch *e, unsigned i, unsigned *seed)
{
	struct sched *s = &e->scheds[i];
	s->e = e;
	s->kind = (unsigned char)(i % NCRON);
	jobq_job_options_t jo;
	jobq_job_options_init(&jo);
	jo.name = "cron";
	jo.priority = (jobq_priority_t)(rand_r(seed) % 3);
	jo.on_done = cron_done;
	jo.on_done_data = s;
	jo.max_attempts = 3;
	jo.backoff.base_ms = 1;
	jo.backoff.cap_ms = 4;
	jobq_cron_options_t co;
	jobq_cron_options_init(&co);
	co.job = &jo;
	co.arg_free = cron_free;
	switch (s->kind) {
	case C_ALLOW:
		co.overlap = JOBQ_OVERLAP_ALLOW;
		break;
	case C_QUEUE:
		co.overlap = JOBQ_OVERLAP_QUEUE_ONE;
		break;
	case C_LATE:
		co.grace_ms = 1000;
		co.misfire = JOBQ_MISFIRE_SKIP;
		co.jitter_ms = 300;
		break;
	case C_ZONED:
		co.zone = "America/New_York";
		break;
	}
	char err[128];
	return jobq_cron_add(e->q, cron_expr[s->kind], cron_job, s, &co, &s->id, err, sizeof err);
}

/* Takes in a snapshot of s: its counts never go back, nor its last job. */
static void cron_note(struct sched *s, const jobq_cron_info_t *in)
{
	if (in->fired < s->fired || in->last_job < s->last_job || !in->paused != !s->paused)
		cron_fail(s->e, "snapshot (fired, last job or paused went wrong)", s->id, 0);
	s->fired = in->fired;
	s->skipped = in->skipped;
	s->last_job = in->last_job;
}

/* Snapshots every live schedule through jobq_cron_list. */
static void cron_snapshot(struct epoch *e)
{
	jobq_cron_info_t in[MAX_SCHEDS];
	size_t n = 0;
	int rc = jobq_cron_list(e->q, in, MAX_SCHEDS, &n);
	if (rc || n != e->nscheds - e->nremoved) {
		cron_fail(e, "list", n, rc);
		return;
	}
	for (size_t i = 0, k = 0; i < n; i++) {
		while (k < e->nscheds && e->scheds[k].id != in[i].id)
			k++;
		if (k == e->nscheds || e->scheds[k].removed) {
			cron_fail(e, "list (an unknown or removed schedule)", in[i].id, 0);
			return;
		}
		cron_note(&e->scheds[k], &in[i]);
	}
}

/* One round of the main thread's schedule changes while the load runs. */
static void cron_churn(struct epoch *e, unsigned *seed)
{
	if (e->nscheds - e->nremoved < LIVE_SCHEDS && e->nscheds < MAX_SCHEDS) {
		int rc = cron_add(e, e->nscheds, seed);
		if (rc == 0)
			e->nscheds++;
		else
			cron_fail(e, "add", 0, rc);
	}
	cron_snapshot(e);
	if (!e->nscheds)
		return;
	struct sched *s = &e->scheds[rand_r(seed) % e->nscheds];
	if (s->removed)
		return;
	jobq_cron_info_t in;
	int rc = 0;
	switch (rand_r(seed) % 8) {
	case 0:
		if ((rc = jobq_cron_pause(e->q, s->id)) == 0)
			s->paused = true;
		break;
	case 1:
		/* Resume may fail for memory only, and leaves the schedule paused then. */
		if ((rc = jobq_cron_resume(e->q, s->id)) == 0)
			s->paused = false;
		break;
	case 2:
		/* Paused first, the snapshot is the schedule's last word: nothing fires after. */
		if ((rc = jobq_cron_pause(e->q, s->id)) == 0) {
			s->paused = true;
			rc = jobq_cron_info(e->q, s->id, &in);
		}
		if (rc == 0) {
			cron_note(s, &in);
			rc = jobq_cron_remove(e->q, s->id);
		}
		if (rc == 0) {
			s->removed = true;
			e->nremoved++;
		}
		break;
	case 3:
		/* Removed while it runs: firings may come between the snapshot and the remove. */
		if ((rc = jobq_cron_info(e->q, s->id, &in)) == 0) {
			cron_note(s, &in);
			rc = jobq_cron_remove(e->q, s->id);
		}
		if (rc == 0) {
			s->removed = s->direct = true;
			e->nremoved++;
		}
		break;
	case 4:
		if (s->last_job)
			rc = jobq_cancel(e->q, s->last_job);
		if (rc == JOBQ_EBUSY || rc == JOBQ_ENOENT)
			rc = 0;
		break;
	}
	if (rc)
		cron_fail(e, "pause, resume, remove or cancel", s->id, rc);
}

/* After the shutdown: nothing fires any more, so each listed schedule's snapshot is final;
 * they are listed with no next time, and no schedule can be added. */
static void cron_close(struct epoch *e, unsigned *seed)
{
	jobq_cron_info_t in[MAX_SCHEDS];
	size_t n = 0;
	int rc = jobq_cron_list(e->q, in, MAX_SCHEDS, &n);
	for (size_t i = 0; rc == 0 && i < n && i < MAX_SCHEDS; i++)
		if (in[i].next_ns)
			cron_fail(e, "list after the shutdown (a next time)", in[i].id, 0);
	cron_snapshot(e);
	rc = cron_add(e, MAX_SCHEDS, seed);
	if (rc != JOBQ_ECLOSED)
		cron_fail(e, "add after the shutdown", 0, rc);
}

struct counts {
	uint64_t items, refused, runs, succeeded, dead, cancelled, requeued;
	uint64_t scheds, removed, fired, skipped, cron_runs, cron_succeeded, cron_cancelled;
};

/*
 * Every firing's job exactly once: one end, as many runs as its kind needs if it succeeded and
 * fewer if it was cancelled, function and callback on the same schedule; per schedule, the
 * jobs up to the last snapshot's last job are its fired count, and all of them when that
 * snapshot was final; each arg_free once, and none for the add refused after the shutdown.
 * Returns the number of failures.
 */
static uint64_t cron_account(struct epoch *e, struct counts *c)
{
	uint64_t bad = e->cron_bad + atomic_load(&e->beyond);
	uint64_t upto[MAX_SCHEDS] = {0}, all[MAX_SCHEDS] = {0};
	for (uint64_t n = 1; n < MAX_IDS; n++) { /* an id's counter (cron_slot) */
		struct cron_job *j = &e->cjobs[n];
		unsigned runs = j->runs, ends = j->ends, idx = j->sched_end;
		if (!runs && !ends)
			continue;
		const struct sched *s = idx && idx <= e->nscheds ? &e->scheds[idx - 1] : NULL;
		unsigned need = s && s->kind == C_FLAKY ? 2 : 1;
		bool ok = s && ends == 1 && (!runs || j->sched_run == idx) &&
			  (j->state == JOBQ_SUCCEEDED ? runs == need
						      : j->state == JOBQ_CANCELLED && runs < need);
		if (!ok && bad++ < 5)
			fprintf(stderr, "soak: firing job %llu: schedule %u/%u, runs %u, ends %u, "
				"state %u\n", (unsigned long long)n, idx, (unsigned)j->sched_run, runs,
				ends, (unsigned)j->state);
		if (!s)
			continue;
		all[idx - 1]++;
		upto[idx - 1] += n <= jobq__id_counter(s->last_job);
		c->cron_runs += runs;
		c->cron_succeeded += j->state == JOBQ_SUCCEEDED;
		c->cron_cancelled += j->state == JOBQ_CANCELLED;
	}
	for (unsigned i = 0; i < e->nscheds; i++) {
		const struct sched *s = &e->scheds[i];
		bool ok = s->frees == 1 && upto[i] == s->fired && (s->direct || all[i] == s->fired);
		if (!ok && bad++ < 5)
			fprintf(stderr, "soak: schedule %llu (kind %u%s): fired %llu, jobs %llu up to "
				"job %llu, %llu in all; arg_free %u times\n", (unsigned long long)s->id,
				s->kind, s->direct ? ", removed while running" : "",
				(unsigned long long)s->fired, (unsigned long long)upto[i],
				(unsigned long long)s->last_job, (unsigned long long)all[i], s->frees);
		c->fired += all[i];
		c->skipped += s->skipped;
	}
	bad += e->scheds[MAX_SCHEDS].frees != 0;
	c->scheds += e->nscheds;
	c->removed += e->nremoved;
	return bad;
}

static void run_epoch(unsigned number, struct counts *c)
{
	struct epoch *e = calloc(1, sizeof *e);
	if (!e || !(e->tags = calloc(TAGS, sizeof *e->tags)) ||
	    !(e->cjobs = calloc(MAX_IDS, sizeof *e->cjobs)))
		abort();
	jobq_options_t o;
	jobq_options_init(&o);
	o.workers = 3;
	o.capacity = 1024;
	o.full = JOBQ_FULL_BLOCK;
	o.block_timeout_ms = 50;
	o.retain_count = 5000;
	o.retain_ms = 500;
	o.dead_max = 2000; /* the oldest dead are dropped (destructor run): still exactly once */
	o.key_window_ms = 100;
	/* Epochs 0 and 1 of every four on the system clocks, 2 and 3 on the fast wall clock;
	 * drain and cancel shutdowns alternate. */
	e->fast = number % 4 >= 2;
	if (e->fast) {
		e->mono0 = mono_ns();
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		e->wall0 = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		o.clock = fast_clock;
		o.clock_data = e;
	}
	int rc = jobq_create(&e->q, &o);
	CHECK(rc == 0, "epoch %u: create: %s", number, jobq_strerror(rc));
	if (rc)
		exit(1);

	jobq_sub_options_t so;
	jobq_sub_t *cb_sub;
	jobq_sub_options_init(&so);
	so.fn = on_event;
	so.data = e;
	CHECK(jobq_subscribe(e->q, &so, &cb_sub) == 0, "subscribe (callback)");
	jobq_sub_options_init(&so);
	so.capacity = 256;
	CHECK(jobq_subscribe(e->q, &so, &e->fd_sub) == 0, "subscribe (fd)");
	pthread_t reader, driver, subs[SUBMITTERS];
	struct sub_arg args[SUBMITTERS];
	pthread_create(&reader, NULL, fd_reader, e);
	if (e->fast)
		pthread_create(&driver, NULL, clock_driver, e);
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		args[i] = (struct sub_arg){e, i};
		pthread_create(&subs[i], NULL, submitter, &args[i]);
	}

	/* While the submitters run: requeue dead jobs and change the schedules now and then. */
	unsigned seed = number;
	int64_t end = now_ms() + EPOCH_MS;
	while (now_ms() < end) {
		usleep(20000);
		requeue_some(e, &seed);
		cron_churn(e, &seed);
	}
	jobq_shutdown_mode_t mode = number % 2 ? JOBQ_CANCEL : JOBQ_DRAIN;
	rc = jobq_shutdown(e->q, mode, 0);
	CHECK(rc == 0, "epoch %u: shutdown: %s", number, jobq_strerror(rc));
	cron_close(e, &seed);
	atomic_store(&e->stop, 1);
	for (unsigned i = 0; i < SUBMITTERS; i++)
		pthread_join(subs[i], NULL);
	pthread_join(reader, NULL);
	/* After the shutdown, which in a drain needs the driver for the delays and retries. */
	atomic_store(&e->clock_stop, 1);
	if (e->fast)
		pthread_join(driver, NULL);
	jobq_stats_t st;
	jobq_stats(e->q, &st);
	CHECK(st.queued == 0 && st.running == 0, "epoch %u: %llu queued, %llu running after shutdown",
	      number, (unsigned long long)st.queued, (unsigned long long)st.running);
	CHECK(jobq_unsubscribe(cb_sub) == 0, "unsubscribe");
	CHECK(jobq_destroy(e->q) == 0, "destroy");

	/* Every tag exactly once. */
	uint64_t bad = 0;
	for (unsigned s = 0; s < SUBMITTERS; s++) {
		for (unsigned i = 0; i < atomic_load(&e->used[s]); i++) {
			struct tag *t = &e->tags[s * TAGS_PER_SUBMITTER + i];
			unsigned runs = t->runs, cbs = t->callbacks, frees = t->frees;
			unsigned lives = 1u + t->requeued;
			c->items++;
			if (t->refused) {
				c->refused++;
				bad += runs || cbs || frees;
				continue;
			}
			c->runs += runs;
			if (t->kind == POST) {
				bad += runs != 1;
				continue;
			}
			c->requeued += t->requeued;
			bad += cbs != lives || frees != 1;
			switch (t->state) {
			case JOBQ_SUCCEEDED:
				c->succeeded++;
				break;
			case JOBQ_DEAD:
				c->dead++;
				bad += t->kind != DYING;
				break;
			case JOBQ_CANCELLED:
				c->cancelled++;
				break;
			default:
				bad++;
			}
			if (bad && bad < 5)
				fprintf(stderr, "soak: tag %u/%u kind %u: runs %u callbacks %u frees %u "
					"state %u\n", s, i, t->kind, runs, cbs, frees, t->state);
		}
	}
	CHECK(bad == 0, "epoch %u: %llu tags not accounted for exactly once", number,
	      (unsigned long long)bad);
	CHECK(atomic_load(&e->events_cb) > 0 && atomic_load(&e->events_fd) > 0,
	      "epoch %u: no events heard", number);
	bad = cron_account(e, c);
	CHECK(bad == 0, "epoch %u (%s clock): %llu schedules, firings or cron calls not accounted "
	      "for exactly once", number, e->fast ? "fast" : "system", (unsigned long long)bad);
	free(e->cjobs);
	free(e->tags);
	free(e);
}

int main(int argc, char **argv)
{
	long seconds = argc > 1 ? atol(argv[1]) : 600;
	if (seconds < 10)
		seconds = 10;
	/* One malloc arena for the whole process: with one per thread, and threads coming and
	 * going every epoch, the resident size swings by tens of MiB on cached arenas alone and
	 * says nothing about leaks. */
	mallopt(M_ARENA_MAX, 1);
	int64_t end = now_ms() + seconds * 1000;
	struct counts c = {0};
	long rss[4096], heap[4096];
	unsigned epochs = 0;
	while (now_ms() < end && epochs < 4096) {
		run_epoch(epochs, &c);
		/* Hand free memory back first, so the sample is what is still allocated rather than
		 * what the arenas keep cached; a leak stays allocated. */
		malloc_trim(0);
		struct mallinfo2 mi = mallinfo2();
		heap[epochs] = (long)((mi.uordblks + mi.hblkhd) / 1024);
		rss[epochs++] = rss_kib();
		printf("soak: epoch %u: rss %ld KiB, heap in use %ld KiB, %llu items and %llu "
		       "firings so far\n", epochs, rss[epochs - 1], heap[epochs - 1],
		       (unsigned long long)c.items, (unsigned long long)c.fired);
		fflush(stdout);
	}

	unsigned warm = epochs / 3 > 3 ? epochs / 3 : 3;
	long rss_first = 0, rss_last = LONG_MAX, heap_first = 0, heap_last = 0;
	if (epochs >= warm + 3) {
		unsigned span = (epochs - warm) / 3;
		for (unsigned i = warm; i < warm + span; i++) {
			rss_first = rss[i] > rss_first ? rss[i] : rss_first;
			heap_first = heap[i] > heap_first ? heap[i] : heap_first;
		}
		for (unsigned i = epochs - span; i < epochs; i++) {
			rss_last = rss[i] < rss_last ? rss[i] : rss_last;
			heap_last = heap[i] > heap_last ? heap[i] : heap_last;
		}
		long heap_margin = heap_first / 20 > 1024 ? heap_first / 20 : 1024;
		long rss_margin = rss_first / 10 > 8192 ? rss_first / 10 : 8192;
		CHECK(heap_last <= heap_first + heap_margin,
		      "heap grew: first third max %ld KiB, last third max %ld KiB", heap_first,
		      heap_last);
		CHECK(rss_last <= rss_first + rss_margin,
		      "rss grew: first third max %ld KiB, last third min %ld KiB", rss_first, rss_last);
	} else {
		CHECK(0, "only %u epochs: too short to judge memory", epochs);
	}

	printf("soak: %u epochs in %ld s: %llu items (%llu refused), %llu runs, %llu succeeded, "
	       "%llu dead, %llu cancelled, %llu requeued\n",
	       epochs, seconds, (unsigned long long)c.items, (unsigned long long)c.refused,
	       (unsigned long long)c.runs, (unsigned long long)c.succeeded,
	       (unsigned long long)c.dead, (unsigned long long)c.cancelled,
	       (unsigned long long)c.requeued);
	printf("soak: cron: %llu schedules (%llu removed while the load ran), %llu firings' jobs, "
	       "%llu skipped, %llu runs, %llu succeeded, %llu cancelled\n",
	       (unsigned long long)c.scheds, (unsigned long long)c.removed,
	       (unsigned long long)c.fired, (unsigned long long)c.skipped,
	       (unsigned long long)c.cron_runs, (unsigned long long)c.cron_succeeded,
	       (unsigned long long)c.cron_cancelled);
	printf("soak: after warm-up: heap in use first third max %ld KiB, last third max %ld KiB; "
	       "rss first third max %ld KiB, last third min %ld KiB\n",
	       heap_first, heap_last, rss_first, rss_last);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
