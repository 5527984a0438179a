/*
 * bench.c: `make bench`. Compares, on this machine and in one run, jobq (jobq_post, and
 * jobq_submit with an on_done callback), GLib's GThreadPool, libuv's uv_queue_work and a plain
 * mutex+condvar pool (mpool.c), plus floors: a raw futex wake, a cache-line ping-pong, and the
 * least a tracked job can cost here (a post that carries a record; see struct frec).
 *
 * Every measurement runs in its own forked child (a fresh heap, fresh threads; libuv reads
 * UV_THREADPOOL_SIZE once per process), is repeated REPS times, and the median is reported; the
 * executors of one row take turns, round by round (run_medians). The parent never starts a
 * thread. The report goes to stdout and to OUTDIR/report.txt; OUTDIR also gets the .dat files
 * that bench/plot.gp draws. The last lines are the ratio lines:
 *   ratio <workload> jobq/<peer> <x.xx>     (> 1: jobq is better, whatever the unit)
 *
 * Usage: bench [-o OUTDIR] [-r REPS] [-q] [-P]
 *        bench -x IMPL,MODE,SUBS,WORKERS,N[,CAPACITY[,SPIN_NS]]
 *   -r: runs per figure (default 5); -q: quick, a tenth of the work, for a smoke run;
 *   -P: do not pin the latency threads to CPUs; -x: one throughput run in this process (for
 *   perf and strace): IMPL 0 jobq, 1 gthreadpool, 2 libuv, 3 mutexpool, 4 and 5 the tracked
 *   floor with and without its clock readings (MODE 1 only); MODE 0 post, 1 tracked;
 *   SPIN_NS: each job busy-waits that many nanoseconds (default 0: empty jobs). It also
 *   prints a cache-line round trip between CPUs 0 and 1 taken right after the run, and for
 *   jobq's tracked jobs the two sides of a job apart: the submits of the last warm-up burst,
 *   queued while the pool was paused, and the workers' drain of it. Last, what the threads
 *   spent in the timed run, on a CPU and waiting for one (their schedstat): with more threads
 *   than CPUs, it says whether a run was bound by its CPUs or left one idle.
 *
 * Benchmarks are not tests: nothing here asserts a timing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <glib.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "jobq.h"
#include "malloc_count.h"
#include "mpool.h"
#include "ring.h"
#include "walltime.h"

/* ---- Clock, spinning, percentiles ------------------------------------------------------------ */

