/*
 * cron_sched.c: cron schedules on an executor: jobq_cron_add/remove/pause/resume/info/list,
 * the timer's fire function for them, its wall-clock step hook, and their end at shutdown.
 *
 * Each schedule is one entry of the timer's wall-clock heap, due at its next nominal fire time,
 * so the timer does O(log n) work per firing however many schedules there are; only a clock
 * step visits every schedule. A firing submits an ordinary job (jobq_submit) and computes the
 * next time from the nominal one with jobq_cron_next, in the schedule's zone.
 *
 * What a schedule shares with its firings' jobs lives in a refcounted `struct share`, which is
 * each such job's argument (the job's destructor drops the reference): fn and arg run through
 * it, and so does the template's completion callback, which is also where a firing held by
 * JOBQ_OVERLAP_QUEUE_ONE is released. A dead firing can be requeued (its argument passes on),
 * so a share, and the host's arg in it, lives until the schedule and every such job are gone;
 * the last reference runs the host's arg_free.
 *
 * Threads and locks: one mutex (crons.mu) guards the table and every entry. It is taken before
 * a job's record lock and before the timer's mutex (a firing submits a job and
 * re-arms its entry while holding it), never after: no job, timer or pool code calls in here
 * with a lock held, and the callbacks that do (the completion trampoline) run with none. The
 * host's callbacks and arg_free never run under crons.mu. Firings run in the timer thread, or in
 * the caller of jobq_clock_advanced with a custom clock; jobq_submit is asked never to block or
 * run the job.
 *
 * Who owns an entry: `armed` says the timer has it (in its heap, or taken out to be fired). The
 * API removes it from the heap under crons.mu; when it is already taken (jobq__sched_remove
 * fails) the fire function is about to run, and it acts on what the API left: removed (it frees
 * the entry), paused, or closed.
 *
 * Not taken: a thread per schedule; a scan of every schedule per tick (cronie's minute loop);
 * firings run in the timer thread (a slow job would delay every other schedule).
 */
#include "cron_sched.h"

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "executor.h"
#include "hash.h"

#define NS 1000000000LL
#define MS 1000000LL
#define DEFAULT_GRACE_MS 60000

/* What a schedule shares with the jobs of its firings. Immutable once made, but for refs. */
struct share {
	_Atomic int refs; /* the schedule's, and one per job whose argument this is */
	jobq_t *q;
	uint64_t sched_id;
	jobq_fn fn;
	void *arg;
	jobq_free_fn arg_free;
	jobq_done_fn on_done; /* the template's */
	void *on_done_data;
	bool queue_one;
	jobq_job_options_t tmpl; /* what each firing is submitted with */
};

struct jobq__cron_entry {
	UT_hash_handle hh;
	uint64_t id;
	struct jobq__timer timer; /* kind JOBQ__TIMER_CRON, on the wall-clock heap */
	struct share *share;
	jobq_cron_t *cron;
	jobq_zone_t *zone;
	char *expr, *zone_name;
	jobq_overlap_t overlap;
	jobq_misfire_t misfire;
	int64_t grace_ns, jitter_ns;
	int64_t nominal;        /* next fire time (ns), 0 = none */
	int64_t held_nominal;   /* the firing held by QUEUE_ONE, while held */
	int64_t last_fire;
	uint64_t last_job, fired, skipped;
	bool armed, paused, removed, held;
};

static struct jobq__cron_entry *entry_of(struct jobq__timer *t)
{
	return (struct jobq__cron_entry *)((char *)t - offsetof(struct jobq__cron_entry, timer));
}

