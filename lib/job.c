/*
 * job.c: a tracked job's life: its record and the registry, waiting (timer or ring),
 * running an attempt, retrying with backoff, and ending exactly once.
 *
 *   submit -> SCHEDULED (a delay) -> QUEUED -> RUNNING -> SUCCEEDED
 *                  ^                             |  \--> FAILED -> SCHEDULED (a retry)
 *                  |                             \-----> DEAD (no attempts left, or fatal)
 *   any waiting state -> CANCELLED
 *
 *   - Who moves a job on is decided on state, by CAS: QUEUED -> RUNNING (a worker, through
 *     JOB_STARTING, job.h) races QUEUED -> CANCELLED (a canceller, under the record's lock);
 *     SCHEDULED -> QUEUED (the timer) races SCHEDULED -> CANCELLED. STARTING, RUNNING and
 *     FAILED are the running worker's alone. Whoever wins a move to a terminal state ends the
 *     job, so it ends exactly once.
 *   - The ender runs the completion callback, then the argument destructor (for a dead job:
 *     when it leaves the dead-letter list), then settles the record: puts a dead one on the
 *     dead-letter list, marks it settled, puts any other on the retention list and wakes
 *     waiters.
 *   - References: the registry holds one until the record is pruned; the place the job waits
 *     in holds the other (the timer's heap, the ring, then the running worker), and hands it
 *     on as the job moves. The last reference frees the record, whose slot a later submit
 *     takes (slots.h).
 *   - Registered means listed: the record's slot names it by id (slots.h), and a lookup
 *     finds it under its own lock while listed is set. Publishing sets it (without the lock
 *     for a queued job that no subscriber hears of: jobq__job_publish), pruning clears it.
 *   - Retention is a ring of (record, settling time), oldest first, pruned by count (in
 *     batches, by the thread that retains: retain_bound) and by age. A worker adds its
 *     settled records in batches (retain_settled).
 *
 * Threads and locks: each thread counts on a line of its own (count). A record's own mutex (mu)
 * guards listed (but for the publish's one store and forget's) and the fields that change once it
 * is registered (percent, progress, result, error, retry_after_ms, the timer's realtime and due;
 * the timer thread also moves due, under its own lock, when a due job found the ring full, so a
 * reader takes that lock for it), but for what the starting worker writes without it while the
 * job is STARTING, which no reader reads then: the attempt and start time (atomics, which a
 * status reads as a seqlock's reader would: jobq__snapshot), the deadline in due, and flags.
 * state, cancel, refs, settled, and the code and finish time that the ender writes without the
 * lock (end; a cancel's claim writes them under it), are atomics; key is the ender's alone once
 * the job is published; link belongs to the list that
 * holds the record, and the rest is written before the record is registered. A thread holds at
 * most one record mutex; the timer's and the key table's mutexes may be taken inside it, never
 * the other way round; fin_mu, the slots' grow_mu and wait_mu are never held with it, except
 * that wait_mu is held around lookups. Callbacks run with no lock held. The records', fin_mu and
 * grow_mu are lock.h's word locks; wait_mu and dead_mu, which a condition variable or a rare
 * caller needs, are pthread mutexes.
 *
 * Not taken: one registry lock (every submit and status would serialise on it), an id table
 * beside the records (slots.h), and records owned by the caller (a worker could free what the
 * caller still reads: ids avoid that).
 */
#include "job.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "chaos.h"
#include "executor.h"
#include "hb.h"
#include "keys.h"
#include "os.h"
#include "pool.h"

#define MS 1000000LL

/*
 * Counts one job of kind (COUNT_*) on the calling thread's own line of r->counts, as its only
 * writer, or with an atomic add on the shared line for a thread without a number (job.h).
 * With an atomic add on a line per thread, as before, a count waited for the stores before it
 * (the record just filled or ended). Worth little on its own: in five sets of interleaved runs
 * of bench -x 0,1,1,2 a tracked job took a median 6 % less CPU than with the atomic adds, and
 * the rate moved within the noise (docs/BENCHMARKS.md, the eighteenth round).
 */