static inline int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void sleep_ns(int64_t ns)
{
	struct timespec ts = {ns / 1000000000, ns % 1000000000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Moves the calling thread to CPU cpu (threads it creates later inherit that). The latency
 * and floor measurements put the submitter on CPU 0 and the worker on CPU 1, so that where the
 * scheduler happens to place two spinning threads (one CPU, time-sliced for milliseconds) does
 * not decide the tail. No-op on a one-CPU machine. */
static int nopin;

static void pin_self(int cpu)
{
	if (nopin || sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof set, &set);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* p50, p99, p99.9 of v[0..n) in microseconds (sorts v). */
static void percentiles(int64_t *v, size_t n, double out[3])
{
	static const double q[3] = {0.50, 0.99, 0.999};
	qsort(v, n, sizeof *v, cmp_i64);
	for (int i = 0; i < 3; i++) {
		size_t k = (size_t)(q[i] * (double)n);
		out[i] = (double)v[k < n ? k : n - 1] / 1000.0;
	}
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench: %s failed (%d)\n", what, rc);
	_exit(2);
}

/* ---- The executors, behind one small interface ----------------------------------------------- */

/* The executors compared (NIMPL of them), then the two tracked floors, which run only in the
 * tracked rows with one submitter. */
enum { JOBQ, GLIB, LIBUV, MPOOL, NIMPL, FLOOR = NIMPL, FLOOR0, NSPEC };
static const char *const impl_name[NSPEC] = {"jobq", "gthreadpool", "libuv", "mutexpool",
					     "floor", "floor-noclock"};
enum { POST, TRACKED };

typedef void (*task_fn)(void *arg);

static task_fn g_job;                   /* what every job runs, in this child */
/* Completion callbacks run, counted per CPU: one shared counter would be a line that the
 * workers of jobq, GThreadPool and the mutex pool hand each other on every job (libuv runs its
 * callbacks on one thread), which is the harness's cost, not the executor's. */
#define DONE_SLOTS 64
static struct {
	alignas(128) _Atomic uint64_t n;
} g_done[DONE_SLOTS];

static void count_done(void)
{
	unsigned cpu = (unsigned)sched_getcpu() % DONE_SLOTS;
	atomic_fetch_add_explicit(&g_done[cpu].n, 1, memory_order_relaxed);
}

static uint64_t done_count(void)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < DONE_SLOTS; i++)
		n += atomic_load_explicit(&g_done[i].n, memory_order_relaxed);
	return n;
}

static void done_reset(void)
{
	for (unsigned i = 0; i < DONE_SLOTS; i++)
		atomic_store_explicit(&g_done[i].n, 0, memory_order_relaxed);
}

/* jobq's tracked job and its on_done. */
static jobq_outcome_t jq_fn(jobq_ctx_t *ctx, void *arg)
{
	g_job(arg);
	return JOBQ_DONE;
}

static void jq_done(const jobq_status_t *st, void *data)
{
	count_done();
}

/* GLib and the mutex pool have no completion callback: a tracked job is a heap record that the
 * worker runs, then calls back, then frees; that is what a user of those pools writes. */
struct rec {
	void *arg;
	void (*done)(void);
};

static void gl_plain(gpointer data, gpointer user)
{
	g_job(data);
}

static void gl_tracked(gpointer data, gpointer user)
{
	struct rec *r = data;
	g_job(r->arg);
	r->done();
	g_free(r);
}

static void mp_tracked(void *data)
{
	struct rec *r = data;
	g_job(r->arg);
	r->done();
	free(r);
}

/* libuv: the caller owns a uv_work_t per job until its after-work callback has run on the loop
 * thread; the bench preallocates them (outside the timing) so libuv pays no malloc for them. */
struct uvw {
	uv_work_t req;
	void *arg;
};

static void uv_work(uv_work_t *req)
{
	g_job(((struct uvw *)req)->arg);
}

static void uv_after(uv_work_t *req, int status)
{
	count_done();
}

/*
 * The tracked floor: what any executor must do for a tracked job at the least, on top of
 * jobq_post's ring and workers. A record per job that the submitter fills (id, argument,
 * callback, state, the created time) and the worker updates (claims it by CAS, stamps the start
 * and the end, stores the outcome, runs the callback); the three readings are of the clock that
 * jobq's own records use (jobq__walltime; FLOOR0 takes none). The records are preallocated and
 * walked in order, as libuv's uv_work_t are (its best case): no id table, no lock, no reuse, no
 * retention. A design whose records do more can only be slower, so where this floor is below a
 * target, the target is out of reach on this machine for any design of records on this ring and
 * these workers (docs/BENCHMARKS.md, the eleventh round).
 */
struct frec {
	alignas(64) _Atomic int state;
	uint64_t id;
	void *arg;
	void (*done)(void);
	int64_t created_ns, started_ns, finished_ns;
};

enum { FREC_QUEUED = 1, FREC_RUNNING, FREC_SUCCEEDED };

static int g_floor_clock; /* the floor's records take their three readings */

static inline int64_t floor_stamp(void)
{
	return g_floor_clock ? jobq__walltime() : 0;
}

static void floor_run(void *p)
{
	struct frec *r = p;
	int queued = FREC_QUEUED;
	if (!atomic_compare_exchange_strong(&r->state, &queued, FREC_RUNNING))
		die("floor record not queued", 0);
	r->started_ns = floor_stamp();
	g_job(r->arg);
	r->finished_ns = floor_stamp();
	atomic_store_explicit(&r->state, FREC_SUCCEEDED, memory_order_release);
	r->done();
}

struct ex {
	int impl, mode;
	jobq_t *q;
	GThreadPool *gp;
	struct mpool *mp;
	struct frec *arena[16]; /* the floor's records, one array per sub_open */
	unsigned narena;
};

/* One submitting thread's handle: libuv needs a loop per thread. */
struct sub {
	struct ex *ex;
	jobq_job_options_t jo;
	uv_loop_t loop;
	struct uvw *w;
	struct frec *fr; /* in ex->arena: freed by ex_destroy, once the workers are done with it */
	size_t nw, used;
};

static void ex_create(struct ex *e, int impl, int mode, unsigned workers, unsigned capacity)
{
	memset(e, 0, sizeof *e);
	e->impl = impl;
	e->mode = mode;
	int rc;
	g_floor_clock = impl == FLOOR;
	switch (impl) {
	case FLOOR: /* the floor's records travel through jobq_post */
	case FLOOR0:
	case JOBQ: {
		jobq_options_t o;
		jobq_options_init(&o);
		o.workers = workers;
		o.capacity = capacity;
		o.full = JOBQ_FULL_BLOCK;
		if ((rc = jobq_create(&e->q, &o)))
			die("jobq_create", rc);
		break;
	}
	case GLIB:
		e->gp = g_thread_pool_new(mode == POST ? gl_plain : gl_tracked, NULL, (gint)workers,
					  TRUE, NULL);
		if (!e->gp)
			die("g_thread_pool_new", 0);
		break;
	case LIBUV: {
		/* Read once per process, at the first uv_queue_work: set it, then start the pool
		 * with one job on a scratch loop. */
		char n[16];
		snprintf(n, sizeof n, "%u", workers);
		setenv("UV_THREADPOOL_SIZE", n, 1);
		uv_loop_t l;
		struct uvw w = {.arg = (void *)1};
		uv_loop_init(&l);
		uv_queue_work(&l, &w.req, uv_work, NULL);
		uv_run(&l, UV_RUN_DEFAULT);
		uv_loop_close(&l);
		break;
	}
	case MPOOL:
		e->mp = mpool_create(workers);
		break;
	}
}

static void sub_open(struct sub *s, struct ex *e, size_t maxjobs)
{
	memset(s, 0, sizeof *s);
	s->ex = e;
	jobq_job_options_init(&s->jo);
	s->jo.on_done = jq_done;
	if (e->impl == LIBUV) {
		uv_loop_init(&s->loop);
		s->nw = maxjobs;
		s->w = calloc(maxjobs, sizeof *s->w);
		if (!s->w)
			die("calloc", 0);
		memset(s->w, 1, maxjobs * sizeof *s->w); /* touch every page before the timing */
	} else if (e->impl >= FLOOR) {
		s->nw = maxjobs;
		s->fr = aligned_alloc(64, maxjobs * sizeof *s->fr);
		if (!s->fr || e->narena == sizeof e->arena / sizeof e->arena[0])
			die("floor records", 0);
		e->arena[e->narena++] = s->fr;
		memset(s->fr, 1, maxjobs * sizeof *s->fr); /* touch every page before the timing */
	}
}

/* Queues one job; arg is never NULL (GThreadPool refuses NULL data). */
static inline void sub_push(struct sub *s, void *arg)
{
	struct ex *e = s->ex;
	int rc = 0;
	struct rec *r;
	switch (e->impl) {
	case JOBQ:
		rc = e->mode == POST ? jobq_post(e->q, g_job, arg)
				     : jobq_submit(e->q, jq_fn, arg, &s->jo, NULL);
		if (rc)
			die("jobq_post/jobq_submit", rc);
		break;
	case GLIB:
		if (e->mode == POST) {
			g_thread_pool_push(e->gp, arg, NULL);
		} else {
			r = g_new(struct rec, 1);
			r->arg = arg;
			r->done = count_done;
			g_thread_pool_push(e->gp, r, NULL);
		}
		break;
	case LIBUV: {
		if (s->used == s->nw)
			die("uvw array", 0);
		struct uvw *w = &s->w[s->used++];
		w->arg = arg;
		rc = uv_queue_work(&s->loop, &w->req, uv_work, e->mode == POST ? NULL : uv_after);
		if (rc)
			die("uv_queue_work", rc);
		break;
	}
	case FLOOR:
	case FLOOR0: {
		if (s->used == s->nw)
			die("floor record array", 0);
		struct frec *f = &s->fr[s->used++];
		f->id = s->used;
		f->arg = arg;
		f->done = count_done;
		f->created_ns = floor_stamp();
		f->started_ns = f->finished_ns = 0;
		atomic_store_explicit(&f->state, FREC_QUEUED, memory_order_relaxed);
		if ((rc = jobq_post(e->q, floor_run, f)))
			die("jobq_post (floor)", rc);
		break;
	}
	case MPOOL:
		if (e->mode == POST) {
			mpool_post(e->mp, g_job, arg);
		} else {
			r = malloc(sizeof *r);
			r->arg = arg;
			r->done = count_done;
			mpool_post(e->mp, mp_tracked, r);
		}
		break;
	}
}

/* libuv: runs the thread's loop until every after-work callback has run. */
static void sub_close(struct sub *s)
{
	if (s->ex->impl == LIBUV) {
		uv_run(&s->loop, UV_RUN_DEFAULT);
		uv_loop_close(&s->loop);
		free(s->w);
	}
}

/* Waits until every job queued so far has run (and its callback with it). */
static void ex_drain(struct ex *e)
{
	int rc;
	switch (e->impl) {
	case JOBQ:
		if ((rc = jobq_shutdown(e->q, JOBQ_DRAIN, 0)))
			die("jobq_shutdown", rc);
		break;
	case GLIB:
		g_thread_pool_free(e->gp, FALSE, TRUE); /* waits for the queue, joins */
		e->gp = NULL;
		break;
	case LIBUV:
		break; /* sub_close ran every loop to completion */
	case MPOOL:
		mpool_drain(e->mp);
		break;
	}
}

static void ex_destroy(struct ex *e)
{
	if (e->q)
		jobq_destroy(e->q);
	if (e->gp)
		g_thread_pool_free(e->gp, FALSE, TRUE);
	if (e->mp)
		mpool_destroy(e->mp);
	while (e->narena)
		free(e->arena[--e->narena]);
}

/* ---- Children: one measurement each, results back through a pipe ---------------------------- */

#define NRES 24
typedef double result_t[NRES];

static void empty_job(void *arg)
{
	__asm__ __volatile__("" ::"r"(arg) : "memory");
}

/* -x with SPIN_NS: jobs that busy-wait that long instead (short real work, for what a change
 * does to jobs that are not empty). */
static int64_t g_spin_ns;

static void spin_job(void *arg)
{
	int64_t end = now_ns() + g_spin_ns;
	while (now_ns() < end)
		__asm__ __volatile__("" ::"r"(arg) : "memory");
}

/* ---- Where a throughput run's threads spent it ---------------------------------------------- */

/* A thread's time on a CPU and its time runnable but waiting for one, ns: the first two fields
 * of its schedstat file (both 0 where the kernel keeps no schedstats). With more threads than
 * CPUs, the two say whether a run was bound by its CPUs and which threads waited for them. */
struct sched_time {
	int64_t run, wait;
};

/* With open and read, not stdio: the submitters read theirs while allocations are counted. */
static struct sched_time sched_time_of(const char *path)
{
	struct sched_time t = {0, 0};
	char buf[128];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t len = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (fd >= 0)
		close(fd);
	if (len > 0) {
		char *end;
		buf[len] = '\0';
		t.run = strtoll(buf, &end, 10);
		t.wait = strtoll(end, NULL, 10);
	}
	return t;
}

#define MAX_TASKS 64
/* The ids of this process's threads but the caller's, at most MAX_TASKS; returns how many.
 * opendir allocates: not inside a window where allocations are counted. */
static unsigned other_threads(long tid[MAX_TASKS])
{
	long me = (long)syscall(SYS_gettid);
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	while (d && (de = readdir(d)) && n < MAX_TASKS)
		if (de->d_name[0] != '.' && atol(de->d_name) != me)
			tid[n++] = atol(de->d_name);
	if (d)
		closedir(d);
	return n;
}

/* The times of every thread of this process but the caller. */
struct task_times {
	unsigned n;
	long tid[MAX_TASKS];
	struct sched_time t[MAX_TASKS];
};

static void task_times(struct task_times *tt)
{
	tt->n = other_threads(tt->tid);
	for (unsigned i = 0; i < tt->n; i++) {
		char path[64];
		snprintf(path, sizeof path, "/proc/self/task/%ld/schedstat", tt->tid[i]);
		tt->t[i] = sched_time_of(path);
	}
}

/* What the threads of `after` spent since `before` (a thread new in after, from 0), summed into
 * *sum; returns how many of them ran at all. */
static unsigned task_times_since(const struct task_times *before, const struct task_times *after,
				 struct sched_time *sum)
{
	unsigned ran = 0;
	*sum = (struct sched_time){0, 0};
	for (unsigned i = 0; i < after->n; i++) {
		struct sched_time t0 = {0, 0};
		for (unsigned k = 0; k < before->n; k++)
			if (before->tid[k] == after->tid[i])
				t0 = before->t[k];
		sum->run += after->t[i].run - t0.run;
		sum->wait += after->t[i].wait - t0.wait;
		ran += after->t[i].run > t0.run;
	}
	return ran;
}

/* Throughput: S submitters each queue n/S empty jobs as fast as they can; timed from their start
 * until everything has run. res: [0] jobs/s, [1] CPU seconds per job, [2] allocs per job,
 * [3] bytes allocated per job, [4] seconds until the last submitter returned (libuv's after
 * running its loop, so its callbacks too), [5] seconds until everything had run, [6] page
 * faults in the timed run; for a tracked jobq row [7] ns a submit and [8] ns a job to drain in
 * the last warm-up burst; [9] [10] the submitters' ms on a CPU and waiting for one, [11] [12]
 * the executor's threads' and [13] how many of those ran (-x prints [7..13]). */
struct tput_thread {
	pthread_t t;
	struct ex *ex;
	size_t n;
	pthread_barrier_t *ready;
	_Atomic int *go;
	struct sched_time t0, t1; /* this submitter's, from the start to its last submit */
};

static void *tput_submitter(void *arg)
{
	struct tput_thread *a = arg;
	struct sub s;
	sub_open(&s, a->ex, a->n);
	pthread_barrier_wait(a->ready);
	while (!atomic_load_explicit(a->go, memory_order_acquire))
		relax();
	a->t0 = sched_time_of("/proc/thread-self/schedstat");
	for (size_t i = 0; i < a->n; i++)
		sub_push(&s, (void *)(uintptr_t)(i + 1));
	sub_close(&s);
	a->t1 = sched_time_of("/proc/thread-self/schedstat");
	return NULL;
}

/* This process's CPU time (seconds) and minor page faults so far, from one getrusage. */
struct usage {
	double cpu_s;
	long faults;
};

static struct usage usage_now(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (struct usage){(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
				      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
			      ru.ru_minflt};
}

#define WARM_BURSTS 6 /* the most warm-up bursts of a tracked jobq row (child_tput) */

static void child_tput(result_t res, int impl, int mode, unsigned subs, unsigned workers, size_t n,
		       unsigned capacity, int count)
{
	struct ex e;
	int rc;
	g_job = g_spin_ns ? spin_job : empty_job;
	ex_create(&e, impl, mode, workers, capacity);
	/* Warm up: every worker runs once, then the pool goes idle again. Tracked jobs first
	 * run the workload as a burst, so that the memory their records take (jobq's records,
	 * GLib's and the mutex pool's heap) has been touched, as libuv's and the floor's records
	 * are before the timing (sub_open): the timed run is the steady state of a program that
	 * has run such bursts before, not its first page faults. jobq's burst is queued while
	 * the pool is paused, where the ring holds all of it: the queue is then as long as the
	 * timed run can make it, and the record table grows to its size for that. Its records are
	 * used in the order of their ids, a lap of the table at a time (lib/slots.h), so the
	 * burst is repeated until one faults no new page in. With one plain burst, a timed run
	 * whose queue grew longer than the burst's doubled the table and faulted in its new half,
	 * 24-38 huge pages on the submitter's path: 16 interleaved rounds of S=1 W=2 gave a median
	 * of 6.60 M tracked jobs/s so, 8.69 with these bursts (docs/BENCHMARKS.md, the
	 * twenty-third round). */
	size_t warm = mode == TRACKED ? n / subs * subs : 4 * workers;
	bool paused = impl == JOBQ && mode == TRACKED && capacity >= warm;
	for (unsigned burst = 1;; burst++) {
		long faults = usage_now().faults;
		struct sub w;
		sub_open(&w, &e, warm);
		if (paused && (rc = jobq_pause(e.q)))
			die("jobq_pause", rc);
		int64_t w0 = now_ns();
		for (size_t i = 0; i < warm; i++)
			sub_push(&w, (void *)1);
		int64_t w1 = now_ns();
		if (paused && (rc = jobq_resume(e.q)))
			die("jobq_resume", rc);
		sub_close(&w);
		/* Polled every 20 µs, not spun on: a spinning reader of the callbacks' counters
		 * would pull their lines from the workers on every look, and slow the drain that
		 * this burst times. */
		if (mode == TRACKED)
			while (done_count() < warm)
				sleep_ns(20000);
		/* A paused burst times the two sides of a job apart: its submits, with no worker
		 * running, and the workers' drain of the queue they left (-x prints the last). */
		res[7] = paused ? (double)(w1 - w0) / (double)warm : 0;
		res[8] = paused ? (double)(now_ns() - w1) / (double)warm : 0;
		done_reset();
		faults = usage_now().faults - faults;
		if (!paused || faults == 0 || burst == WARM_BURSTS)
			break;
	}
	sleep_ns(20000000);

	struct tput_thread th[8];
	pthread_barrier_t ready;
	_Atomic int go = 0;
	pthread_barrier_init(&ready, NULL, subs + 1);
	for (unsigned i = 0; i < subs; i++) {
		th[i] = (struct tput_thread){.ex = &e, .n = n / subs, .ready = &ready, .go = &go};
		pthread_create(&th[i].t, NULL, tput_submitter, &th[i]);
	}
	pthread_barrier_wait(&ready);
	/* The executor's threads are every thread but this one and the submitters, which are gone
	 * by the second look. */
	struct task_times tt0, tt1;
	task_times(&tt0); /* before allocations are counted */
	size_t total = n / subs * subs;
	struct usage u0 = usage_now();
	uint64_t a0, b0, a1, b1;
	bench_alloc_counts(&a0, &b0);
	bench_count_allocs = count;
	int64_t t0 = now_ns();
	atomic_store_explicit(&go, 1, memory_order_release);
	for (unsigned i = 0; i < subs; i++)
		pthread_join(th[i].t, NULL);
	int64_t tq = now_ns();
	ex_drain(&e);
	if (mode == TRACKED)
		while (done_count() < total)
			relax();
	int64_t t1 = now_ns();
	bench_count_allocs = 0;
	struct usage u1 = usage_now();
	bench_alloc_counts(&a1, &b1);
	task_times(&tt1); /* after the counts */
	ex_destroy(&e);
	res[0] = (double)total / ((double)(t1 - t0) / 1e9);
	res[1] = (u1.cpu_s - u0.cpu_s) / (double)total;
	res[2] = (double)(a1 - a0) / (double)total;
	res[3] = (double)(b1 - b0) / (double)total;
	res[4] = (double)(tq - t0) / 1e9;
	res[5] = (double)(t1 - t0) / 1e9;
	res[6] = (double)(u1.faults - u0.faults);
	struct sched_time ex_t;
	res[13] = task_times_since(&tt0, &tt1, &ex_t);
	res[11] = (double)ex_t.run / 1e6;
	res[12] = (double)ex_t.wait / 1e6;
	res[9] = res[10] = 0;
	for (unsigned i = 0; i < subs; i++) {
		res[9] += (double)(th[i].t1.run - th[i].t0.run) / 1e6;
		res[10] += (double)(th[i].t1.wait - th[i].t0.wait) / 1e6;
	}
}

/* Latency: one submitter (this thread), one worker, so each has a core of a 2-core machine. */
static int64_t *g_sub;              /* submit time (awake, parked) or scheduled time (open loop) */
static int64_t *g_lat;              /* start - g_sub */
static _Atomic uint64_t g_completed;

static void stamp_job(void *arg)
{
	size_t i = (uintptr_t)arg - 1;
	g_lat[i] = now_ns() - g_sub[i];
	atomic_fetch_add_explicit(&g_completed, 1, memory_order_release);
}

static void wait_completed(uint64_t n)
{
	while (atomic_load_explicit(&g_completed, memory_order_acquire) < n)
		relax();
}

static _Atomic uint32_t fx_word;
static _Atomic int64_t fx_woke;
static size_t fx_iters;
static void *fx_parked(void *arg);
static void fx_parked_start(pthread_t *t, size_t n);
static int64_t fx_parked_wake(size_t i);

/* res: [0..2] awake, [3..5] parked, [6..8] open 50%, [9..11] open 90% (p50, p99, p99.9 µs),
 * [12] capacity jobs/s, [13] the 50% rate, [14] the 90% rate, [15..17] the futex floor
 * measured between the parked samples (see below). */
static void child_latency(result_t res, int impl, size_t n_awake, size_t n_parked, size_t n_cap,
			  double open_s)
{
	const size_t max_open = 400000;
	size_t total = n_awake + n_parked + n_cap + 2 * max_open, k = 0;
	g_sub = malloc(total * sizeof *g_sub);
	g_lat = malloc(total * sizeof *g_lat);
	if (!g_sub || !g_lat)
		die("malloc", 0);
	/* Fault every page in now, not in the middle of a measurement (a memset to zero after
	 * calloc would be optimised away). */
	memset(g_sub, 0xff, total * sizeof *g_sub);
	memset(g_lat, 0xff, total * sizeof *g_lat);
	g_job = stamp_job;
	struct ex e;
	pin_self(1);
	ex_create(&e, impl, POST, 1, 1u << 20);
	pin_self(0);
	struct sub s;
	sub_open(&s, &e, total);

	/* Awake: the next job is queued as soon as the previous one started. */
	for (size_t i = 0; i < n_awake; i++, k++) {
		g_sub[k] = now_ns();
		sub_push(&s, (void *)(uintptr_t)(k + 1));
		wait_completed(k + 1);
	}
	percentiles(g_lat + k - n_awake, n_awake, res + 0);

	/* Parked: 200 µs of quiet before each job, far past any spin. Each job alternates with
	 * one raw futex wake of a thread parked the same way on the worker's CPU, so that the
	 * floor the target compares with is taken under the same conditions (the floor measured
	 * on its own, in another process, moves by several microseconds from run to run). */
	int64_t *floor_lat = malloc(n_parked * sizeof *floor_lat);
	pthread_t ft;
	fx_parked_start(&ft, n_parked);
	for (size_t i = 0; i < n_parked; i++, k++) {
		sleep_ns(200000);
		g_sub[k] = now_ns();
		sub_push(&s, (void *)(uintptr_t)(k + 1));
		wait_completed(k + 1);
		floor_lat[i] = fx_parked_wake(i);
	}
	pthread_join(ft, NULL);
	percentiles(g_lat + k - n_parked, n_parked, res + 3);
	percentiles(floor_lat, n_parked, res + 15);
	free(floor_lat);

	/* Capacity of this configuration with this job, closed loop. */
	int64_t t0 = now_ns();
	for (size_t i = 0; i < n_cap; i++, k++) {
		g_sub[k] = t0;
		sub_push(&s, (void *)(uintptr_t)(k + 1));
	}
	wait_completed(k);
	double cap = (double)n_cap / ((double)(now_ns() - t0) / 1e9);
	res[12] = cap;
	sleep_ns(10000000);

	/* Open loop: arrivals on a fixed timetable; latency from the scheduled time, so a late
	 * submitter or a backlog counts against the executor (no coordinated omission). */
	static const double frac[2] = {0.5, 0.9};
	for (int f = 0; f < 2; f++) {
		double rate = frac[f] * cap, period = 1e9 / rate;
		size_t n = (size_t)(rate * open_s);
		if (n > max_open)
			n = max_open;
		if (n < 2000)
			n = 2000;
		size_t base = k;
		int64_t start = now_ns() + 100000;
		for (size_t i = 0; i < n; i++, k++) {
			int64_t due = start + (int64_t)((double)i * period);
			while (now_ns() < due)
				relax();
			g_sub[k] = due;
			sub_push(&s, (void *)(uintptr_t)(k + 1));
		}
		wait_completed(k);
		percentiles(g_lat + base, n, res + 6 + 3 * f);
		res[13 + f] = rate;
		sleep_ns(10000000);
	}
	sub_close(&s);
	ex_drain(&e);
	ex_destroy(&e);
}

/* Context switches (voluntary + involuntary) of every thread of this process but the caller. */
static uint64_t ctxsw_others(void)
{
	long tid[MAX_TASKS];
	unsigned n = other_threads(tid);
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		char path[64], line[128];
		snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid[i]);
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof line, f)) {
			unsigned long v;
			if (sscanf(line, "voluntary_ctxt_switches: %lu", &v) == 1 ||
			    sscanf(line, "nonvoluntary_ctxt_switches: %lu", &v) == 1)
				sum += v;
		}
		if (f)
			fclose(f);
	}
	return sum;
}