static void share_unref(void *p)
{
	struct share *sh = p;
	/* acq_rel: the last owner must see every use of arg before it frees it. */
	if (atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (sh->arg_free)
		sh->arg_free(sh->arg);
	jobq__free((char *)sh->tmpl.name);
	jobq__free(sh);
}

/* Frees an entry out of the table and the timer. Call without crons.mu: it may run arg_free. */
static void entry_free(struct jobq__cron_entry *e)
{
	jobq_cron_free(e->cron);
	jobq_zone_free(e->zone);
	jobq__free(e->expr);
	jobq__free(e->zone_name);
	if (e->share)
		share_unref(e->share);
	jobq__free(e);
}

void jobq__crons_init(struct jobq__crons *c)
{
	pthread_mutex_init(&c->mu, NULL);
	c->table = NULL;
	c->next_id = 1;
	c->closed = false;
}

/* The first fire time strictly after the second that holds ns, in ns; 0 when there is none. */
static int64_t next_after(const struct jobq__cron_entry *e, int64_t ns)
{
	int64_t t;
	int64_t s = ns >= 0 ? ns / NS : -((-ns + NS - 1) / NS);
	return jobq_cron_next(e->cron, e->zone, s, &t) == 0 ? t * NS : 0;
}

/* Puts e on the timer at its nominal time. Caller holds crons.mu and e is not armed. */
static int arm(jobq_t *q, struct jobq__cron_entry *e)
{
	e->timer.due = e->nominal;
	e->timer.realtime = 1;
	e->timer.kind = JOBQ__TIMER_CRON;
	int rc = jobq__sched_add(&q->sched, &e->timer);
	e->armed = rc == 0;
	return rc;
}

/* Takes e off the timer if the heap still holds it. Caller holds crons.mu. */
static void disarm(jobq_t *q, struct jobq__cron_entry *e)
{
	if (e->armed && jobq__sched_remove(&q->sched, &e->timer))
		e->armed = false;
}

static bool live(jobq_t *q, uint64_t id)
{
	jobq_status_t st;
	if (!id || jobq_status(q, id, &st) != 0)
		return false;
	return st.state != JOBQ_SUCCEEDED && st.state != JOBQ_DEAD && st.state != JOBQ_CANCELLED;
}

static jobq_outcome_t run_firing(jobq_ctx_t *ctx, void *arg)
{
	struct share *sh = arg;
	return sh->fn(ctx, sh->arg);
}

static int submit(jobq_t *q, struct jobq__cron_entry *e, int64_t nominal, int64_t start,
		  int64_t now);

/*
 * The completion callback of every firing's job: the template's callback, then, for
 * QUEUE_ONE, the held firing if this job was the one it waited for. Runs with no lock held
 * (job.c's contract), and the share is alive: it is the job's argument, freed after this.
 */
static void firing_done(const jobq_status_t *st, void *data)
{
	struct share *sh = data;
	if (sh->on_done)
		sh->on_done(st, sh->on_done_data);
	if (!sh->queue_one)
		return;
	jobq_t *q = sh->q;
	struct jobq__cron_entry *e;
	pthread_mutex_lock(&q->crons.mu);
	HASH_FIND(hh, q->crons.table, &sh->sched_id, sizeof sh->sched_id, e);
	if (e && e->held && e->last_job == st->id && !q->crons.closed) {
		e->held = false;
		int64_t now = jobq__now(q, true);
		if (submit(q, e, e->held_nominal, now, now))
			e->skipped++;
	}
	pthread_mutex_unlock(&q->crons.mu);
}

/*
 * Submits the job of one firing for nominal time `nominal`, not before `start` (plus jitter).
 * Caller holds crons.mu. Returns jobq_submit's code.
 */
static int submit(jobq_t *q, struct jobq__cron_entry *e, int64_t nominal, int64_t start,
		  int64_t now)
{
	struct share *sh = e->share;
	jobq_job_options_t o = sh->tmpl;
	if (e->jitter_ns) {
		/* Never past the next nominal time: the jitter stays below the room before it. */
		int64_t bound = e->jitter_ns;
		if (e->nominal > start && e->nominal - start - 1 < bound)
			bound = e->nominal - start - 1;
		int64_t at = start + (int64_t)(jobq__random(q) % (uint64_t)(bound + 1));
		if (at > now)
			o.run_at_ns = at;
	}
	atomic_fetch_add_explicit(&sh->refs, 1, memory_order_relaxed);
	uint64_t id;
	int rc = jobq_submit(q, run_firing, sh, &o, &id);
	if (rc) {
		/* Relaxed: the schedule's own reference keeps the count above zero. */
		atomic_fetch_sub_explicit(&sh->refs, 1, memory_order_relaxed);
		return rc;
	}
	e->last_job = id;
	e->last_fire = nominal;
	e->fired++;
	return 0;
}

/*
 * One firing of e at its nominal time, found at `now`: applies the misfire and overlap
 * policies, submits the job, and moves e->nominal to the next fire time. Caller holds
 * crons.mu. Returns false when the ring was full and the firing should be tried again.
 */
static bool fire(jobq_t *q, struct jobq__cron_entry *e, int64_t now)
{
	int64_t nominal = e->nominal;
	bool late = now - nominal > e->grace_ns;
	/* Late beyond grace: the missed times are one firing, and the schedule starts over from
	 * now. Otherwise the next time follows the nominal one, so lateness does not drift. */
	int64_t next = next_after(e, late ? now : nominal);
	e->nominal = next; /* the jitter bound reads it */
	if (late && e->misfire == JOBQ_MISFIRE_SKIP) {
		e->skipped++;
		return true;
	}
	if (e->overlap != JOBQ_OVERLAP_ALLOW && live(q, e->last_job)) {
		if (e->overlap == JOBQ_OVERLAP_QUEUE_ONE && !e->held) {
			e->held = true;
			e->held_nominal = nominal;
		} else {
			e->skipped++;
		}
		return true;
	}
	int rc = submit(q, e, nominal, late ? now : nominal, now);
	if (rc == JOBQ_EAGAIN) {
		e->nominal = nominal;
		return false;
	}
	e->skipped += rc != 0;
	return true;
}

bool jobq__cron_due(struct jobq__timer *t, void *owner)
{
	jobq_t *q = owner;
	struct jobq__cron_entry *e = entry_of(t);
	pthread_mutex_lock(&q->crons.mu);
	if (e->removed) {
		pthread_mutex_unlock(&q->crons.mu);
		entry_free(e);
		return true;
	}
	e->armed = false;
	if (e->paused || q->crons.closed) {
		pthread_mutex_unlock(&q->crons.mu);
		return true;
	}
	int64_t now = jobq__now(q, true);
	bool ok = true;
	if (now < e->nominal) {
		/* Early: the timer put it back after a failed re-arm, or the wall clock went back
		 * since the entry was taken. Either way the next time counts from now. */
		int64_t next = next_after(e, now);
		if (next)
			e->nominal = next;
	} else {
		ok = fire(q, e, now);
	}
	/* A failed re-arm is left to the timer: it puts the entry back a millisecond later. */
	if (ok && e->nominal && arm(q, e) != 0)
		ok = false;
	if (!ok)
		e->armed = true;
	pthread_mutex_unlock(&q->crons.mu);
	return ok;
}

void jobq__cron_step(void *owner)
{
	jobq_t *q = owner;
	struct jobq__cron_entry *e, *tmp;
	pthread_mutex_lock(&q->crons.mu);
	int64_t now = jobq__now(q, true);
	HASH_ITER(hh, q->crons.table, e, tmp) {
		/* A time now past fires at once, and the firing applies the misfire policy. A
		 * time still ahead moves to the first fire time after now: earlier when the clock
		 * went back. An entry being fired recomputes its time itself. */
		if (!e->armed || e->nominal <= now)
			continue;
		int64_t next = next_after(e, now);
		if (next && next != e->nominal && jobq__sched_update(&q->sched, &e->timer, next))
			e->nominal = next;
	}
	pthread_mutex_unlock(&q->crons.mu);
}

void jobq__crons_close(jobq_t *q)
{
	struct jobq__cron_entry *e, *tmp;
	pthread_mutex_lock(&q->crons.mu);
	q->crons.closed = true;
	HASH_ITER(hh, q->crons.table, e, tmp) {
		e->held = false;
		disarm(q, e);
	}
	pthread_mutex_unlock(&q->crons.mu);
}

void jobq__crons_fini(jobq_t *q)
{
	struct jobq__cron_entry *e, *tmp;
	HASH_ITER(hh, q->crons.table, e, tmp) {
		HASH_DEL(q->crons.table, e);
		entry_free(e);
	}
	pthread_mutex_destroy(&q->crons.mu);
}

void jobq_cron_options_init(jobq_cron_options_t *o)
{
	if (o)
		memset(o, 0, sizeof *o);
}

/* Builds e's share: the template with the parts a firing does not take overridden. */
static int make_share(jobq_t *q, struct jobq__cron_entry *e, jobq_fn fn, void *arg,
		      const jobq_cron_options_t *opts)
{
	struct share *sh = jobq__calloc(1, sizeof *sh);
	if (!sh)
		return JOBQ_ENOMEM;
	if (opts->job)
		sh->tmpl = *opts->job;
	else
		jobq_job_options_init(&sh->tmpl);
	if (sh->tmpl.name && !(sh->tmpl.name = jobq__strdup(sh->tmpl.name))) {
		jobq__free(sh);
		return JOBQ_ENOMEM;
	}
	atomic_init(&sh->refs, 1);
	sh->q = q;
	sh->fn = fn;
	sh->arg = arg;
	sh->on_done = sh->tmpl.on_done;
	sh->on_done_data = sh->tmpl.on_done_data;
	sh->queue_one = opts->overlap == JOBQ_OVERLAP_QUEUE_ONE;
	sh->tmpl.on_done = firing_done;
	sh->tmpl.on_done_data = sh;
	sh->tmpl.arg_free = share_unref;
	sh->tmpl.key = NULL;
	sh->tmpl.delay_ms = 0;
	sh->tmpl.run_at_ns = 0;
	sh->tmpl.full = JOBQ_FULL_FAIL;
	sh->tmpl.block_timeout_ms = 0;
	e->share = sh;
	return 0;
}

/* Parses, loads and copies everything a new entry needs. Returns 0 or a JOBQ_E* code. */
static int make_entry(jobq_t *q, const char *expr, jobq_fn fn, void *arg,
		      const jobq_cron_options_t *opts, struct jobq__cron_entry **out, char *err,
		      size_t errlen)
{
	struct jobq__cron_entry *e = jobq__calloc(1, sizeof *e);
	if (!e)
		return JOBQ_ENOMEM;
	e->timer.idx = JOBQ__TIMER_IDLE;
	int rc = jobq_cron_parse(expr, &e->cron, err, errlen);
	if (rc == 0)
		rc = jobq_zone_load(opts->zone, &e->zone);
	if (rc == 0 && (!(e->expr = jobq__strdup(expr)) ||
			!(e->zone_name = jobq__strdup(opts->zone ? opts->zone : "UTC"))))
		rc = JOBQ_ENOMEM;
	if (rc == 0)
		rc = make_share(q, e, fn, arg, opts);
	if (rc) {
		entry_free(e); /* no share yet, or none made: arg_free is not run */
		return rc;
	}
	e->overlap = opts->overlap;
	e->misfire = opts->misfire;
	e->grace_ns = (int64_t)(opts->grace_ms ? opts->grace_ms : DEFAULT_GRACE_MS) * MS;
	e->jitter_ns = (int64_t)opts->jitter_ms * MS;
	*out = e;
	return 0;
}

/* Gives up a new entry that was never published, keeping the host's arg. */
static void entry_discard(struct jobq__cron_entry *e)
{
	e->share->arg_free = NULL;
	entry_free(e);
}

int jobq_cron_add(jobq_t *q, const char *expr, jobq_fn fn, void *arg,
		  const jobq_cron_options_t *opts, uint64_t *sched_id, char *err, size_t errlen)
{
	jobq_cron_options_t def;
	if (!opts) {
		jobq_cron_options_init(&def);
		opts = &def;
	}
	if (err && errlen)
		err[0] = '\0';
	int rc = jobq__check(q);
	struct jobq__cron_entry *e = NULL;
	if (rc == 0 && (!expr || !fn || (unsigned)opts->overlap > JOBQ_OVERLAP_QUEUE_ONE ||
	    (unsigned)opts->misfire > JOBQ_MISFIRE_SKIP ||
	    (opts->job && !jobq__job_options_valid(opts->job))))
		rc = JOBQ_EINVAL;
	if (rc == 0)
		rc = make_entry(q, expr, fn, arg, opts, &e, err, errlen);
	if (rc == 0) {
		e->share->arg_free = opts->arg_free;
		pthread_mutex_lock(&q->crons.mu);
		if (q->crons.closed) {
			rc = JOBQ_ECLOSED;
		} else {
			e->id = e->share->sched_id = q->crons.next_id;
			HASH_ADD(hh, q->crons.table, id, sizeof e->id, e);
			if (!e->hh.tbl)
				rc = JOBQ_ENOMEM;
		}
		if (rc == 0) {
			e->nominal = next_after(e, jobq__now(q, true));
			if (e->nominal && (rc = arm(q, e)) != 0)
				HASH_DEL(q->crons.table, e);
		}
		if (rc == 0)
			q->crons.next_id++;
		pthread_mutex_unlock(&q->crons.mu);
		if (rc)
			entry_discard(e);
	}
	if (rc && err && errlen && !err[0])
		snprintf(err, errlen, "%s", jobq_strerror(rc));
	if (rc == 0 && sched_id)
		*sched_id = e->id;
	return rc;
}

/* Looks sched_id up with crons.mu held; on NULL, the lock is released. */
static struct jobq__cron_entry *find_locked(jobq_t *q, uint64_t sched_id)
{
	struct jobq__cron_entry *e;
	pthread_mutex_lock(&q->crons.mu);
	HASH_FIND(hh, q->crons.table, &sched_id, sizeof sched_id, e);
	if (!e)
		pthread_mutex_unlock(&q->crons.mu);
	return e;
}

/* The checks every call on one schedule starts with: 0 with *e found and crons.mu held, or an
 * error (JOBQ_EINVAL, JOBQ_EFORKED, JOBQ_ENOENT) with no lock held. */
static int open_entry(jobq_t *q, uint64_t sched_id, struct jobq__cron_entry **e)
{
	int rc = jobq__check(q);
	if (rc)
		return rc;
	*e = find_locked(q, sched_id);
	return *e ? 0 : JOBQ_ENOENT;
}

int jobq_cron_remove(jobq_t *q, uint64_t sched_id)
{
	struct jobq__cron_entry *e;
	int rc = open_entry(q, sched_id, &e);
	if (rc)
		return rc;
	HASH_DEL(q->crons.table, e);
	disarm(q, e);
	/* Still armed: the timer took it and its fire function frees it. */
	bool mine = !e->armed;
	e->removed = true;
	pthread_mutex_unlock(&q->crons.mu);
	if (mine)
		entry_free(e);
	return 0;
}

int jobq_cron_pause(jobq_t *q, uint64_t sched_id)
{
	struct jobq__cron_entry *e;
	int rc = open_entry(q, sched_id, &e);
	if (rc)
		return rc;
	rc = q->crons.closed ? JOBQ_ECLOSED : 0;
	if (rc == 0) {
		e->paused = true;
		e->held = false;
		disarm(q, e);
	}
	pthread_mutex_unlock(&q->crons.mu);
	return rc;
}

int jobq_cron_resume(jobq_t *q, uint64_t sched_id)
{
	struct jobq__cron_entry *e;
	int rc = open_entry(q, sched_id, &e);
	if (rc)
		return rc;
	rc = q->crons.closed ? JOBQ_ECLOSED : 0;
	if (rc == 0 && e->paused) {
		e->paused = false;
		/* Still armed: the fire function has it and, seeing it running, goes on. */
		if (!e->armed) {
			int64_t next = next_after(e, jobq__now(q, true));
			e->nominal = next;
			if (next && (rc = arm(q, e)) != 0)
				e->paused = true;
		}
	}
	pthread_mutex_unlock(&q->crons.mu);
	return rc;
}

static void fill_info(const jobq_t *q, const struct jobq__cron_entry *e, jobq_cron_info_t *out)
{
	memset(out, 0, sizeof *out);
	out->id = e->id;
	snprintf(out->expr, sizeof out->expr, "%s", e->expr);
	snprintf(out->zone, sizeof out->zone, "%s", e->zone_name);
	out->paused = e->paused;
	out->next_ns = e->paused || q->crons.closed ? 0 : e->nominal;
	out->last_fire_ns = e->last_fire;
	out->last_job = e->last_job;
	out->fired = e->fired;
	out->skipped = e->skipped;
}

int jobq_cron_info(jobq_t *q, uint64_t sched_id, jobq_cron_info_t *out)
{
	if (!out)
		return JOBQ_EINVAL;
	struct jobq__cron_entry *e;
	int rc = open_entry(q, sched_id, &e);
	if (rc)
		return rc;
	fill_info(q, e, out);
	pthread_mutex_unlock(&q->crons.mu);
	return 0;
}

int jobq_cron_list(jobq_t *q, jobq_cron_info_t *out, size_t cap, size_t *n)
{
	int rc = jobq__check(q);
	if (rc || (!out && cap))
		return rc ? rc : JOBQ_EINVAL;
	struct jobq__cron_entry *e;
	size_t i = 0;
	pthread_mutex_lock(&q->crons.mu);
	for (e = q->crons.table; e && i < cap; e = e->hh.next)
		fill_info(q, e, &out[i++]);
	if (n)
		*n = HASH_COUNT(q->crons.table);
	pthread_mutex_unlock(&q->crons.mu);
	return 0;
}