static void count(struct jobq__registry *r, unsigned kind)
{
	int n = jobq__tnum();
	if (n < 0) {
		atomic_fetch_add_explicit(&r->counts[JOBQ__TNUMS].n[kind], 1, memory_order_relaxed);
		return;
	}
	_Atomic uint64_t *c = &r->counts[n].n[kind];
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

static bool claim(struct jobq__job *j, int from, int to)
{
	return atomic_compare_exchange_strong(&j->state, &from, to);
}

/* A state that a job ends in (see the top of the file). */
static bool final(int state)
{
	return state == JOBQ_SUCCEEDED || state == JOBQ_DEAD || state == JOBQ_CANCELLED;
}

/* The retention ring is made at create up to this many entries (1.5 MiB of address space,
 * touched only as it fills), so that ending a job never allocates; a longer one grows as it
 * fills (see jobq__retain). */
#define FIN_PREALLOC (1u << 16)
/* A worker hands settled records to the ring this many at a time (see retain_settled). */
#define STAGE_MAX 32

int jobq__registry_init(struct jobq__registry *r, const struct jobq__clock *clock,
			unsigned retain_count, unsigned retain_ms, unsigned dead_max)
{
	r->retain_count = retain_count;
	r->retain_slack = retain_count / 8;
	/* Appending prunes past the slack, so the ring never holds more than this. */
	uint64_t most = r->retain_count + r->retain_slack + STAGE_MAX;
	r->fin_cap = 64;
	while (r->fin_cap < most && r->fin_cap < FIN_PREALLOC)
		r->fin_cap *= 2;
	r->fin = jobq__calloc(r->fin_cap, sizeof *r->fin);
	if (!r->fin)
		return JOBQ_ENOMEM;
	/* For helgrind: counts read while written. */
	JOBQ_HB_ATOMIC(r->counts, sizeof r->counts);
	if (jobq__slots_init(&r->slots)) {
		jobq__free(r->fin);
		return JOBQ_ENOMEM;
	}
	jobq__lock_init(&r->fin_mu);
	r->clock = clock;
	pthread_mutex_init(&r->wait_mu, NULL);
	pthread_mutex_init(&r->dead_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wait_cv, &ca);
	pthread_condattr_destroy(&ca);
	r->retain_ns = (int64_t)retain_ms * MS;
	r->dead_max = dead_max;
	return 0;
}

/* Frees what a record owns, before its slot is freed. A record that never owned any (owns is
 * on the header's line) is left alone: the pointers' line is not read. */
static void strip(struct jobq__job *j)
{
	if (!j->owns)
		return;
	j->owns = false;
	jobq__free(j->name);
	jobq__free(j->error);
	jobq__free(j->progress);
	jobq__free(j->result);
}

static void free_record(struct jobq__job *j)
{
	strip(j);
	jobq__slots_free(j);
}

/* Drops a reference; true when it was the last (the record is then the caller's to free). */
static bool unref_last(struct jobq__job *j)
{
	/* For helgrind: the last holder's acquire sees every other holder's use of the record,
	 * which it then frees for a later submit to take. */
	JOBQ_HB_BEFORE(&j->refs);
	if (atomic_fetch_sub_explicit(&j->refs, 1, memory_order_acq_rel) != 1)
		return false;
	JOBQ_HB_AFTER(&j->refs);
	return true;
}

/*
 * unref_last for the registry's reference, once the record is no longer listed: nobody can
 * take a reference any more (references are only handed on), so a count of 1 means the other
 * holder is gone and this one is the last. A plain load, unlike the locked decrement, lets the
 * prune's misses on old records overlap.
 */
static bool unref_last_held(struct jobq__job *j)
{
	if (atomic_load_explicit(&j->refs, memory_order_acquire) != 1)
		return unref_last(j);
	JOBQ_HB_AFTER(&j->refs);
	return true;
}

void jobq__job_unref(struct jobq__job *j)
{
	if (unref_last(j))
		free_record(j);
}

void jobq__registry_fini(struct jobq__registry *r)
{
	/* Free records are stripped already; listed ones still own their strings. */
	uint32_t size = jobq__slots_size(&r->slots);
	for (uint32_t n = 0; n < size; n++) {
		struct jobq__job *j = jobq__slots_at(&r->slots, n);
		if (atomic_load_explicit(&j->listed, memory_order_relaxed))
			strip(j);
	}
	jobq__slots_fini(&r->slots);
	jobq__free(r->fin);
	pthread_mutex_destroy(&r->wait_mu);
	pthread_mutex_destroy(&r->dead_mu);
	pthread_cond_destroy(&r->wait_cv);
}

int jobq__job_new(jobq_t *q, jobq_fn fn, void *arg, const jobq_job_options_t *opts,
		  struct jobq__job **out)
{
	struct jobq__job *j = jobq__slots_take(&q->reg.slots);
	if (!j)
		return JOBQ_ENOMEM;
	j->q = q;
	j->owns = opts->name != NULL;
	if (opts->name && !(j->name = jobq__strdup(opts->name))) {
		free_record(j);
		return JOBQ_ENOMEM;
	}
	j->fn = fn;
	j->arg = arg;
	j->on_done = opts->on_done;
	j->on_done_data = opts->on_done_data;
	j->arg_free = opts->arg_free;
	j->prio = (uint8_t)opts->priority;
	j->percent = -1;
	j->timeout_ms = opts->timeout_ms;
	j->max_attempts = (uint16_t)(opts->max_attempts ? opts->max_attempts : q->max_attempts);
	j->backoff_base_ms = opts->backoff.base_ms ? opts->backoff.base_ms : q->backoff.base_ms;
	j->backoff_cap_ms = opts->backoff.cap_ms ? opts->backoff.cap_ms : q->backoff.cap_ms;
	j->backoff_factor = (float)(opts->backoff.factor ? opts->backoff.factor : q->backoff.factor);
	j->flags = opts->retry_timeouts ? JOB_RETRY_TIMEOUTS : 0;
	j->timer.idx = JOBQ__TIMER_IDLE;
	j->created_ns = jobq__stamp(q, 0, NULL);

	int state = JOBQ_QUEUED;
	if (opts->delay_ms || opts->run_at_ns) {
		/* The later of the two wins; a delay is kept on the monotonic clock unless the
		 * wall-clock time is later. */
		int64_t by_delay = j->created_ns + opts->delay_ms * MS;
		j->timer.realtime = opts->run_at_ns > by_delay;
		j->timer.due = j->timer.realtime ? opts->run_at_ns
						 : jobq__now(q, false) + opts->delay_ms * MS;
		state = JOBQ_SCHEDULED;
	}
	atomic_init(&j->state, state);
	atomic_init(&j->refs, 2);
	*out = j;
	return 0;
}

void jobq__job_options_of(const struct jobq__job *j, jobq_job_options_t *o)
{
	jobq_job_options_init(o);
	o->name = j->name;
	o->priority = (jobq_priority_t)j->prio;
	o->on_done = j->on_done;
	o->on_done_data = j->on_done_data;
	o->arg_free = j->arg_free;
	o->max_attempts = j->max_attempts;
	o->backoff = (jobq_backoff_t){j->backoff_base_ms, j->backoff_cap_ms, j->backoff_factor};
	o->timeout_ms = j->timeout_ms;
	o->retry_timeouts = !!(j->flags & JOB_RETRY_TIMEOUTS);
}

void jobq__job_discard(struct jobq__job *j)
{
	free_record(j);
}

struct jobq__job *jobq__job_find(struct jobq__registry *r, uint64_t id)
{
	struct jobq__job *j = jobq__slots_find(&r->slots, id);
	if (!j)
		return NULL;
	jobq__lock(&j->mu);
	/* listed first: a free record's id may be changing (jobq__slots_take). seq_cst: it pairs
	 * with forget's fence, and (as an acquire) with the release of a publish without the lock. */
	if (atomic_load(&j->listed)) {
		JOBQ_HB_AFTER(&j->listed);
		if (j->id == id)
			return j;
	}
	jobq__unlock(&j->mu);
	return NULL;
}

int jobq__job_publish(jobq_t *q, struct jobq__job *j, int inline_run)
{
	bool scheduled = atomic_load_explicit(&j->state, memory_order_relaxed) == JOBQ_SCHEDULED;
	bool queued = !scheduled && !inline_run;
	/* A queued job claims its ring position first: once it is listed nothing can fail, so no
	 * lookup ever sees a job that is then refused, and the drain waits for the claimed item
	 * from the claim on (jobq__pool_claim). */
	uint64_t pos = 0;
	int rc = queued ? jobq__pool_claim(&q->pool, j->prio, &pos) : 0;
	if (rc)
		return rc;
	bool wanted = jobq__events_wanted(&q->events);
	if (scheduled || wanted) {
		/* Under j->mu: the timer may take the job the moment it is added, and its first
		 * event must be out before anyone else's (the worker's "running" and the timer's
		 * "queued" take j->mu first). */
		jobq__lock(&j->mu);
		atomic_store_explicit(&j->listed, true, memory_order_relaxed);
		if (scheduled && (rc = jobq__sched_add(&q->sched, &j->timer)) != 0)
			atomic_store_explicit(&j->listed, false, memory_order_relaxed);
		else if (wanted)
			jobq__job_emit(j, JOBQ_EV_STATE, scheduled ? JOBQ_SCHEDULED : JOBQ_QUEUED);
		jobq__unlock(&j->mu);
		if (rc)
			return rc;
	} else {
		/* Without the lock: nothing of the record changes after this before a worker,
		 * which takes j->mu, runs it. Release pairs with a lookup's acquire load (under
		 * j->mu, jobq__job_find): it sees the record as filled. */
		JOBQ_HB_BEFORE(&j->listed);
		atomic_store_explicit(&j->listed, true, memory_order_release);
	}
	/* One count a submit: submitted is queued + held, pushed is queued + timed. */
	count(&q->reg, queued ? COUNT_QUEUED : COUNT_HELD);
	if (queued)
		jobq__pool_publish(&q->pool, j->prio, pos, jobq__job_run, j); /* the last touch */
	return 0;
}

/* Copies at most cap - 1 bytes of src (NULL: none) and a NUL. */
static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strnlen(src, cap - 1) : 0;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

void jobq__snapshot(const struct jobq__job *j, jobq_status_t *st)
{
	st->id = j->id;
	/* Acquire pairs with the ender's release store of a final state: the code and finish
	 * time written before it are seen with it (end, which writes them without j->mu; a
	 * cancel's claim writes them under it: claim_cancel). The attempt and start time are
	 * read as a seqlock's reader reads, with the state as the sequence: a worker writes them
	 * while the job is STARTING, without j->mu (jobq__job_run), so a read that saw STARTING,
	 * or a state that changed around the reads, is made again. The state cannot come back
	 * meanwhile: a move to QUEUED again passes FAILED, stored under j->mu, which the caller
	 * holds (or it is the ender, which alone writes the record). */
	for (unsigned look = 0;; look++) {
		int state = atomic_load_explicit(&j->state, memory_order_acquire);
		if (state != JOB_STARTING) {
			st->attempt = atomic_load_explicit(&j->attempt, memory_order_relaxed);
			st->started_ns = atomic_load_explicit(&j->started_ns, memory_order_relaxed);
			atomic_thread_fence(memory_order_acquire);
			st->state = state;
			if (atomic_load_explicit(&j->state, memory_order_relaxed) == state)
				break;
		}
		jobq__spin_wait(look); /* the start is a few stores */
	}
	st->code = atomic_load_explicit(&j->code, memory_order_relaxed);
	st->max_attempts = j->max_attempts;
	st->percent = j->percent;
	copy_str(st->progress, sizeof st->progress, j->progress);
	copy_str(st->name, sizeof st->name, j->name);
	copy_str(st->error, sizeof st->error, j->error);
	st->result_len = j->result_len;
	st->created_ns = j->created_ns;
	/* An ender may have stamped the time before it stores the final state: not shown before. */
	st->finished_ns =
		final(st->state) ? atomic_load_explicit(&j->finished_ns, memory_order_relaxed) : 0;
	st->next_run_ns = 0;
	if (st->state == JOBQ_SCHEDULED) {
		/* Through the timer's lock: a due job that found the ring full is moved on by
		 * the timer thread, without j->mu. */
		int64_t due = jobq__sched_due(&j->q->sched, &j->timer);
		st->next_run_ns = j->timer.realtime ? due
						    : jobq__now(j->q, true) + due - jobq__now(j->q, false);
	}
}

void jobq__job_emit(const struct jobq__job *j, unsigned kind, jobq_state_t state)
{
	struct jobq__events *e = &j->q->events;
	if (!jobq__events_wanted(e))
		return;
	jobq_event_t ev = {
		.id = j->id,
		.kind = kind,
		.state = state,
		.attempt = atomic_load_explicit(&j->attempt, memory_order_relaxed),
		.code = atomic_load_explicit(&j->code, memory_order_relaxed),
		.percent = j->percent,
		.time_ns = jobq__stamp(j->q, 0, NULL),
	};
	if (kind == JOBQ_EV_PROGRESS && j->progress)
		strncpy(ev.text, j->progress, sizeof ev.text - 1);
	jobq__events_publish(e, &ev);
}

/* The state event of a move that the caller made without j->mu (a start, an end), emitted
 * under it, so that it keeps its order with the events emitted under it; no lock where nobody
 * listens. */
static void emit_move(struct jobq__job *j, jobq_state_t state)
{
	if (!jobq__events_wanted(&j->q->events))
		return;
	jobq__lock(&j->mu);
	jobq__job_emit(j, JOBQ_EV_STATE, state);
	jobq__unlock(&j->mu);
}

/* Doubles the ring: 0, or JOBQ_ENOMEM. Caller holds fin_mu. */
static int fin_grow(struct jobq__registry *r)
{
	uint64_t cap = r->fin_cap * 2;
	struct jobq__kept *fin = jobq__malloc(cap * sizeof *fin);
	if (!fin)
		return JOBQ_ENOMEM;
	for (uint64_t i = 0; i < r->nretained; i++)
		fin[i] = r->fin[(r->fin_head + i) & (r->fin_cap - 1)];
	jobq__free(r->fin);
	r->fin = fin;
	r->fin_cap = cap;
	r->fin_head = 0;
	return 0;
}

/* The oldest retained record, off the ring. Caller holds fin_mu; the ring is not empty. */
static struct jobq__kept fin_pop(struct jobq__registry *r)
{
	struct jobq__kept k = r->fin[r->fin_head];
	r->fin_head = (r->fin_head + 1) & (r->fin_cap - 1);
	r->nretained--;
	return k;
}

/*
 * Takes up to max records off the ring: past the age, and, when there are more than bound,
 * those past the count. Caller holds fin_mu.
 */
static unsigned fin_take(struct jobq__registry *r, int64_t now, struct jobq__kept *out,
			 unsigned max, uint64_t bound)
{
	/* Pruned down to the count, well past it: the records are then forgotten in batches,
	 * their misses overlapping (forget). */
	uint64_t keep = r->nretained > bound ? r->retain_count : r->nretained;
	unsigned n = 0;
	while (n < max && r->nretained &&
	       (r->nretained > keep || now - r->fin[r->fin_head].at > r->retain_ns))
		out[n++] = fin_pop(r);
	return n;
}

#define PRUNE_BATCH 256

/*
 * Forgets pruned records: unlists each, then drops the registry's reference, which frees the
 * record if it was the last.
 *
 * A lookup reads a record under its lock once it has seen it listed (jobq__job_find and the
 * others that take a record's lock: each takes it with a seq_cst CAS, lock.h, then loads
 * listed seq_cst). So the records are unlisted first, all of them, then one fence, and then a
 * record whose lock is free is no longer read: a lookup that took the lock before the fence
 * has let it go (the acquire load that sees it free sees its reads done), and one that takes it
 * after sees listed false (the fence and the lookup's CAS and load are in the one seq_cst
 * order: if the load of the word came before the CAS, the fence did too, and the lookup's load
 * of listed, after its CAS, sees the store before the fence). A record whose lock is held is
 * waited for by taking the lock. Unlisting each under its lock, as before, cost two locked
 * instructions a job on a worker's path (docs/BENCHMARKS.md, the twenty-ninth round).
 */
static void forget(const struct jobq__kept *v, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (i + 8 < n)
			__builtin_prefetch(v[i + 8].job, 1); /* the header: all of it read (job.h) */
		atomic_store_explicit(&v[i].job->listed, false, memory_order_relaxed);
	}
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < n; i++) {
		struct jobq__job *j = v[i].job;
		jobq__lock_quiesce(&j->mu);
		if (unref_last_held(j)) {
			strip(j);
			jobq__slots_free(j);
		}
	}
}