/* Idle: wake-ups per second of an executor with all-core workers and nothing to do.
 * res[0] wake-ups/s, [1] bytes of queue per queued job. */
static void child_idle(result_t res, int impl, unsigned workers, double secs)
{
	struct ex e;
	g_job = empty_job;
	ex_create(&e, impl, POST, workers, 0);
	struct sub s;
	sub_open(&s, &e, 64);
	for (unsigned i = 0; i < 4 * workers; i++)
		sub_push(&s, (void *)1);
	sub_close(&s);
	sleep_ns(100000000);
	uint64_t c0 = ctxsw_others();
	int64_t t0 = now_ns();
	sleep_ns((int64_t)(secs * 1e9));
	uint64_t c1 = ctxsw_others();
	res[0] = (double)(c1 - c0) / ((double)(now_ns() - t0) / 1e9);
	ex_destroy(&e);
	switch (impl) {
	case JOBQ: res[1] = sizeof(struct jobq__slot); break;
	case GLIB: res[1] = sizeof(GList); break; /* GAsyncQueue: a GQueue of GList nodes */
	case LIBUV: res[1] = sizeof(struct uvw); break; /* the caller's uv_work_t, intrusive */
	case MPOOL: res[1] = (double)mpool_item_size(); break;
	}
}

/* Floors. res: [0] futex ping-pong round trip µs, [1..3] one-way futex wake of a parked
 * thread p50/p99/p99.9 µs (measured like the parked case), [4] cache-line round trip µs. */
