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
 * Memory is sampled after each destroy and malloc_trim: the resident size (/proc/self/statm)
 * and malloc's bytes in use (mallinfo2). After a warm-up (a third of the epochs, at least
 * three), the bytes in use must stay flat: the last third's largest sample within 5% (at least
 * 1 MiB) of the first third's largest. The process runs on one malloc arena (M_ARENA_MAX), so
 * that the resident size is not swung by tens of MiB of arenas cached for threads that came and
 * went; the last third's smallest resident sample must be within 10% (at least 8 MiB) of the
 * first third's largest: a leak raises every sample and fails it. Either way a leak of a few bytes a job
 * shows (an epoch runs about 450,000 items).
 *
 * Usage: soak [SECONDS]   (default 600); exits 0 when every check passed.
 */
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobq.h"

#define EPOCH_MS 3000
#define SUBMITTERS 3
#define TAGS_PER_SUBMITTER 150000
#define TAGS (SUBMITTERS * TAGS_PER_SUBMITTER)
#define KEYS 97

enum kind { POST, PLAIN, DELAYED, FLAKY, DYING, KEYED, NKINDS };

struct tag {
	unsigned char kind;
	_Atomic unsigned char refused, runs, callbacks, frees, requeued;
	_Atomic unsigned char state; /* final state of the last life */
};

struct epoch {
	jobq_t *q;
	struct tag *tags;
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
		struct tag *t = &e->tags[strtoul(dead[i].name, NULL, 10)];
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

struct counts {
	uint64_t items, refused, runs, succeeded, dead, cancelled, requeued;
};

static void run_epoch(unsigned number, struct counts *c)
{
	struct epoch *e = calloc(1, sizeof *e);
	e->tags = calloc(TAGS, sizeof *e->tags);
	if (!e || !e->tags)
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
	pthread_t reader, subs[SUBMITTERS];
	struct sub_arg args[SUBMITTERS];
	pthread_create(&reader, NULL, fd_reader, e);
	for (unsigned i = 0; i < SUBMITTERS; i++) {
		args[i] = (struct sub_arg){e, i};
		pthread_create(&subs[i], NULL, submitter, &args[i]);
	}

	/* While the submitters run: requeue dead jobs now and then. */
	unsigned seed = number;
	int64_t end = now_ms() + EPOCH_MS;
	while (now_ms() < end) {
		usleep(20000);
		requeue_some(e, &seed);
	}
	jobq_shutdown_mode_t mode = number % 2 ? JOBQ_CANCEL : JOBQ_DRAIN;
	rc = jobq_shutdown(e->q, mode, 0);
	CHECK(rc == 0, "epoch %u: shutdown: %s", number, jobq_strerror(rc));
	atomic_store(&e->stop, 1);
	for (unsigned i = 0; i < SUBMITTERS; i++)
		pthread_join(subs[i], NULL);
	pthread_join(reader, NULL);
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
		printf("soak: epoch %u: rss %ld KiB, heap in use %ld KiB, %llu items so far\n", epochs,
		       rss[epochs - 1], heap[epochs - 1], (unsigned long long)c.items);
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
	printf("soak: after warm-up: heap in use first third max %ld KiB, last third max %ld KiB; "
	       "rss first third max %ld KiB, last third min %ld KiB\n",
	       heap_first, heap_last, rss_first, rss_last);
	printf("%u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