/*
 * Who prunes by count, and when (the slack is retain_count / 8): the thread that retains a
 * record, once more than the count and the slack are kept, forgets them down to the count; a
 * busy pool's workers, which retain in batches (retain_settled), so prune about once per slack
 * of jobs. Small counts (under 8: no slack) are kept exactly. Records past the age go whenever
 * it prunes.
 *
 * Not taken: a submit that forgets a batch of the oldest before it takes a record (91711de to
 * fddc5a7), so that their lines travel to the thread that reuses them and the workers are
 * spared the work. It won 9-17 % on the Intel machine of docs/BENCHMARKS.md, but on the AMD
 * EPYC, whose two vCPUs may sit in different caches, each forgotten record's lock and lines
 * waited on the submitter's path for a worker's cache: interleaved bench -x runs, tracked,
 * medians, without it against with it: S=1 W=2 10.73 and 10.60 against 9.56 and 9.53 M jobs/s
 * (0.178 and 0.168 against 0.191 and 0.181 CPU µs a job), S=1 W=1 11.07 against 11.15, S=2
 * W=2 11.26 against 10.62, S=4 W=1 7.58 against 5.92 (docs/BENCHMARKS.md, the twenty-fifth
 * round).
 */
static uint64_t retain_bound(const struct jobq__registry *r)
{
	return r->retain_count + r->retain_slack;
}