static _Atomic uint64_t fx_line;

static long futex(_Atomic uint32_t *w, int op, uint32_t val)
{
	return syscall(SYS_futex, w, op, val, NULL, NULL, 0);
}

static void *fx_pong(void *arg)
{
	for (size_t i = 0; i < fx_iters; i++) {
		while (atomic_load(&fx_word) == 0)
			futex(&fx_word, FUTEX_WAIT_PRIVATE, 0);
		atomic_store(&fx_word, 0);
		futex(&fx_word, FUTEX_WAKE_PRIVATE, 1);
	}
	return NULL;
}

static void *fx_parked(void *arg)
{
	for (size_t i = 0; i < fx_iters; i++) {
		uint32_t v;
		while ((v = atomic_load(&fx_word)) != (uint32_t)(2 * i + 1))
			futex(&fx_word, FUTEX_WAIT_PRIVATE, v);
		atomic_store(&fx_woke, now_ns());
	}
	return NULL;
}

/* Starts fx_parked on CPU 1 (the worker's) for n wakes. */
static void fx_parked_start(pthread_t *t, size_t n)
{
	fx_iters = n;
	atomic_store(&fx_word, 0);
	pin_self(1);
	pthread_create(t, NULL, fx_parked, NULL);
	pin_self(0);
}

/* Wake i of the parked thread, after 200 µs of quiet: ns from FUTEX_WAKE to its running. */
static int64_t fx_parked_wake(size_t i)
{
	atomic_store(&fx_woke, 0);
	sleep_ns(200000);
	int64_t t = now_ns();
	atomic_store(&fx_word, 2 * (uint32_t)i + 1);
	futex(&fx_word, FUTEX_WAKE_PRIVATE, 1);
	int64_t w;
	while ((w = atomic_load(&fx_woke)) == 0)
		relax();
	return w - t;
}