/* What retention keeps of a record that settles now. */
static struct jobq__kept kept_of(const struct jobq__registry *r, struct jobq__job *j)
{
	return (struct jobq__kept){j, jobq__clock_coarse(r->clock)};
}

/*
 * Appends nadd records (oldest first, at most STAGE_MAX) to the retention ring, then prunes
 * past retain_bound, PRUNE_BATCH records at a time.
 */
static void prune(struct jobq__registry *r, const struct jobq__kept *add, unsigned nadd)
{
	struct jobq__kept v[PRUNE_BATCH];
	int64_t now = jobq__clock_coarse(r->clock);
	unsigned n = 0;

	jobq__lock(&r->fin_mu);
	for (unsigned i = 0; i < nadd; i++) {
		/* Only a retain_count past what was made at create can fill the ring; when it
		 * cannot grow, the oldest record goes early. */
		if (r->nretained == r->fin_cap && fin_grow(r) != 0)
			v[n++] = fin_pop(r);
		r->fin[(r->fin_head + r->nretained) & (r->fin_cap - 1)] = add[i];
		r->nretained++;
	}
	for (;;) {
		n += fin_take(r, now, v + n, PRUNE_BATCH - n, retain_bound(r));
		jobq__unlock(&r->fin_mu);
		if (!n)
			return;
		forget(v, n);
		if (n < PRUNE_BATCH)
			return;
		n = 0;
		jobq__lock(&r->fin_mu);
	}
}