/* With fx_stamp set, each hand-off of fx_line also carries the sender's time-stamp counter, and
 * the receiver keeps the least lag it sees between its own counter and the sender's (fx_lag[1]
 * on CPU 1, fx_lag[0] on CPU 0): a negative lag means the two CPUs' counters disagree, which is
 * why jobq reads the TSC only where the kernel keeps time with it (lib/walltime.c). */
static _Atomic uint64_t fx_tsc;
static int fx_stamp;
static int64_t fx_lag[2];

/* The counter, read in order: without the fence the read may run ahead of the load that saw
 * the hand-off and make a lag look shorter, even negative, than it is. */
static inline uint64_t tsc_now(void)
{
#if defined(__x86_64__)
	_mm_lfence();
	return __rdtsc();
#else
	return 0;
#endif
}

static void line_pass(uint64_t v)
{
	if (fx_stamp)
		atomic_store_explicit(&fx_tsc, tsc_now(), memory_order_relaxed);
	atomic_store_explicit(&fx_line, v, memory_order_release);
}

static void line_wait(uint64_t v, int cpu)
{
	while (atomic_load_explicit(&fx_line, memory_order_acquire) != v)
		relax();
	if (fx_stamp) {
		int64_t lag = (int64_t)(tsc_now() - atomic_load_explicit(&fx_tsc, memory_order_relaxed));
		if (lag < fx_lag[cpu])
			fx_lag[cpu] = lag;
	}
}

static void *line_pong(void *arg)
{
	for (uint64_t i = 0; i < fx_iters; i++) {
		line_wait(2 * i + 1, 1);
		line_pass(2 * i + 2);
	}
	return NULL;
}

/* One 64-bit word bounced n times between CPU 0 and CPU 1: µs a round trip. */
static double line_bounce(uint64_t n)
{
	pthread_t t;
	fx_iters = n;
	fx_lag[0] = fx_lag[1] = INT64_MAX;
	atomic_store(&fx_line, 0);
	pin_self(1);
	pthread_create(&t, NULL, line_pong, NULL);
	pin_self(0);
	int64_t t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		line_pass(2 * i + 1);
		line_wait(2 * i + 2, 0);
	}
	double us = (double)(now_ns() - t0) / (double)n / 1000.0;
	pthread_join(t, NULL);
	return us;
}

/*
 * How fast CPUs 0 and 1 are, alone and together: a loop of eight independent multiply chains
 * held in registers, which keeps one core's multipliers busy, timed on CPU 0 alone, on CPU 1
 * alone, then on both at once. Where the two are cores of their own, each runs as fast together
 * as alone; two hardware threads of one core, or two vCPUs that the host runs on one, would each
 * run at about half. A CPU that is slower alone shares its core with work outside this guest, or
 * runs at a lower clock. The guest's topology shows one thread a core either way, so this is
 * measured. The throughput rows compare executors whose threads share these two CPUs, and their
 * ratios move with it (docs/BENCHMARKS.md, the thirty-first round).
 */
#define CORE_LOOPS 20000000

/* ns a round of the loop on the calling thread's CPU. */
static double core_loop(void)
{
	const uint64_t m = 0x9e3779b97f4a7c15ULL;
	uint64_t a = 1, b = 2, c = 3, d = 4, e = 5, f = 6, g = 7, h = 8;
	int64_t t0 = now_ns();
	for (long i = 0; i < CORE_LOOPS; i++) {
		a = a * m + 1, b = b * m + 2, c = c * m + 3, d = d * m + 4;
		e = e * m + 5, f = f * m + 6, g = g * m + 7, h = h * m + 8;
		/* Each round's products are made, and the chains are not folded into fewer. */
		__asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c), "+r"(d), "+r"(e), "+r"(f), "+r"(g),
				 "+r"(h));
	}
	return (double)(now_ns() - t0) / CORE_LOOPS;
}

struct core_run {
	pthread_barrier_t start; /* both loops begin together */
	double ns;               /* CPU 1's ns a round while CPU 0 runs too */
};

static void *core_other(void *arg)
{
	struct core_run *run = arg;
	pthread_barrier_wait(&run->start);
	run->ns = core_loop();
	return NULL;
}

/* res[0] and res[1]: CPU 0's and CPU 1's ns a round alone; res[2] and res[3]: the same while
 * both run. */
static void core_speeds(double *res)
{
	pthread_t t;
	struct core_run run;
	pthread_barrier_init(&run.start, NULL, 2);
	pin_self(1);
	res[1] = core_loop();
	pthread_create(&t, NULL, core_other, &run); /* on CPU 1, as its creator is now */
	pin_self(0);
	res[0] = core_loop();
	pthread_barrier_wait(&run.start);
	res[2] = core_loop();
	pthread_join(t, NULL);
	res[3] = run.ns;
	pthread_barrier_destroy(&run.start);
}

static void child_floors(result_t res, size_t n_rtt, size_t n_parked, size_t n_line)
{
	pthread_t t;
	/* Futex round trip: each side sleeps in FUTEX_WAIT until the other wakes it. */
	fx_iters = n_rtt;
	atomic_store(&fx_word, 0);
	pin_self(1);
	pthread_create(&t, NULL, fx_pong, NULL);
	pin_self(0);
	int64_t t0 = now_ns();
	for (size_t i = 0; i < n_rtt; i++) {
		atomic_store(&fx_word, 1);
		futex(&fx_word, FUTEX_WAKE_PRIVATE, 1);
		while (atomic_load(&fx_word) == 1)
			futex(&fx_word, FUTEX_WAIT_PRIVATE, 1);
	}
	res[0] = (double)(now_ns() - t0) / (double)n_rtt / 1000.0;
	pthread_join(t, NULL);

	/* One-way wake of a thread parked in FUTEX_WAIT, after the same 200 µs of quiet. */
	int64_t *lat = calloc(n_parked, sizeof *lat);
	fx_parked_start(&t, n_parked);
	for (size_t i = 0; i < n_parked; i++)
		lat[i] = fx_parked_wake(i);
	pthread_join(t, NULL);
	percentiles(lat, n_parked, res + 1);
	free(lat);

	/* Cache-line ping-pong: one 64-bit word bounced between two spinning threads. */
	fx_stamp = 0;
	res[4] = line_bounce(n_line);

	/* The same with each hand-off stamped: the least lag each way in nanoseconds ([5] seen on
	 * CPU 1, [6] on CPU 0), and [7] the counter's largest step back (0 when none). */
	fx_stamp = 1;
	uint64_t k0 = tsc_now();
	t0 = now_ns();
	line_bounce(n_line);
	double per_ns = (double)(tsc_now() - k0) / (double)(now_ns() - t0);
	for (int c = 0; c < 2; c++)
		res[6 - c] = per_ns > 0 ? (double)fx_lag[c] / per_ns : 0;
	res[7] = res[5] < res[6] ? -res[5] : -res[6];
	if (res[7] < 0)
		res[7] = 0;
	core_speeds(res + 8);
}

/* ---- The parent: runs the children, takes medians, prints and writes the report -------------- */

enum { K_TPUT, K_LAT, K_IDLE, K_FLOORS };

struct spec {
	int kind, impl, mode, count;
	unsigned subs, workers, capacity;
	size_t n;
};

static int quick;

static void child(const struct spec *sp, result_t res)
{
	switch (sp->kind) {
	case K_TPUT:
		child_tput(res, sp->impl, sp->mode, sp->subs, sp->workers, sp->n, sp->capacity,
			   sp->count);
		break;
	case K_LAT:
		child_latency(res, sp->impl, quick ? 2000 : 20000, quick ? 300 : 2500,
			      quick ? 20000 : 100000, quick ? 0.03 : 0.15);
		break;
	case K_IDLE:
		child_idle(res, sp->impl, sp->workers, quick ? 0.2 : 1.0);
		break;
	case K_FLOORS:
		child_floors(res, quick ? 2000 : 20000, quick ? 300 : 2500, quick ? 50000 : 500000);
		break;
	}
}