void jobq__retain(struct jobq__registry *r, struct jobq__job *j)
{
	struct jobq__kept k;
	if (j)
		k = kept_of(r, j);
	prune(r, j ? &k : NULL, j != NULL);
}

/*
 * A worker's batch of settled records on their way to the retention ring. The workers of a
 * busy pool would otherwise take fin_mu and write the ring's tail once per job, and pass both
 * lines between them each time: on the Intel machine of docs/BENCHMARKS.md a third of a
 * worker's time went to jobq__retain, three fifths of that outside the pruning. A record in
 * the batch is registered as before (status, wait and cancel find it), only not yet counted or
 * pruned; the batch goes in when it is full, when the worker runs out of work
 * (jobq__retain_flush, before it parks) and when it leaves. Only a pool's own workers batch,
 * and only where retain_count allows a slack of a batch (retain_slack), so a small
 * retain_count is kept exactly.
 */
static _Thread_local struct {
	unsigned n;
	struct jobq__kept v[STAGE_MAX];
} staged;

/* Retains a record that this thread has settled at the monotonic time at: batched on q's
 * workers, else at once. */
static void retain_settled(jobq_t *q, struct jobq__job *j, int64_t at)
{
	struct jobq__registry *r = &q->reg;
	struct jobq__kept k = {j, at};
	if (r->retain_slack < STAGE_MAX || !jobq__pool_is_worker(&q->pool)) {
		prune(r, &k, 1);
		return;
	}
	staged.v[staged.n++] = k;
	if (staged.n == STAGE_MAX)
		jobq__retain_flush(r);
}

void jobq__retain_flush(struct jobq__registry *r)
{
	if (!staged.n)
		return;
	prune(r, staged.v, staged.n);
	staged.n = 0;
}

/*
 * Marks j settled, ordered before the load of nwaiters in wake_waiters that follows: a
 * waiter registers in nwaiters, then looks at settled (wait_for in query.c), so either it sees
 * settled or the ender sees it registered and wakes it. The order is a full fence on one side.
 * Where the pool's fences are light (pool.h) the waiter, which is about to sleep anyway, pays
 * for it with jobq__pool_fence_all after it registers, and the settle is a plain store. With
 * the seq_cst store, a locked instruction on x86, interleaved runs of bench -x 0,1,1,2,400000
 * gave 7.61 M tracked jobs/s by the median of 16 against 8.77 (docs/BENCHMARKS.md, the
 * seventeenth round).
 */
static void settle(jobq_t *q, struct jobq__job *j)
{
	/* Release: a waiter that sees settled sees the ending, callbacks included. */
	JOBQ_HB_BEFORE(&j->settled);
	if (q->pool.light_fences) {
		atomic_store_explicit(&j->settled, true, memory_order_release);
		atomic_signal_fence(memory_order_seq_cst); /* the compiler keeps the order too */
	} else {
		atomic_store(&j->settled, true);
	}
}

/* Wakes jobq_wait callers if there are any. */
static void wake_waiters(struct jobq__registry *r)
{
	/* seq_cst pairs with the waiter's increment of nwaiters before it looks at the record's
	 * settled flag (see settle). */
	if (atomic_load(&r->nwaiters)) {
		pthread_mutex_lock(&r->wait_mu);
		pthread_cond_broadcast(&r->wait_cv);
		pthread_mutex_unlock(&r->wait_mu);
	}
}

/*
 * Drops the reference of the thread that runs j and has ended it (not dead: see end), before
 * it retains j, with a store where jobq__job_unref takes a locked instruction. The other
 * reference is the registry's, which it gives up only once j is pruned, after the retention
 * that comes next; references are only handed on, never taken; so the count is 2 here, and
 * nobody else writes it meanwhile. Release: the pruner's acquire load that sees 1
 * (unref_last_held) sees this thread's use of the record before it.
 */
static void drop_run_ref(struct jobq__job *j)
{
	JOBQ_HB_BEFORE(&j->refs);
	atomic_store_explicit(&j->refs, 1, memory_order_release);
}

/* Writes the code and finish time of j's end: before its final state is stored (end), or under
 * j->mu with a cancel's claim of that state (claim_cancel). Returns the monotonic time of the
 * same reading, the settling time that retention keeps (end). */
static int64_t stamp_end(struct jobq__job *j, int code)
{
	int64_t mono;
	int64_t started = atomic_load_explicit(&j->started_ns, memory_order_relaxed);
	atomic_store_explicit(&j->code, code, memory_order_relaxed);
	atomic_store_explicit(&j->finished_ns,
			      jobq__stamp(j->q, started ? started : j->created_ns, &mono),
			      memory_order_relaxed);
	return mono;
}

/*
 * Moves j from the waiting state `from` to CANCELLED if it is still there, and then writes the
 * end's code and time before the caller lets j->mu go; true if this thread won it, and must
 * then end it (end, which finds the state stored and stamps nothing). Caller holds j->mu. A
 * status, read under j->mu, so never shows the final state without them: the claim used to
 * leave them to end(), after the lock, and a status read in between showed a cancelled job
 * with no code and no finish time (test_executor, status_during_cancel_shows_the_end_whole:
 * 19-137 such reads in 2 000 cancels).
 */
static bool claim_cancel(struct jobq__job *j, int from)
{
	if (!claim(j, from, JOBQ_CANCELLED))
		return false;
	stamp_end(j, JOBQ_ECANCELED);
	return true;
}

/*
 * Ends a job that this thread has won (see the top of the file): records how, runs the
 * callbacks and the destructor, then settles it. own_run: j is the item this thread runs
 * (jobq__job_run), which stops counting as running once the callbacks have returned, so that a
 * job waited for is no longer counted by jobq_stats, and whose reference end drops.
 */
static void end(struct jobq__job *j, jobq_state_t state, int code, bool own_run)
{
	jobq_t *q = j->q;
	bool dead = state == JOBQ_DEAD;
	jobq_status_t st;
	int64_t at; /* when it settles, for retention: the end's stamp, or the coarse clock */

	/* Without j->mu: the winner of a job (see the top of the file) is the only thread that
	 * writes to it from here on, and readers see the final state after the code and the time
	 * (release; jobq__snapshot's acquire). The lock's two locked instructions, on a line the
	 * worker had just fetched from the submitter, were a seventh of a worker's time per job:
	 * interleaved bench -x 0,1,1,1,1000000, 10 rounds, medians 10.89 -> 12.57 M tracked jobs/s
	 * and 0.177 -> 0.143 CPU µs per job (docs/BENCHMARKS.md, the nineteenth round). */
	if (atomic_load_explicit(&j->state, memory_order_relaxed) != (int)state) {
		at = stamp_end(j, code);
		atomic_store_explicit(&j->state, state, memory_order_release);
	} else { /* a cancel's claim stored it, with the code and time (claim_cancel) */
		at = jobq__clock_coarse(q->reg.clock);
	}
	if (j->on_done || (dead && q->on_dead))
		jobq__snapshot(j, &st);
	struct jobq__key *key = j->key; /* set before the job was published, read only here */
	count(&q->reg, state == JOBQ_SUCCEEDED ? COUNT_SUCCEEDED
		       : dead ? COUNT_DEAD : COUNT_CANCELLED);

	if (key)
		jobq__keys_ended(&q->keys, key, jobq__now(q, false));
	if (j->on_done)
		j->on_done(&st, j->on_done_data);
	if (dead && q->on_dead)
		q->on_dead(&st, q->on_dead_data);
	if (!dead && j->arg_free)
		j->arg_free(j->arg);
	if (own_run)
		jobq__pool_ran();

	/* A dead job is listed before it settles, so that a waiter that sees it settled finds it
	 * in the dead-letter list and its counts. A purge or a requeue may then take it off the
	 * list and give up the registry's reference at once, so this thread, the running worker
	 * (only a run ends in DEAD), drops its own with the locked decrement. */
	if (dead)
		jobq__dead_add(&q->reg, j);
	settle(q, j);
	emit_move(j, state);
	if (dead) {
		jobq__job_unref(j);
	} else {
		if (own_run)
			drop_run_ref(j);
		retain_settled(q, j, at);
	}
	wake_waiters(&q->reg);
}

/*
 * Claims a waiting job for cancellation. Caller holds j->mu. Returns 0 when it was not waiting,
 * 1 when this thread won it and the ring or the timer still holds its reference, 2 when it won
 * it and took the reference from the timer's heap. A won job has its end's code and time.
 */