static double machine_busy_s(void);
static double children_cpu_s(void);
static int redone, waited;
static double other_in_runs, secs_in_runs; /* over the measurements kept */

/* Waits (up to about 1 s) until the machine has been quiet for 50 ms: less than 10% of its CPU
 * time busy. The benchmark's own parent is idle meanwhile. */
static void wait_quiet(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	for (int i = 0; i < 10; i++) {
		double b0 = machine_busy_s();
		sleep_ns(50000000);
		if (machine_busy_s() - b0 <= 0.1 * 0.05 * (double)ncpu)
			return;
		if (i == 0)
			waited++;
		sleep_ns(50000000);
	}
}

static void run_child(const struct spec *sp, result_t res);

/* Runs one measurement in a fresh child process, on a quiet machine: if other processes took
 * more than 10% of the machine while it ran, it is run again (once). */
static void run_once(const struct spec *sp, result_t res)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	for (int attempt = 0;; attempt++) {
		wait_quiet();
		double b0 = machine_busy_s(), c0 = children_cpu_s();
		int64_t t0 = now_ns();
		run_child(sp, res);
		double secs = (double)(now_ns() - t0) / 1e9;
		double other = machine_busy_s() - b0 - (children_cpu_s() - c0);
		/* /proc/stat counts in ticks: allow two of them besides the 10%. */
		if (other <= 0.1 * secs * (double)ncpu + 0.02 || attempt == 1) {
			other_in_runs += other > 0 ? other : 0;
			secs_in_runs += secs * (double)ncpu;
			return;
		}
		redone++;
	}
}