static int claim_waiting(struct jobq__job *j)
{
	if (claim_cancel(j, JOBQ_QUEUED))
		return 1;
	if (claim_cancel(j, JOBQ_SCHEDULED))
		return jobq__sched_remove(&j->q->sched, &j->timer) ? 2 : 1;
	return 0;
}

/* Ends a job won by claim_waiting. Call without j's locks. */
static void end_claimed(struct jobq__job *j, int won)
{
	if (!won)
		return;
	JOBQ_CHAOS_POINT(); /* won, not ended yet: a status read now must show the end whole */
	end(j, JOBQ_CANCELLED, JOBQ_ECANCELED, false);
	if (won == 2)
		jobq__job_unref(j);
}

int jobq__job_cancel_locked(struct jobq__job *j)
{
	bool ended = final(atomic_load(&j->state));
	int won = 0;
	if (!ended) {
		atomic_store(&j->cancel, 1);
		won = claim_waiting(j);
	}
	jobq__unlock(&j->mu);
	if (ended)
		return JOBQ_EBUSY;
	end_claimed(j, won);
	return 0;
}

void jobq__jobs_cancel_all(jobq_t *q)
{
	struct jobq__registry *r = &q->reg;
	atomic_store(&r->cancel_all, 1);
	/* A job listed after this read sees cancel_all when it would run. */
	uint32_t size = jobq__slots_size(&r->slots);
	for (uint32_t n = 0; n < size; n++) {
		struct jobq__job *j = jobq__slots_at(&r->slots, n);
		/* j->mu: a worker between "failed" and "scheduled" (reschedule) holds it. */
		jobq__lock(&j->mu);
		int won = 0;
		if (atomic_load(&j->listed)) { /* seq_cst: see forget */
			JOBQ_HB_AFTER(&j->listed);
			atomic_store(&j->cancel, 1);
			won = claim_waiting(j);
		}
		jobq__unlock(&j->mu);
		end_claimed(j, won);
	}
}

/* A full-jitter backoff for the retry after attempt j->attempt, in milliseconds. */
static uint32_t backoff_ms(jobq_t *q, const struct jobq__job *j)
{
	unsigned attempt = atomic_load_explicit(&j->attempt, memory_order_relaxed);
	double bound = j->backoff_base_ms * pow(j->backoff_factor, attempt - 1);
	if (bound > j->backoff_cap_ms)
		bound = j->backoff_cap_ms;
	uint64_t x = jobq__random(q);
	return (uint32_t)((double)(x >> 11) / (double)(1ULL << 53) * (bound + 1));
}

/*
 * Puts a failed job back on the timer for its next attempt. The worker's reference passes to
 * the timer. Returns 0, or JOBQ_ENOMEM when the timer had no room (the job is then still the
 * caller's, in state FAILED).
 */
static int reschedule(struct jobq__job *j)
{
	jobq_t *q = j->q;
	uint32_t delay = (j->flags & JOB_RETRY_AFTER) ? j->retry_after_ms : backoff_ms(q, j);

	jobq__lock(&j->mu);
	j->timer.realtime = 0;
	j->timer.due = jobq__now(q, false) + delay * MS;
	atomic_store_explicit(&j->state, JOBQ_SCHEDULED, memory_order_relaxed);
	int rc = jobq__sched_add(&q->sched, &j->timer);
	if (rc) {
		atomic_store_explicit(&j->state, JOBQ_FAILED, memory_order_relaxed);
		jobq__unlock(&j->mu);
		return rc;
	}
	count(&q->reg, COUNT_RETRIED);
	jobq__job_emit(j, JOBQ_EV_STATE, JOBQ_SCHEDULED);
	/* A cancel that came while the job was FAILED only set the flag: act on it now. */
	int won = atomic_load(&j->cancel) ? claim_waiting(j) : 0;
	jobq__unlock(&j->mu);
	end_claimed(j, won);
	return 0;
}

void jobq__job_run(void *job)
{
	struct jobq__job *j = job;
	jobq_t *q = j->q;

	/* QUEUED -> STARTING by CAS, which a cancellation's CAS from QUEUED meets (claim_waiting);
	 * the timer's move back to SCHEDULED is only made while the job is in no ring. The CAS is
	 * seq_cst, as the canceller's store of cancel (or cancel_all) and its claim are: either
	 * this thread sees the flag below or the canceller's claim fails and the job runs with the
	 * flag set, as a job cancelled while it runs. STARTING is this thread's alone: it writes
	 * the attempt, the start time, the deadline and flags without j->mu, and a status waits
	 * the few stores out (jobq__snapshot), so it never shows the job RUNNING without its
	 * attempt and start. With j->mu around the move, as before, its two locked instructions
	 * waited for the record's line to come from the submitter: interleaved bench -x
	 * 0,1,1,1,400000, 8 rounds, medians 13.52 -> 15.01 M tracked jobs/s and the worker's CPU
	 * 29.4 -> 26.4 ms; with two workers 12.01 -> 13.11 (16 rounds) and 11.48 -> 11.43 (10).
	 * The twentieth round had found the CAS slower, the worker catching up with the submitter
	 * and reading the lines it filled; the slip (pool.c) has kept it behind since: no slow
	 * runs in these sets (docs/BENCHMARKS.md, the twenty-ninth round). */
	int queued = JOBQ_QUEUED;
	if (!atomic_compare_exchange_strong(&j->state, &queued, JOB_STARTING)) {
		jobq__job_unref(j); /* cancelled while queued: the canceller ended it */
		return;
	}
	JOBQ_CHAOS_POINT(); /* a status read now waits for the start to be whole */
	if (atomic_load(&j->cancel) || atomic_load(&q->reg.cancel_all)) {
		end(j, JOBQ_CANCELLED, JOBQ_ECANCELED, true); /* from STARTING: stamps, then stores */
		return;
	}
	/* Release: a status whose relaxed loads see these stores sees STARTING after its acquire
	 * fence, and reads again (the writer's half of the seqlock in jobq__snapshot). */
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&j->attempt, atomic_load_explicit(&j->attempt, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store_explicit(&j->started_ns, jobq__stamp(q, j->created_ns, NULL),
			      memory_order_relaxed);
	j->timer.due = j->timeout_ms ? jobq__now(q, false) + j->timeout_ms * MS : 0;
	j->flags &= (uint8_t)~JOB_RETRY_AFTER;
	atomic_store_explicit(&j->state, JOBQ_RUNNING, memory_order_release);
	emit_move(j, JOBQ_RUNNING);

	struct jobq_ctx ctx = {j};
	jobq_outcome_t out = j->fn(&ctx, j->arg);
	if (out == JOBQ_DONE) {
		end(j, JOBQ_SUCCEEDED, 0, true);
		return;
	}

	bool timed_out = j->timer.due && jobq__now(q, false) >= j->timer.due;
	int code = out != JOBQ_RETRY && out != JOBQ_FATAL ? JOBQ_EINVAL
		   : timed_out				 ? JOBQ_ETIMEDOUT
							 : 0;
	bool retry = out == JOBQ_RETRY &&
		     atomic_load_explicit(&j->attempt, memory_order_relaxed) < j->max_attempts &&
		     (!timed_out || (j->flags & JOB_RETRY_TIMEOUTS));
	jobq__lock(&j->mu);
	atomic_store_explicit(&j->state, JOBQ_FAILED, memory_order_relaxed);
	atomic_store_explicit(&j->code, code, memory_order_relaxed);
	jobq__job_emit(j, JOBQ_EV_STATE, JOBQ_FAILED);
	jobq__unlock(&j->mu);
	count(&q->reg, COUNT_FAILED);

	if (atomic_load(&j->cancel) || (retry && atomic_load(&q->reg.cancel_all)))
		end(j, JOBQ_CANCELLED, JOBQ_ECANCELED, true);
	else if (!retry || reschedule(j) != 0) /* 0: the timer holds the reference now */
		end(j, JOBQ_DEAD, retry ? JOBQ_ENOMEM : code, true);
}

bool jobq__job_due(struct jobq__timer *t, void *owner)
{
	struct jobq__job *j = (struct jobq__job *)((char *)t - offsetof(struct jobq__job, timer));
	jobq_t *q = owner;

	if (atomic_load(&j->cancel) || atomic_load(&q->reg.cancel_all)) {
		jobq__lock(&j->mu);
		bool won = claim_cancel(j, JOBQ_SCHEDULED);
		jobq__unlock(&j->mu);
		if (won)
			end(j, JOBQ_CANCELLED, JOBQ_ECANCELED, false);
		jobq__job_unref(j);
		return true;
	}
	if (!claim(j, JOBQ_SCHEDULED, JOBQ_QUEUED)) {
		jobq__job_unref(j); /* a canceller won it and ended it */
		return true;
	}
	if (jobq__events_wanted(&q->events)) {
		/* Before the push, so that the worker's "running" cannot overtake it. */
		jobq__lock(&j->mu);
		jobq__job_emit(j, JOBQ_EV_STATE, JOBQ_QUEUED);
		jobq__unlock(&j->mu);
	}
	if (jobq__pool_push(&q->pool, j->prio, jobq__job_run, j)) {
		count(&q->reg, COUNT_TIMED);
		return true;
	}
	/* The ring is full: back to the timer, unless a canceller took it meanwhile. */
	if (claim(j, JOBQ_QUEUED, JOBQ_SCHEDULED))
		return false;
	jobq__job_unref(j);
	return true;
}

void jobq__registry_stats(struct jobq__registry *r, struct jobq__reg_stats *out)
{
	uint64_t n[JOBQ__NCOUNTS] = {0};
	memset(out, 0, sizeof *out);
	jobq__retain(r, NULL);
	for (unsigned i = 0; i <= JOBQ__TNUMS; i++)
		for (unsigned k = 0; k < JOBQ__NCOUNTS; k++)
			n[k] += atomic_load_explicit(&r->counts[i].n[k], memory_order_relaxed);
	out->submitted = n[COUNT_QUEUED] + n[COUNT_HELD];
	out->pushed = n[COUNT_QUEUED] + n[COUNT_TIMED];
	out->succeeded = n[COUNT_SUCCEEDED];
	out->failed = n[COUNT_FAILED];
	out->retried = n[COUNT_RETRIED];
	out->cancelled = n[COUNT_CANCELLED];
	out->dead = n[COUNT_DEAD];
	jobq__lock(&r->fin_mu);
	out->retained = r->nretained;
	jobq__unlock(&r->fin_mu);
	pthread_mutex_lock(&r->dead_mu);
	out->dead_listed = r->ndead;
	out->dead_dropped = r->dead_dropped;
	pthread_mutex_unlock(&r->dead_mu);
}