static void run_child(const struct spec *sp, result_t res)
{
	int fd[2];
	if (pipe(fd))
		die("pipe", errno);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", errno);
	if (pid == 0) {
		close(fd[0]);
		result_t r = {0};
		child(sp, r);
		ssize_t w = write(fd[1], r, sizeof r);
		_exit(w == (ssize_t)sizeof r ? 0 : 3);
	}
	close(fd[1]);
	size_t got = 0;
	while (got < sizeof(result_t)) {
		ssize_t r = read(fd[0], (char *)res + got, sizeof(result_t) - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (got != sizeof(result_t) || !WIFEXITED(st) || WEXITSTATUS(st))
		die("a benchmark child", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/*
 * Runs n measurements reps times each, round by round (each of the n once, then each again), so
 * that a slow spell of the machine (a virtual machine's host has minutes-long ones) falls on
 * every executor of a row alike rather than on one; res[k] gets the median of each figure of
 * sp[k], and best[k] (when best is not NULL) the largest: a floor's throughput is what the
 * machine allows at best, so its fastest run is the estimate of it.
 */
static void run_medians(const struct spec *sp, int n, int reps, result_t *res, result_t *best)
{
	static result_t all[NSPEC][9];
	for (int r = 0; r < reps; r++)
		for (int k = 0; k < n; k++)
			run_once(&sp[k], all[k][r]);
	for (int k = 0; k < n; k++) {
		for (int i = 0; i < NRES; i++) {
			double v[9];
			for (int r = 0; r < reps; r++)
				v[r] = all[k][r][i];
			qsort(v, (size_t)reps, sizeof *v, cmp_d);
			res[k][i] = v[reps / 2];
			if (best)
				best[k][i] = v[reps - 1];
		}
	}
}

static FILE *report;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (report) {
		va_start(ap, fmt);
		vfprintf(report, fmt, ap);
		va_end(ap);
	}
}

static FILE *dat(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		die(path, errno);
	return f;
}

static void cpu_model(char *buf, size_t cap)
{
	snprintf(buf, cap, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[256];
	while (f && fgets(line, sizeof line, f)) {
		char *c = strchr(line, ':');
		if (!strncmp(line, "model name", 10) && c) {
			snprintf(buf, cap, "%s", c + 2);
			buf[strcspn(buf, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
}

/* CPU seconds the whole machine spent busy so far (from /proc/stat). */
static double machine_busy_s(void)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	/* user nice system idle iowait irq softirq steal: all but idle and iowait */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double children_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

#define MAXW 2
static const unsigned subs_list[3] = {1, 2, 4};
static const char *const mode_name[2] = {"post", "tracked"};

int main(int argc, char **argv)
{
	const char *outdir = ".";
	int reps = 5, opt;
	while ((opt = getopt(argc, argv, "o:r:qPx:")) != -1) {
		if (opt == 'x') {
			/* One throughput measurement in this process, for perf and strace:
			 * -x IMPL,MODE,SUBS,WORKERS,N[,CAPACITY[,SPIN_NS]]  (IMPL and MODE as
			 * numbers; SPIN_NS: each job busy-waits that long instead of being empty) */
			struct spec sp = {K_TPUT, 0, 0, 0, 1, 1, 1u << 19, 200000};
			sscanf(optarg, "%d,%d,%u,%u,%zu,%u,%" SCNd64, &sp.impl, &sp.mode, &sp.subs,
			       &sp.workers, &sp.n, &sp.capacity, &g_spin_ns);
			result_t r = {0};
			child(&sp, r);
			/* The line's round trip right after the run says which of the machine's
			 * modes it ran in: on a virtual machine the two CPUs may be near each
			 * other or far apart, and that changes between runs (the thirteenth round). */
			double line_us = !nopin && sysconf(_SC_NPROCESSORS_ONLN) >= 2
						 ? line_bounce(200000)
						 : 0; /* not pinned: two spinners may share a CPU */
			printf("%s %s S=%u W=%u: %.2f Mjobs/s, %.3f CPU us/job; submitters done in "
			       "%.1f ms, all run in %.1f ms; %.0f page faults; line round trip after "
			       "it %.3f us\n",
			       impl_name[sp.impl % NSPEC], mode_name[sp.mode & 1], sp.subs,
			       sp.workers, r[0] / 1e6, r[1] * 1e6, r[4] * 1e3, r[5] * 1e3, r[6],
			       line_us);
			if (r[7] > 0)
				printf("  its last warm-up burst, queued while the pool was paused: "
				       "%.1f ns a submit, then %.1f ns a job to drain\n", r[7], r[8]);
			if (r[9] + r[11] > 0)
				printf("  in the timed run, ms on a CPU / ms waiting for one: the "
				       "submitters %.1f / %.1f, the executor's threads (%.0f ran) "
				       "%.1f / %.1f\n",
				       r[9], r[10], r[13], r[11], r[12]);
			return 0;
		}
		if (opt == 'o')
			outdir = optarg;
		else if (opt == 'r')
			reps = atoi(optarg);
		else if (opt == 'q')
			quick = 1;
		else if (opt == 'P')
			nopin = 1;
		else {
			fprintf(stderr, "usage: bench [-o OUTDIR] [-r REPS] [-q] [-P]\n");
			return 2;
		}
	}
	if (reps < 1 || reps > 9)
		reps = 5;
	char path[512];
	snprintf(path, sizeof path, "%s/report.txt", outdir);
	report = fopen(path, "w");

	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned wl[MAXW] = {1, ncpu > 1 ? (unsigned)ncpu : 1};
	int nw = ncpu > 1 ? 2 : 1, wall = nw - 1; /* index of the all-core worker count */
	size_t ntput = quick ? 40000 : 400000;
	int64_t tstart = now_ns();
	double busy0 = machine_busy_s();

	/* Throughput; the tracked rows with one submitter take the floors in their turns too (a
	 * floor's figure is its fastest run, the others' the median). */
	static result_t tput[NSPEC][2][3][MAXW];
	static result_t floor_med[NSPEC][MAXW]; /* the floors' medians too, tracked, S=1 */
	for (int m = 0; m < 2; m++)
		for (int si = 0; si < 3; si++)
			for (int wi = 0; wi < nw; wi++) {
				int n = m == TRACKED && si == 0 ? NSPEC : NIMPL;
				struct spec sp[NSPEC];
				for (int im = 0; im < n; im++)
					sp[im] = (struct spec){K_TPUT, im, m, 0, subs_list[si], wl[wi],
							       1u << 19, ntput};
				fprintf(stderr, "bench: throughput %-7s S=%u W=%u\n", mode_name[m],
					subs_list[si], wl[wi]);
				result_t row[NSPEC], rowbest[NSPEC];
				run_medians(sp, n, reps, row, rowbest);
				for (int im = 0; im < n; im++) {
					memcpy(tput[im][m][si][wi], im < NIMPL ? row[im] : rowbest[im],
					       sizeof row[im]);
					if (im >= NIMPL)
						memcpy(floor_med[im][wi], row[im], sizeof row[im]);
				}
			}
	/* The same with the default ring (65536 slots) and JOBQ_FULL_BLOCK: back-pressure. */
	result_t bp[2];
	for (int m = 0; m < 2; m++) {
		struct spec sp = {K_TPUT, JOBQ, m, 0, 1, wl[wall], 0, ntput};
		fprintf(stderr, "bench: throughput %s, default capacity, jobq\n", mode_name[m]);
		run_medians(&sp, 1, reps, &bp[m], NULL);
	}
	/* Allocations, counted in one more run each (counting is off in the timed runs). */
	static result_t allocs[NIMPL][2];
	for (int m = 0; m < 2; m++)
		for (int im = 0; im < NIMPL; im++) {
			struct spec sp = {K_TPUT, im, m, 1, 1, wl[wall], 1u << 19, ntput / 4};
			fprintf(stderr, "bench: allocations %s %s\n", mode_name[m], impl_name[im]);
			run_once(&sp, allocs[im][m]);
		}
	/* Latency. */
	static result_t lat[NIMPL];
	{
		struct spec sp[NIMPL];
		for (int im = 0; im < NIMPL; im++)
			sp[im] = (struct spec){K_LAT, im, POST, 0, 1, 1, 0, 0};
		fprintf(stderr, "bench: latency\n");
		run_medians(sp, NIMPL, reps, lat, NULL);
	}
	/* Idle and memory. */
	static result_t idle[NIMPL];
	for (int im = 0; im < NIMPL; im++) {
		struct spec sp = {K_IDLE, im, POST, 0, 1, wl[wall], 0, 0};
		fprintf(stderr, "bench: idle %s\n", impl_name[im]);
		run_once(&sp, idle[im]);
	}
	/* Floors. */
	result_t fl, flbest;
	{
		struct spec sp = {K_FLOORS, 0, 0, 0, 0, 0, 0, 0};
		fprintf(stderr, "bench: floors\n");
		run_medians(&sp, 1, reps, &fl, &flbest);
	}
	double elapsed = (double)(now_ns() - tstart) / 1e9;
	/* Where jobq's timestamps come from: the library's own answer. Its clock interpolates
	 * the TSC once two anchor intervals (a millisecond each) have agreed, so it is asked
	 * while it reads, for at most 5 ms. */
	int clock_tsc = 0;
	for (int64_t t = now_ns(); !clock_tsc && now_ns() - t < 5000000;) {
		(void)jobq__walltime();
		clock_tsc = jobq__walltime_interpolating();
	}
	/* What else ran while the measurements ran: the machine's busy time less our own, as a
	 * share of all its CPUs (/proc/stat ticks: about 1% resolution). */
	double other = secs_in_runs > 0 ? other_in_runs / secs_in_runs : 0;
	(void)busy0;

	/* ---- Report ---- */
	char model[128];
	struct utsname un;
	uname(&un);
	cpu_model(model, sizeof model);
	out("jobq %s benchmark: %s, %ld cores, Linux %s; GLib %u.%u.%u, libuv %s\n",
	    jobq_version_string(), model, ncpu, un.release, glib_major_version, glib_minor_version,
	    glib_micro_version, uv_version_string());
	out("median of %d runs each; %zu empty jobs per throughput run; measured in %.0f s%s\n",
	    reps, ntput, elapsed, quick ? " (QUICK: smoke run, figures not meaningful)" : "");
	out("other load on the machine while the measurements ran: %.1f%% of its CPU time%s\n",
	    other > 0 ? 100 * other : 0.0,
	    other > 0.05 ? " (WARNING: something else was running; rerun on a quiet machine)" : "");
	out("measurements repeated because something else ran: %d; waits for a quiet machine: %d\n\n",
	    redone, waited);

	out("THROUGHPUT, empty jobs, million jobs/s (higher is better); S submitters, W workers\n");
	out("%-28s %2s %2s %9s %12s %9s %10s\n", "workload", "S", "W", impl_name[0], impl_name[1],
	    impl_name[2], impl_name[3]);
	for (int m = 0; m < 2; m++)
		for (int si = 0; si < 3; si++)
			for (int wi = 0; wi < nw; wi++) {
				out("%-28s %2u %2u", m == POST ? "fire-and-forget (post)"
							       : "tracked + on_done callback",
				    subs_list[si], wl[wi]);
				for (int im = 0; im < NIMPL; im++)
					out(" %*.2f", im == 1 ? 12 : im == 3 ? 10 : 9,
					    tput[im][m][si][wi][0] / 1e6);
				out("\n");
			}
	for (int m = 0; m < 2; m++)
		out("%-28s %2u %2u %9.2f   (jobq, default 65536-slot ring, JOBQ_FULL_BLOCK)\n",
		    m == POST ? "fire-and-forget (post)" : "tracked + on_done callback", 1, wl[wall],
		    bp[m][0] / 1e6);

	out("\nLATENCY submit-to-start, µs, p50 / p99 / p99.9 (lower is better); "
	    "1 submitter, 1 worker\n");
	out("%-26s", "scenario");
	for (int im = 0; im < NIMPL; im++)
		out(" %21s", impl_name[im]);
	out("\n");
	static const char *const scen[4] = {"worker awake (spinning)", "all workers parked",
					    "open loop 50% of capacity", "open loop 90% of capacity"};
	for (int sc = 0; sc < 4; sc++) {
		out("%-26s", scen[sc]);
		for (int im = 0; im < NIMPL; im++) {
			char cell[64];
			snprintf(cell, sizeof cell, "%.2f/%.2f/%.1f", lat[im][3 * sc],
				 lat[im][3 * sc + 1], lat[im][3 * sc + 2]);
			out(" %21s", cell);
		}
		out("\n");
	}
	out("%-26s", "futex floor, same run");
	for (int im = 0; im < NIMPL; im++) {
		char cell[64];
		snprintf(cell, sizeof cell, "%.2f/%.2f/%.1f", lat[im][15], lat[im][16], lat[im][17]);
		out(" %21s", cell);
	}
	out("\n");
	out("%-26s", "capacity (Mjobs/s)");
	for (int im = 0; im < NIMPL; im++)
		out(" %21.2f", lat[im][12] / 1e6);
	out("\n  (open-loop rates are 50%% and 90%% of each executor's own capacity, closed loop with\n"
	    "   the same timestamping job; latency is measured from the scheduled arrival time;\n"
	    "   the futex floor row is a raw FUTEX_WAKE of a thread parked on the worker's CPU,\n"
	    "   one after each parked sample of that executor)\n");

	out("\nCOST (lower is better); 1 submitter, %u workers\n", wl[wall]);
	out("%-36s %9s %12s %9s %10s\n", "figure", impl_name[0], impl_name[1], impl_name[2],
	    impl_name[3]);
	struct {
		const char *name;
		int m, idx;
		double scale;
		int prec;
	} rows[] = {
		{"CPU µs per job, post", POST, 1, 1e6, 3},
		{"CPU µs per job, tracked", TRACKED, 1, 1e6, 3},
		{"allocations per job, post", POST, 2, 1, 3},
		{"allocations per job, tracked", TRACKED, 2, 1, 3},
		{"bytes allocated per job, post", POST, 3, 1, 1},
		{"bytes allocated per job, tracked", TRACKED, 3, 1, 1},
	};
	for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
		out("%-36s", rows[r].name);
		for (int im = 0; im < NIMPL; im++) {
			char cell[32];
			double v = rows[r].idx == 1 ? tput[im][rows[r].m][0][wall][1]
						    : allocs[im][rows[r].m][rows[r].idx];
			snprintf(cell, sizeof cell, "%.*f", rows[r].prec, v * rows[r].scale);
			out(" %*s", im == 1 ? 12 : im == 3 ? 10 : 9, cell);
		}
		out("\n");
	}
	out("%-36s", "bytes of queue per queued job");
	for (int im = 0; im < NIMPL; im++)
		out(" %*.0f", im == 1 ? 12 : im == 3 ? 10 : 9, idle[im][1]);
	out("\n%-36s", "idle wake-ups per second");
	for (int im = 0; im < NIMPL; im++)
		out(" %*.1f", im == 1 ? 12 : im == 3 ? 10 : 9, idle[im][0]);
	out("\n\nFLOORS on this machine\n");
	out("futex wake round trip (ping-pong)        %.2f µs\n", fl[0]);
	out("futex wake of a parked thread, one way   %.2f / %.2f / %.1f µs (p50/p99/p99.9)\n",
	    fl[1], fl[2], fl[3]);
	out("cache-line ping-pong round trip          %.3f µs\n", fl[4]);
	out("%-41s%.2f / %.2f alone, %.2f / %.2f at once\n"
	    "  (two cores: as fast at once as alone; two hardware threads of one core: about twice "
	    "as slow)\n",
	    "core-bound loop, ns a round, CPU 0 / 1", fl[8], fl[9], fl[10], fl[11]);
#if defined(__x86_64__)
	out("TSC handed between the CPUs: least lag   %.0f ns 0->1, %.0f ns 1->0 (medians); the most "
	    "it read\n  backwards in %d runs: %.0f ns (0: never; more: the CPUs' counters "
	    "disagree)\n",
	    fl[5], fl[6], reps, flbest[7]);
#endif
	out("tracked job, 1 submitter (a jobq_post of a fresh record that the worker updates), "
	    "M jobs/s:\n  the fastest of %d runs against libuv's median, and the median against "
	    "libuv's median\n", reps);
	for (int k = FLOOR; k <= FLOOR0; k++) {
		out("  %-33s", k == FLOOR ? "with jobq's three clock readings" : "without the clock");
		for (int wi = 0; wi < nw; wi++) {
			double lu = tput[LIBUV][TRACKED][0][wi][0];
			out("  W=%u %.2f (%.2fx), median %.2f (%.2fx)", wl[wi],
			    tput[k][TRACKED][0][wi][0] / 1e6, tput[k][TRACKED][0][wi][0] / lu,
			    floor_med[k][wi][0] / 1e6, floor_med[k][wi][0] / lu);
		}
		out("\n");
	}
	out("  (jobq's record timestamps here come from %s)\n",
	    clock_tsc ? "the TSC (lib/walltime.c)" : "clock_gettime (the clocksource is not the TSC)");

	/* Targets of DESIGN.md. */
	double pf = tput[JOBQ][POST][0][wall][0], tf = tput[JOBQ][TRACKED][0][wall][0];
	double r_pg = pf / tput[GLIB][POST][0][wall][0], r_pu = pf / tput[LIBUV][POST][0][wall][0];
	double r_tg = tf / tput[GLIB][TRACKED][0][wall][0];
	double r_tu = tf / tput[LIBUV][TRACKED][0][wall][0];
	out("\nTARGETS (DESIGN.md)\n");
#define TARGET(ok, ...)                                   \
	do {                                              \
		out("%-7s ", (ok) ? "MET" : "MISSED");    \
		out(__VA_ARGS__);                         \
		out("\n");                                \
	} while (0)
	TARGET(r_pg >= 4 && r_pu >= 4,
	       "fire-and-forget >= 4x: %.2fx GThreadPool, %.2fx libuv (S=1, W=%u)", r_pg, r_pu,
	       wl[wall]);
	TARGET(r_tg >= 2 && r_tu >= 2,
	       "tracked + callback >= 2x: %.2fx GThreadPool, %.2fx libuv (the floor: %.2fx libuv at "
	       "its fastest, %.2fx by medians)",
	       r_tg, r_tu, tput[FLOOR][TRACKED][0][wall][0] / tput[LIBUV][TRACKED][0][wall][0],
	       floor_med[FLOOR][wall][0] / tput[LIBUV][TRACKED][0][wall][0]);
	TARGET(lat[JOBQ][0] < 1.0, "awake p50 < 1 µs: %.2f µs", lat[JOBQ][0]);
	TARGET(lat[JOBQ][3] - lat[JOBQ][15] <= 2.0,
	       "parked p50 within 2 µs of the futex floor: %.2f µs vs %.2f µs (%+.2f; the floor "
	       "taken between jobq's parked samples)",
	       lat[JOBQ][3], lat[JOBQ][15], lat[JOBQ][3] - lat[JOBQ][15]);
	TARGET(allocs[JOBQ][POST][2] == 0, "no allocation on the fire-and-forget path: %.4f per job",
	       allocs[JOBQ][POST][2]);
	TARGET(idle[JOBQ][1] <= 32, "at most 32 bytes of ring per queued job: %.0f bytes",
	       idle[JOBQ][1]);
	TARGET(idle[JOBQ][0] < 0.5, "no idle wake-ups: %.1f per second", idle[JOBQ][0]);

	/* Chart data. */
	for (int m = 0; m < 2; m++)
		for (int wi = 0; wi < nw; wi++) {
			char name[64];
			snprintf(name, sizeof name, "tput_%s_w%d.dat", mode_name[m], wi);
			FILE *f = dat(outdir, name);
			fprintf(f, "S jobq gthreadpool libuv mutexpool\n");
			for (int si = 0; si < 3; si++) {
				fprintf(f, "%u", subs_list[si]);
				for (int im = 0; im < NIMPL; im++)
					fprintf(f, " %.4f", tput[im][m][si][wi][0] / 1e6);
				fprintf(f, "\n");
			}
			fclose(f);
		}
	static const char *const scen_file[4] = {"awake", "parked", "open50", "open90"};
	static const char *const pname[3] = {"p50", "p99", "p99.9"};
	for (int sc = 0; sc < 4; sc++) {
		char name[64];
		snprintf(name, sizeof name, "lat_%s.dat", scen_file[sc]);
		FILE *f = dat(outdir, name);
		fprintf(f, "pct jobq gthreadpool libuv mutexpool futex-floor\n");
		for (int p = 0; p < 3; p++) {
			fprintf(f, "%s", pname[p]);
			for (int im = 0; im < NIMPL; im++)
				fprintf(f, " %.3f", lat[im][3 * sc + p]);
			fprintf(f, " %.3f\n", sc == 1 ? fl[1 + p] : 0.0);
		}
		fclose(f);
	}
	FILE *f = dat(outdir, "workers.txt");
	fprintf(f, "%u\n", wl[wall]);
	fclose(f);

	/* Ratio lines, last: > 1 means jobq is better (throughput jobq/peer; latency and cost
	 * peer/jobq). */
	out("\nRATIOS: > 1.00 means jobq is better (throughput: jobq/peer; latency, CPU: peer/jobq)\n");
	for (int m = 0; m < 2; m++)
		for (int si = 0; si < 3; si++)
			for (int im = 1; im < NIMPL; im++)
				out("ratio tput-%s-s%u-w%u jobq/%s %.2f\n", mode_name[m], subs_list[si],
				    wl[wall], impl_name[im],
				    tput[JOBQ][m][si][wall][0] / tput[im][m][si][wall][0]);
	static const struct {
		const char *name;
		int idx;
	} lr[] = {{"lat-awake-p50", 0}, {"lat-awake-p99", 1}, {"lat-parked-p50", 3},
		  {"lat-parked-p99", 4}, {"lat-open50-p99", 7}, {"lat-open90-p50", 9},
		  {"lat-open90-p99", 10}, {"lat-open90-p99.9", 11}};
	for (size_t r = 0; r < sizeof lr / sizeof lr[0]; r++)
		for (int im = 1; im < NIMPL; im++)
			out("ratio %s jobq/%s %.2f\n", lr[r].name, impl_name[im],
			    lat[im][lr[r].idx] / lat[JOBQ][lr[r].idx]);
	for (int m = 0; m < 2; m++)
		for (int im = 1; im < NIMPL; im++)
			out("ratio cpu-per-job-%s jobq/%s %.2f\n", mode_name[m], impl_name[im],
			    tput[im][m][0][wall][1] / tput[JOBQ][m][0][wall][1]);
	if (report)
		fclose(report);
	return 0;
}
