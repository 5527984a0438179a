/*
 * pool.c: the worker threads, the three priority rings that feed them, and how idle workers
 * park and wake.
 *
 * Threads: any thread pushes; each worker runs worker_main; control calls (set_workers, drain,
 * fini) come from any thread but the pool's own workers for drain and fini.
 *
 * Park/wake (an eventcount on a futex word, after Go's and Tokio's schedulers):
 *   - A worker that finds the rings empty becomes a searcher (nsearching), spins a little, then
 *     parks: it reads the futex word, registers as a sleeper, stops searching, looks at the rings
 *     once more and only then waits on the word it read.
 *   - A producer pushes, then wakes one sleeper only when nobody is searching. Its push claims
 *     head by a seq_cst CAS and it reads nsearching and nsleepers by seq_cst loads, so no fence
 *     is needed: in the one total order of seq_cst operations either the producer sees the
 *     searcher, and the searcher's last look at head (seq_cst loads, after its seq_cst
 *     decrement and fence) sees the item, or it sees no searcher and a registered sleeper, and
 *     bumps the word so that the sleeper's futex_wait returns at once. No wake-up is lost; a
 *     submit wakes at most one worker, and none while one is searching.
 *   - One wake in flight: a producer (or a searcher handing on) takes the waking flag by
 *     exchange before it wakes, and skips its wake while the flag is set. The worker that the
 *     wake brings back counts itself a searcher, then clears the flag (seq_cst, then a fence),
 *     then searches: a push that skipped its wake saw the flag before the clear, so the search
 *     after it sees the push (at the latest at its last look at head before parking). A worker
 *     about to sleep clears it too. Without the flag every push made while the woken worker
 *     was still on its way back (tens of microseconds on a virtual machine) paid for another
 *     futex_wake: most of a tracked job's cost in make bench.
 *   - A searcher that finds work and was the last searcher wakes one more worker if work is
 *     left, so a burst spreads over the pool one wake at a time instead of in a storm.
 *   - Slip: a worker that ran SLIP_STREAK items back to back and then finds the rings empty may
 *     have caught up with a producer that is still pushing. Taking each item the moment it is
 *     published then keeps both threads on the line being filled, and every push waits for
 *     that line to come back from the worker: empty jobs ran at 16-24 M/s that way against
 *     45-80 M/s when the worker stayed behind, and a run fell into one mode or the other by
 *     chance (make bench, 1 submitter). So that worker, still counted as a searcher, first
 *     waits until SLIP_BATCH items are queued, or SLIP_PAUSES pauses have passed (about 1.7 µs
 *     on a 26 ns PAUSE), or the producers turn out slower than SLIP_RATE pushes per eight
 *     pauses (about one per 50 ns), judged from the second look on: slower producers do not
 *     suffer from a worker reading behind them, so their items wait two looks at most (about
 *     0.4 µs). A worker that had to wait for its last item never slips, so a job that arrives
 *     at an awake worker is taken at once.
 *   - A worker back from a park (woken, or its last look saw work) searches again, as a
 *     searcher (counted as one before it clears the waking flag). Taking an item with the
 *     plain pop instead lost a wake-up: producers that saw it searching woke nobody, it took
 *     one of their items and handed nothing on, and the rest waited while a worker slept
 *     (found by valgrind, a hang in test_executor; reproduced and fixed in the Promela model,
 *     hardening/parkwake.pml).
 *   - A spinning searcher yields its CPU (sched_yield) every YIELD_EVERY looks. With as many
 *     workers as CPUs and a submitter besides, the scheduler puts two of the three threads on
 *     one CPU, and which two decides the rate: in a scratch build that pinned the threads,
 *     the submitter alone on one CPU and both workers on the other, bench -x 0,1,1,2,1000000
 *     ran 13.2-13.6 M tracked jobs/s; with a worker beside the submitter, 7.2-7.6, that
 *     worker spinning a million looks on the submitter's time. A yield hands such a CPU to
 *     the thread that shares it, and costs a spinner alone on its CPU a system call it had
 *     nothing better to do than wait in.
 *     Unpinned, 10 interleaved runs: medians 8.07 -> 11.44 M jobs/s, 0.224 -> 0.159 CPU µs
 *     per job (docs/BENCHMARKS.md, the nineteenth round).
 * An idle pool has every worker in futex_wait with no timeout: no CPU, no wake-ups.
 *
 * Batches: a worker that finds a ring with items claims up to BATCH_MAX of those published in a
 * row with one CAS on its tail, runs the first and keeps the rest in its batch, which it takes
 * from before it looks at the rings again. One claim per item had two workers trade the tail's
 * line on every item, and a tracked job's record was fetched while the worker waited (figures:
 * docs/BENCHMARKS.md, the sixteenth round). The claim reads ahead only while slots hold items:
 * where it stops, at the slot that the producer fills next, it reads a line that a pop reads too.
 *   - Warming: a tracked job's record (warm_fn's argument) was last written by the submitter, and
 *     its run starts with a locked instruction on it, which waited for its lines to come over from
 *     the submitter's cache: a sixth of a worker's samples (perf record of bench -x
 *     0,1,1,2,3000000). So a worker asks for the records of the items WARM_AHEAD places on in its
 *     batch for writing as it takes each one (and for the first WARM_AHEAD as it claims them), and
 *     they travel while it runs the items before. Interleaved bench -x 0,1,1,2,400000, 10 rounds,
 *     medians: 10.71 -> 11.91 M tracked jobs/s, 0.172 -> 0.149 CPU µs a job (in a scratch build, 2
 *     to 8 places ahead gave 11.70-11.98 against 11.18; the twenty-fifth round of
 *     docs/BENCHMARKS.md). Before retention moved off the submitter's path (job.c) the workers were
 *     not the bound, and the same prefetch gained nothing (the twenty-third round).
 *   - Priorities: a claim takes several items only from a ring that is the only one with items
 *     (alone), so where priorities compete each pick is still one item and the cycle of seven
 *     holds. An item of a higher priority that arrives meanwhile waits for the rest of the
 *     batch, or for an idle worker (below).
 *   - Stealing: a searcher that finds the rings empty takes half of what is left in the batch
 *     of the worker with the most (under ctl, if it is free), so a long job holds up none of
 *     the items claimed behind it while another worker is idle. A spinning searcher steals
 *     only from its STEAL_AFTER-th look on: sooner, two workers that ran empty posts took
 *     batches from each other while both were busy, and posted a fifth slower (the sixteenth
 *     round); one that looks once before it parks steals at that look.
 *   - Wake-ups: items claimed into a batch count as pushed for the park/wake protocol. The
 *     claimer (or a thief that leaves items behind) wakes a sleeper when nobody searches, as a
 *     producer does after its push: batch_fill's seq_cst store plays the claim of head. The
 *     searchers it then relies on take in the batches wherever they look at the rings for
 *     work left: in the last look before parking, in the hand-over of the last one to find
 *     work, and when one leaves (work_left; with the batches left out of the hand-over, the
 *     chaos build hung in test_executor: a batched job left behind a searcher that found other
 *     work). So items that wait in a batch while their owner runs a job that never ends still
 *     reach an idle worker.
 *   - Pause: a worker takes from its batch inside its look, after the check of paused, as it
 *     pops a ring. A worker leaves (shrink, stop) only with an empty batch, and jobq_stats
 *     counts the batches as queued.
 *
 * Room (JOBQ_FULL_BLOCK): a producer that found its ring full registers (nroom_waiters), looks
 * again and sleeps on room_word until a quarter of the ring is free; the pop that first sees
 * it so takes every registration (exchange to 0) and wakes them all. Waking on every pop, as
 * before, made a futex_wake for each item popped while the woken producer was on its way
 * back: one per 12-15 tracked jobs through a 4096-slot ring (bench -x 0,1,1,1,400000,4096).
 *
 * Priorities: three rings; each worker takes from them in a fixed cycle of seven picks (high
 * first four times, normal first twice, low first once), so a low item waits at most a bounded
 * number of picks however busy the higher rings are.
 *
 * Shutdown: a drain must know of every push that was accepted. A post, or a tracked submit,
 * that finds room takes no gate, because the close also closes the rings, which then refuse
 * claims in the very CAS that would claim a slot, and a drain reads head after that; and it
 * publishes its item last, after its wake, so that it touches nothing of the pool once the
 * item may run, the drain finish and jobq_destroy free the pool (jobq__pool_claim and
 * jobq__pool_publish). Submits that wait for room, run their job in place, hold a key or a
 * delay bracket theirs with jobq__pool_enter/leave (the gate: a counter the drain waits to see
 * at zero). The gate's two locked
 * instructions were most of a post's cost in the submitting thread: interleaved bench -x
 * 0,0,1,1,2000000 runs, 12 each, gave medians of 14.2 M posts/s without it against 9.6 with
 * it (the Intel machine of docs/BENCHMARKS.md).
 *
 * Locks: ctl guards the worker list and orders a pause against the close; drain_mu/drain_cv
 * only carry the drain's wake-up by the workers and the timer. A drain waits for the gate on
 * the gate's own word, a futex, so that a submitter's leave is one RMW and, rarely, a wake that
 * reads nothing of the pool. Order: drain_mu before ctl. Workers take no lock on the item
 * path.
 *
 * Not taken: a mutex+condvar queue (GThreadPool, libuv): every push and pop would serialise on
 * one lock and wake through the kernel.
 */
#define _GNU_SOURCE
#include "pool.h"

#include <limits.h>
#include <sched.h>
#include <linux/membarrier.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "chaos.h"
#include "hb.h"
#include "os.h"
#include "jobq.h"

#define SPIN_ROUNDS 200
#define SLIP_STREAK 8  /* items run back to back before a worker slips (see the top) */
#define SLIP_BATCH 128 /* queued items that end a slip: 48 lines of ring ahead of the worker */
#define SLIP_PAUSES 64 /* the longest slip */
#define SLIP_RATE 4    /* pushes per eight pauses below which a slip ends (see the top) */
#define BATCH_MAX 32   /* items one claim takes from a ring (see "Batches" at the top) */
_Static_assert(BATCH_MAX < 256, "a batch's word holds its end in 8 bits");
#define WARM_AHEAD 4    /* items ahead whose records a worker prefetches (see "Warming") */
#define WARM_LINE 64    /* the bytes one prefetch asks for */
#define STEAL_AFTER 128 /* a spinning searcher's looks before it tries to steal */
#define STEAL_EVERY 8   /* and then every this many looks */
#define YIELD_EVERY 32  /* a spinning searcher's looks between yields (see the top) */

/*
 * The items a worker claimed from a ring and has not started (see "Batches" at the top): items
 * next..end-1 are left. The owner takes from the front, a thief takes half of what is left from
 * the back, and they meet as in Cilk-5's THE protocol, with no locked instruction on the
 * owner's side:
 *   - next is the owner's alone. To take item n it stores next = n + 1, then reads end; a
 *     thief (under ctl, so one at a time) lowers end with STEALING set, fences, then reads
 *     next. So either the owner reads the lowered end or the thief reads the raised next, and
 *     the thief takes only from max(new end, next) on. An owner that finds STEALING, or n at
 *     or past end, waits for the thief to put end where it stopped (clearing STEALING) and
 *     reads it again.
 *   - The fence in the middle is the light one (announce_look): a compiler barrier on the
 *     owner's side and membarrier(2) on the thief's, which is rare (at most one in STEAL_EVERY
 *     looks of a spinning searcher); a full fence on both sides without light_fences.
 *   - word is gen << 16 | STEALING | end; gen changes at each refill, which the owner makes
 *     only with the batch empty and no thief at work. A thief that started on the old
 *     batch fails its last CAS and takes nothing: it could only have found items the owner had
 *     taken already. The refill empties word under the new gen before it writes the items (a
 *     seqlock writer's order), so a thief that read any of the new items fails that CAS too.
 *     The items are atomics because such a thief may read them while the owner refills.
 * hardening/batch.pml checks the protocol, the owner's store of next held back in a store
 * buffer as x86 may, and that each broken variant loses or doubles an item.
 */
#define STEALING ((uint64_t)1 << 8)
struct batch {
	_Atomic uint64_t word;
	_Atomic unsigned next;
	struct {
		_Atomic(jobq__item_fn) fn;
		_Atomic(void *) arg;
	} item[BATCH_MAX];
};

struct jobq__worker {
	alignas(JOBQ_CACHELINE) _Atomic uint64_t done; /* items run; written by the worker only */
	_Atomic int busy;
	_Atomic int looking; /* inside pop(): see jobq__pool_pause */
	_Atomic int leave;
	_Atomic int exited;
	unsigned pick;
	unsigned serial;
	pthread_t thread;
	struct jobq__pool *pool;
	struct jobq__worker *next;
	/* Read by thieves and jobq_stats: away from done, which the owner writes on every item. */
	alignas(JOBQ_CACHELINE) struct batch batch;
};

static _Thread_local struct jobq__pool *current;
static _Thread_local const struct jobq__pool *home; /* the pool a worker thread belongs to */

/* How the calling thread counts as running an item (jobq_stats): a worker's busy flag, or its
 * share of the pool's inline_busy during an inline run. jobq__pool_ran ends it early. */
struct counted {
	_Atomic int *busy;
	bool shared; /* inline_busy: a count that other threads add to as well */
	bool out;    /* the share was taken off already */
};
static _Thread_local struct counted *counted;

/* Weighted pick order, one row per pick in a cycle of seven (see the top of the file); the
 * entries are ring indexes, that is jobq_priority_t values: normal 0, high 1, low 2. */
static const unsigned char pick_order[7][JOBQ__NPRIO] = {
	{1, 0, 2}, {0, 1, 2}, {1, 0, 2}, {2, 1, 0}, {1, 0, 2}, {0, 1, 2}, {1, 0, 2},
};

static void wake(struct jobq__pool *p, int n)
{
	/* Bumping the word makes a futex_wait that read the old value return at once; the
	 * seq_cst RMW orders it after the caller's push (see the protocol above). */
	atomic_fetch_add(&p->word, 1);
	jobq__os_futex_wake(&p->word, n);
}

/* wake(p, 1) unless a wake is already in flight (see the top of the file). */
static void wake_once(struct jobq__pool *p)
{
	/* seq_cst: a producer that sees the flag set skips its wake, and relies on the order of
	 * its push, this load, the woken worker's clear and its fence (see the top). */
	if (!atomic_load(&p->waking) && !atomic_exchange(&p->waking, 1))
		wake(p, 1);
}

/* A quarter of ring r (at least one slot) is free: what a producer blocked on a full ring
 * waits for, so that it comes back to push a batch rather than to find the ring full again
 * after one item. */
static bool roomy(const struct jobq__ring *r)
{
	uint64_t cap = (uint64_t)r->mask + 1;
	uint64_t want = cap / 4 ? cap / 4 : 1;
	return jobq__ring_size(r) + want <= cap;
}

static uint64_t queued(struct jobq__pool *p)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < JOBQ__NPRIO; i++)
		n += jobq__ring_size(&p->rings[i]);
	return n;
}

static bool rings_empty(struct jobq__pool *p)
{
	return queued(p) == 0;
}

static uint64_t pushed(struct jobq__pool *p)
{
	uint64_t n = 0;
	for (unsigned i = 0; i < JOBQ__NPRIO; i++)
		n += jobq__ring_pushed(&p->rings[i]);
	return n;
}

/* Lets the producers get ahead (see "Slip" at the top of the file). It looks at the ring
 * counters every eight pauses, not oftener, so as not to pull the producers' line away. */
static void slip(struct jobq__pool *p)
{
	uint64_t first = pushed(p);
	for (uint64_t look = 1; look <= SLIP_PAUSES / 8; look++) {
		for (int k = 0; k < 8; k++)
			jobq__cpu_relax();
		if (queued(p) >= SLIP_BATCH)
			return;
		if (look > 1 && pushed(p) - first < SLIP_RATE * look)
			return;
	}
}

/*
 * Sets the worker's looking flag before pop() reads paused. The store must be visible to
 * jobq__pool_pause before the load of paused is made, which takes a full fence (on x86 a
 * locked instruction; without it, interleaved runs posted 6 % more tasks with one worker and
 * 14 % more with two: docs/BENCHMARKS.md, the eighth round). Where the kernel offers
 * membarrier(2) the fence moves to the rare side:
 * pause stores paused, then has the kernel run a full barrier on every thread of the process
 * that is running (a thread that is not passes one in the scheduler), then reads the flags. A
 * worker then either had its flag visible by that barrier, or makes its load of paused after
 * it and sees the store; the compiler barrier keeps the compiler from swapping the two. This
 * is the asymmetric fence of userspace RCU and of Folly's hazard pointers.
 */
static inline void announce_look(struct jobq__pool *p, struct jobq__worker *w)
{
	if (p->light_fences) {
		atomic_store_explicit(&w->looking, 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_store(&w->looking, 1);
	}
}

/* The other half of announce_look (after paused is stored, before the flags are read), and of
 * a light settle (job.c). */
void jobq__pool_fence_all(struct jobq__pool *p)
{
	if (p->light_fences)
		syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
}

static unsigned batch_end(uint64_t word)
{
	return word & 0xff;
}

/* Items left in b. seq_cst (plain loads on x86): a parking worker's last look pairs them with
 * batch_fill's store (see "Batches" at the top). An owner in the middle of a take may have
 * next one past end for a moment, and a thief at work holds its half out of end until it has
 * them: a searcher, which counts them once it has them (pop's *more). */
static unsigned batch_left(struct batch *b)
{
	unsigned end = batch_end(atomic_load(&b->word)), next = atomic_load(&b->next);
	return next < end ? end - next : 0;
}

/* The middle of a batch take or steal (see struct batch): the compiler barrier on the owner's
 * side and membarrier on the thief's, or full fences on both. */
static void take_fence(const struct jobq__pool *p)
{
	if (p->light_fences)
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

static void steal_fence(struct jobq__pool *p)
{
	if (p->light_fences)
		jobq__pool_fence_all(p);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

/* Asks for the record of an item of p->warm_fn for writing (see "Warming" at the top): every
 * line of its warm_len bytes. Items of other functions (a NULL warm_fn matches none) are left
 * alone. */
static void warm(const struct jobq__pool *p, jobq__item_fn fn, void *arg)
{
	if (fn != p->warm_fn)
		return;
	const char *line = (const char *)((uintptr_t)arg & ~(uintptr_t)(WARM_LINE - 1));
	for (const char *end = (const char *)arg + p->warm_len; line < end; line += WARM_LINE)
		jobq__prefetch_write(line);
}

/* The owner: the next item of its batch, if a thief left one; if that is an item of warm_fn,
 * warms the one WARM_AHEAD on (a batch of posts reads nothing ahead). The protocol is at
 * struct batch. */
static bool batch_take(const struct jobq__pool *p, struct batch *b, struct jobq__item *it)
{
	unsigned n = atomic_load_explicit(&b->next, memory_order_relaxed);
	uint64_t word = atomic_load_explicit(&b->word, memory_order_relaxed);
	if (n >= batch_end(word) && !(word & STEALING))
		return false;
	atomic_store_explicit(&b->next, n + 1, memory_order_relaxed);
	take_fence(p);
	JOBQ_CHAOS_POINT();
	word = atomic_load_explicit(&b->word, memory_order_relaxed);
	if (n >= batch_end(word) || (word & STEALING)) {
		/* A thief is at work, or was: it holds ctl for a few instructions and a
		 * membarrier, and never waits for this worker. */
		for (unsigned look = 0;
		     (word = atomic_load_explicit(&b->word, memory_order_relaxed)) & STEALING; look++)
			jobq__spin_wait(look);
		if (n >= batch_end(word))
			return false; /* the thief took the rest; next stays one past end */
	}
	it->fn = atomic_load_explicit(&b->item[n].fn, memory_order_relaxed);
	it->arg = atomic_load_explicit(&b->item[n].arg, memory_order_relaxed);
	if (it->fn == p->warm_fn && n + WARM_AHEAD < batch_end(word))
		warm(p, atomic_load_explicit(&b->item[n + WARM_AHEAD].fn, memory_order_relaxed),
		     atomic_load_explicit(&b->item[n + WARM_AHEAD].arg, memory_order_relaxed));
	return true;
}

/* The owner, its batch empty (batch_take said so): keeps items[0..n) for later. */
static void batch_fill(struct batch *b, const struct jobq__item *items, unsigned n)
{
	if (!n)
		return;
	uint64_t gen = (atomic_load_explicit(&b->word, memory_order_relaxed) >> 16) + 1;
	/* Empty under the new gen first; the release fence keeps the items' stores after it. */
	atomic_store_explicit(&b->word, gen << 16, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (unsigned i = 0; i < n; i++) {
		atomic_store_explicit(&b->item[i].fn, items[i].fn, memory_order_relaxed);
		atomic_store_explicit(&b->item[i].arg, items[i].arg, memory_order_relaxed);
	}
	atomic_store_explicit(&b->next, 0, memory_order_relaxed);
	/* Its release pairs with the acquire of thieves (they see the items and next); seq_cst
	 * orders it before the wake decision that follows, as a push's claim is (see "Batches"
	 * at the top). */
	JOBQ_HB_BEFORE(b); /* what the items point to, handed over by the ring to the owner */
	atomic_store(&b->word, gen << 16 | n);
}

/* A thief, under ctl: moves half of what is left in v (rounded up), or what the owner leaves
 * of it, into out; returns how many. The protocol is at struct batch. */
static unsigned batch_steal(struct jobq__pool *p, struct batch *v, struct jobq__item *out)
{
	uint64_t word = atomic_load_explicit(&v->word, memory_order_acquire), mine;
	unsigned end;
	do {
		/* Acquire: a next written by a refill comes with that refill's first store,
		 * which fails the CAS. */
		unsigned next = atomic_load_explicit(&v->next, memory_order_acquire);
		end = batch_end(word);
		if ((word & STEALING) || next >= end)
			return 0;
		mine = (word & ~(uint64_t)0xff) | STEALING | (end - (end - next + 1) / 2);
	} while (!atomic_compare_exchange_weak(&v->word, &word, mine));
	steal_fence(p);
	JOBQ_CHAOS_POINT();
	unsigned from = atomic_load_explicit(&v->next, memory_order_relaxed);
	if (from < batch_end(mine))
		from = batch_end(mine);
	if (from > end)
		from = end;
	for (unsigned i = from; i < end; i++) {
		out[i - from].fn = atomic_load_explicit(&v->item[i].fn, memory_order_relaxed);
		out[i - from].arg = atomic_load_explicit(&v->item[i].arg, memory_order_relaxed);
	}
	/* The item loads come before the CAS, which fails if a refill began (seqlock reader). */
	atomic_thread_fence(memory_order_acquire);
	uint64_t left = (mine & ~(STEALING | 0xff)) | from;
	if (!atomic_compare_exchange_strong(&v->word, &mine, left))
		return 0;
	JOBQ_HB_AFTER(v);
	return end - from;
}

/* Items left in the batches of workers other than self. Caller holds ctl, which keeps the
 * workers from being freed (reap). With most, also which of them has the most. */
static unsigned batched(struct jobq__pool *p, struct jobq__worker *self,
			struct jobq__worker **most)
{
	unsigned all = 0, best = 0;
	for (struct jobq__worker *w = p->workers; w; w = w->next) {
		unsigned left = w == self ? 0 : batch_left(&w->batch);
		all += left;
		if (most && left > best) {
			best = left;
			*most = w;
		}
	}
	return all;
}

/* Steals from the worker with the most items left, if ctl is free (a thief inside its look must
 * not wait for a pause, which holds ctl while it waits for the looks). *more: items are left in
 * other batches after it. */
static unsigned steal(struct jobq__pool *p, struct jobq__worker *self, struct jobq__item *out,
		      bool *more)
{
	if (pthread_mutex_trylock(&p->ctl))
		return 0;
	struct jobq__worker *most = NULL;
	unsigned all = batched(p, self, &most);
	unsigned n = most ? batch_steal(p, &most->batch, out) : 0;
	pthread_mutex_unlock(&p->ctl);
	*more = all > n;
	return n;
}

/* Ring prio is the only one with items: a claim there may take several without changing the
 * order in which the priorities are served (see "Batches" at the top). The other rings' lines
 * are quiet where they are not used, so this reads them from the worker's cache. */
static bool alone(struct jobq__pool *p, unsigned prio)
{
	for (unsigned i = 0; i < JOBQ__NPRIO; i++)
		if (i != prio && jobq__ring_size(&p->rings[i]))
			return false;
	return true;
}

/* The next item for worker w: its own batch first, then a claim of up to BATCH_MAX items from
 * the rings in w's pick order, then (with may_steal) half of another worker's batch. The first
 * item goes to *it, the rest into w's batch. *more: items wait in batches now, w's (which it
 * filled) or others' (which it stole from), so the caller may have to wake a worker for them. */
static bool pop(struct jobq__pool *p, struct jobq__worker *w, bool may_steal,
		struct jobq__item *it, bool *more)
{
	/* Announce the look, then check paused (ordered by announce_look): jobq__pool_pause
	 * stores paused and then waits until no worker is looking, so either it waits for this
	 * look or this look sees paused. With a plain check, a worker between the check and the
	 * ring pop took an item pushed after jobq_pause returned (found by make valgrind:
	 * test_executor's full_ring_fail_and_run). The flag is on the worker's own line. */
	announce_look(p, w);
	struct jobq__ring *r = NULL;
	bool got = false;
	*more = false;
	if (!atomic_load(&p->paused) && !(got = batch_take(p, &w->batch, it))) {
		struct jobq__item many[BATCH_MAX];
		unsigned n = 0;
		const unsigned char *order = pick_order[w->pick % 7];
		for (unsigned i = 0; i < JOBQ__NPRIO && !n; i++) {
			/* alone() reads the other rings' heads: not for an empty ring, whose
			 * others include the one the producers fill. */
			if (!jobq__ring_ready(&p->rings[order[i]]))
				continue;
			unsigned k = alone(p, order[i]) ? BATCH_MAX : 1;
			if ((n = jobq__ring_pop_many(&p->rings[order[i]], many, k)))
				r = &p->rings[order[i]];
		}
		if (!n && may_steal)
			n = steal(p, w, many, more);
		if (n) {
			*it = many[0];
			for (unsigned i = 1; i < n && i <= WARM_AHEAD; i++)
				warm(p, many[i].fn, many[i].arg);
			batch_fill(&w->batch, many + 1, n - 1);
			*more = *more || n > 1;
			got = true;
		}
	}
	/* Release: pause's acquire load of looking == 0 comes after our pop is done. */
	atomic_store_explicit(&w->looking, 0, memory_order_release);
	if (r) {
		w->pick++;
		/* A producer blocked on a full ring registers before its last look, so a seq_cst
		 * load here either sees it or the producer sees our pop. The first pop that leaves
		 * a quarter of a ring free takes every registration and wakes them all; the pops
		 * after it, made while they are still on their way back, see none. */
		if (atomic_load(&p->nroom_waiters) && roomy(r) &&
		    atomic_exchange(&p->nroom_waiters, 0)) {
			atomic_fetch_add(&p->room_word, 1);
			jobq__os_futex_wake(&p->room_word, INT_MAX);
		}
	}
	return got;
}

static void run(struct jobq__worker *w, jobq__item_fn fn, void *arg)
{
	/* The worker is the only writer of busy and done: relaxed stores suffice for stats, and
	 * drain reads done after the fence in the park path. */
	atomic_store_explicit(&w->busy, 1, memory_order_relaxed);
	fn(arg);
	atomic_store_explicit(&w->busy, 0, memory_order_relaxed);
	JOBQ_HB_BEFORE(&w->done); /* what the item did, for a drain that sees the count */
	atomic_store_explicit(&w->done, atomic_load_explicit(&w->done, memory_order_relaxed) + 1,
			      memory_order_release);
}

static void notify_drain(struct jobq__pool *p)
{
	pthread_mutex_lock(&p->drain_mu);
	pthread_cond_broadcast(&p->drain_cv);
	pthread_mutex_unlock(&p->drain_mu);
}

/* A worker leaves with its batch empty: its items are counted as pushed, not as queued. */
static bool must_leave(struct jobq__pool *p, struct jobq__worker *w)
{
	if (batch_left(&w->batch))
		return false;
	if (atomic_load_explicit(&w->leave, memory_order_acquire))
		return true;
	return atomic_load_explicit(&p->stop, memory_order_acquire) && rings_empty(p);
}

/* Work waits for a searcher: in the rings, or in the batches of workers other than self (see
 * "Batches" at the top). What a worker about to park, the last searcher to find work and a
 * leaving worker look at, so that none of them leaves items behind with nobody searching. While
 * ctl is held elsewhere the answer is yes rather than a wait for the lock: jobq__pool_fini holds
 * it while it joins the workers. */
static bool work_left(struct jobq__pool *p, struct jobq__worker *self)
{
	if (!rings_empty(p))
		return true;
	if (pthread_mutex_trylock(&p->ctl))
		return true;
	bool any = batched(p, self, NULL) > 0;
	pthread_mutex_unlock(&p->ctl);
	return any;
}

static void kick(struct jobq__pool *p);

static void *worker_main(void *arg)
{
	struct jobq__worker *w = arg;
	struct jobq__pool *p = w->pool;
	char name[16];
	struct jobq__item it;
	bool more;

	snprintf(name, sizeof name, "jobq-%u", w->serial);
	pthread_setname_np(pthread_self(), name);
	current = p;
	home = p;
	struct counted mine = {.busy = &w->busy};
	counted = &mine;

	/* After a park (woken, or the last look saw work) the worker looks again as a searcher,
	 * never with the plain pop: a producer that saw it searching relies on it to take the
	 * item or, as the last searcher, to wake another worker for what is left. */
	bool search = false; /* back from a park: counted in nsearching already */
	unsigned streak = 0; /* items run since the worker last found the rings empty */
	while (!must_leave(p, w)) {
		if (!search && pop(p, w, false, &it, &more)) {
			/* Items claimed into the batch are pushed as far as sleepers go. */
			if (more)
				kick(p);
			run(w, it.fn, it.arg);
			streak++;
			continue;
		}
		/* At most half the workers (at least one) spin; the others look once and park,
		 * leaving their CPU to the submitters (Go's scheduler caps its spinners the same
		 * way). The park path below still takes its last look, so nothing is lost. */
		int before = search ? atomic_load(&p->nsearching) - 1 : atomic_fetch_add(&p->nsearching, 1);
		search = false;
		int rounds = 2 * before < (int)atomic_load_explicit(&p->nworkers, memory_order_relaxed)
				     ? SPIN_ROUNDS
				     : 1;
		if (rounds > 1 && streak >= SLIP_STREAK)
			slip(p);
		streak = 0;
		bool found = false;
		for (int i = 0; i < rounds; i++) {
			found = pop(p, w, rounds == 1 || (i >= STEAL_AFTER && i % STEAL_EVERY == 0),
				    &it, &more);
			if (found)
				break;
			jobq__cpu_relax();
			if (i % YIELD_EVERY == YIELD_EVERY - 1)
				sched_yield();
		}
		if (found) {
			/* The last searcher to find work hands the search on if work is left, in
			 * the rings or in batches: a claimer that saw it searching woke nobody for
			 * its batch (see "Batches" at the top). */
			if (atomic_fetch_sub(&p->nsearching, 1) == 1 &&
			    atomic_load(&p->nsleepers) > 0 &&
			    (more || work_left(p, w)))
				wake_once(p);
			run(w, it.fn, it.arg);
			continue;
		}
		/* Still a searcher: an item pushed meanwhile is seen by the last look below. */
		p->idle(p);
		uint32_t key = atomic_load(&p->word);
		JOBQ_CHAOS_POINT();
		atomic_fetch_add(&p->nsleepers, 1);
		JOBQ_CHAOS_POINT();
		atomic_fetch_sub(&p->nsearching, 1);
		atomic_store(&p->waking, 0); /* no wake is in flight for anyone to wait on */
		/* Pairs with a push's seq_cst claim of head and the seq_cst loads after it in
		 * kick (either the producer sees no searcher and wakes us, or our look
		 * at the rings below sees its item) and with the fence in jobq__pool_drain (either
		 * it sees our done count, or we see that it waits). */
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load(&p->draining))
			notify_drain(p);
		bool work = !atomic_load(&p->paused) && work_left(p, w);
		JOBQ_CHAOS_POINT(); /* decided to sleep, not asleep yet */
		if (!work && !must_leave(p, w))
			jobq__os_futex_wait(&p->word, key, 0);
		/* A searcher again before the wake in flight ends; the fence pairs with a push's
		 * seq_cst claim and its seq_cst load of the flag (wake_once), so a push that saw the
		 * flag set is seen by the search. */
		atomic_fetch_add(&p->nsearching, 1);
		atomic_store(&p->waking, 0);
		atomic_thread_fence(memory_order_seq_cst);
		atomic_fetch_sub(&p->nsleepers, 1);
		search = true;
	}
	if (search)
		atomic_fetch_sub(&p->nsearching, 1);
	p->idle(p);
	/* A leaving worker may have been the searcher a producer or a claimer relied on, or the
	 * last one a drain waits for. */
	if (work_left(p, w))
		wake(p, 1);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&p->draining))
		notify_drain(p);
	atomic_store_explicit(&w->exited, 1, memory_order_release);
	return NULL;
}

/* Starts one worker. */
static int spawn(struct jobq__pool *p)
{
	struct jobq__worker *w = jobq__aligned_calloc(JOBQ_CACHELINE, sizeof *w);
	if (!w)
		return JOBQ_ENOMEM;
	w->pool = p;
	w->serial = p->serial;
	/* For helgrind: done, busy, looking, leave, exited and the batch are atomics. */
	JOBQ_HB_ATOMIC(w, offsetof(struct jobq__worker, pick));
	JOBQ_HB_ATOMIC(&w->batch, sizeof w->batch);
	int rc = jobq__os_thread(&w->thread, worker_main, w);
	if (rc) {
		jobq__free(w);
		return rc;
	}
	p->serial++;
	w->next = p->workers;
	p->workers = w;
	p->nlive++;
	atomic_store_explicit(&p->nworkers, p->nlive, memory_order_relaxed);
	return 0;
}

/* Joins and frees the workers that have left. Caller holds ctl. */
static void reap(struct jobq__pool *p, bool all)
{
	struct jobq__worker **link = &p->workers;
	while (*link) {
		struct jobq__worker *w = *link;
		if (all || atomic_load_explicit(&w->exited, memory_order_acquire)) {
			pthread_join(w->thread, NULL);
			p->done_reaped += atomic_load(&w->done);
			*link = w->next;
			jobq__free(w);
		} else {
			link = &w->next;
		}
	}
}

int jobq__pool_init(struct jobq__pool *p, unsigned workers, size_t capacity)
{
	unsigned made = 0;
	int rc = 0;
	for (; made < JOBQ__NPRIO && rc == 0; made++)
		rc = jobq__ring_init(&p->rings[made], capacity);
	if (rc) {
		while (--made > 0)
			jobq__ring_fini(&p->rings[made - 1]);
		return rc;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->drain_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&p->drain_mu, NULL);
	pthread_mutex_init(&p->ctl, NULL);
	/* Registered for every pool, not once per process: whether a child of fork(2) inherits
	 * the registration is the kernel's business, and registering is idempotent and cheap.
	 * Refused (a kernel before 4.14, a seccomp filter), the frequent sides fence
	 * themselves; so does the chaos build, so that CI runs both kinds. */
#ifdef JOBQ_CHAOS
	p->light_fences = false;
#else
	p->light_fences = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#endif
	if (!jobq__os_prefetch_write_ok())
		p->warm_fn = NULL;
	/* For helgrind: the fields from word to inline_busy are atomics (pool.h). */
	JOBQ_HB_ATOMIC(&p->word, (size_t)((char *)&p->drain_mu - (char *)&p->word));

	pthread_mutex_lock(&p->ctl);
	for (unsigned i = 0; i < workers && rc == 0; i++)
		rc = spawn(p);
	pthread_mutex_unlock(&p->ctl);
	if (rc)
		jobq__pool_fini(p);
	return rc;
}

void jobq__pool_fini(struct jobq__pool *p)
{
	atomic_store(&p->stop, 1);
	wake(p, INT_MAX);
	pthread_mutex_lock(&p->ctl);
	reap(p, true);
	pthread_mutex_unlock(&p->ctl);
	for (unsigned i = 0; i < JOBQ__NPRIO; i++)
		jobq__ring_fini(&p->rings[i]);
	pthread_mutex_destroy(&p->ctl);
	pthread_mutex_destroy(&p->drain_mu);
	pthread_cond_destroy(&p->drain_cv);
}

/* The gate's top bit: a drain sleeps on the word (wait_gate); the leave that empties it wakes. */
#define GATE_WAITED (1u << 31)

int jobq__pool_enter(struct jobq__pool *p)
{
	/* seq_cst on both sides (here and in jobq__pool_close/drain): either the drain sees us
	 * in the gate and waits, or we see closed. */
	atomic_fetch_add(&p->gate, 1);
	return atomic_load(&p->closed) ? JOBQ_ECLOSED : 0;
}

void jobq__pool_leave(struct jobq__pool *p)
{
	/* One RMW tells both whether we were the last and whether a drain sleeps, so nothing of
	 * the pool is read after it: a drain that sees the gate empty may return at once and the
	 * owner free the pool. The wake passes only the word's address to the kernel, where a
	 * freed word is harmless (glibc's mutex unlock relies on the same). */
	JOBQ_HB_BEFORE(&p->gate); /* the submit's stores, for the drain that sees it gone */
	if (atomic_fetch_sub(&p->gate, 1) == (GATE_WAITED | 1))
		jobq__os_futex_wake(&p->gate, INT_MAX);
}

/* Wakes a worker after a claim if one is needed (see the top of the file). */
static void kick(struct jobq__pool *p)
{
	JOBQ_CHAOS_POINT(); /* pushed, no wake decided yet */
	/* seq_cst loads, after the push's seq_cst claim of head: they pair with the searcher's
	 * seq_cst decrement of nsearching and its fence before its last look (see the top of
	 * the file). No fence of our own is needed. A paused pool wakes nobody: its workers
	 * would only look and park again, and a submit to it made a futex_wake for each time a
	 * worker parked (the counts: docs/BENCHMARKS.md, the twentieth round). The resume wakes
	 * them all after it stores paused = 0, so a push that read paused = 1 (seq_cst, before
	 * that store) is seen by their search. */
	if (atomic_load(&p->nsearching) == 0 && atomic_load(&p->nsleepers) > 0 &&
	    !atomic_load(&p->paused))
		wake_once(p);
}

int jobq__pool_claim(struct jobq__pool *p, unsigned prio, uint64_t *pos)
{
	JOBQ_CHAOS_POINT(); /* a close may overtake the claim here: its ring must refuse it */
	return jobq__ring_claim(&p->rings[prio], true, pos);
}

void jobq__pool_publish(struct jobq__pool *p, unsigned prio, uint64_t pos, jobq__item_fn fn,
			void *arg)
{
	/* The wake comes before the publish. Once the item is visible it may run, a drain may
	 * finish and the owner may free the pool (jobq_destroy), with no gate to hold them up;
	 * so the publish is the caller's last touch of the pool. The wake decision only needs
	 * the claim before it (see the top of the file), and a worker woken early finds the ring
	 * not empty (the claim counts) and searches until the item appears. */
	kick(p);
	JOBQ_CHAOS_POINT(); /* woken, not yet published */
	jobq__ring_publish(&p->rings[prio], pos, fn, arg);
}

int jobq__pool_post(struct jobq__pool *p, unsigned prio, jobq__item_fn fn, void *arg)
{
	uint64_t pos;
	int rc = jobq__pool_claim(p, prio, &pos);
	if (rc == 0)
		jobq__pool_publish(p, prio, pos, fn, arg);
	return rc;
}

bool jobq__pool_push(struct jobq__pool *p, unsigned prio, jobq__item_fn fn, void *arg)
{
	if (!jobq__ring_push(&p->rings[prio], fn, arg))
		return false;
	kick(p);
	return true;
}

int jobq__pool_wait_room(struct jobq__pool *p, unsigned prio, int64_t deadline_ns)
{
	struct jobq__ring *r = &p->rings[prio];
	uint32_t key = atomic_load(&p->room_word);
	atomic_fetch_add(&p->nroom_waiters, 1);
	/* Look once more after registering: a pop before our registration bumped no word. The
	 * fence pairs with the seq_cst claim in jobq__ring_pop_many. The registration is not taken
	 * back: the pop that wakes takes them all, and one left by a producer that did not
	 * sleep costs one futex_wake that finds nobody. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!roomy(r))
		jobq__os_futex_wait(&p->room_word, key, deadline_ns);
	return deadline_ns && jobq__os_now(CLOCK_MONOTONIC) >= deadline_ns ? JOBQ_ETIMEDOUT : 0;
}

void jobq__pool_run_inline(struct jobq__pool *p, jobq__item_fn fn, void *arg)
{
	struct jobq__pool *saved = current;
	struct counted *saved_counted = counted, me = {.busy = &p->inline_busy, .shared = true};
	current = p;
	counted = &me;
	atomic_fetch_add_explicit(&p->inline_busy, 1, memory_order_relaxed);
	fn(arg);
	jobq__pool_ran();
	counted = saved_counted;
	current = saved;
}

void jobq__pool_ran(void)
{
	struct counted *c = counted;
	if (!c)
		return;
	if (!c->shared) {
		atomic_store_explicit(c->busy, 0, memory_order_relaxed);
	} else if (!c->out) {
		c->out = true;
		atomic_fetch_sub_explicit(c->busy, 1, memory_order_relaxed);
	}
}

struct jobq__pool *jobq__pool_current(void)
{
	return current;
}

bool jobq__pool_is_worker(const struct jobq__pool *p)
{
	return home == p;
}

void jobq__pool_close(struct jobq__pool *p)
{
	/* Under ctl, against a pause that checked for it (jobq__pool_pause). */
	pthread_mutex_lock(&p->ctl);
	atomic_store(&p->closed, 1);
	pthread_mutex_unlock(&p->ctl);
	/* From here on the rings refuse posts; a drain, reading head after this, counts every
	 * post that got in (jobq__pool_post). */
	for (unsigned i = 0; i < JOBQ__NPRIO; i++)
		jobq__ring_close(&p->rings[i]);
}

static bool drained(struct jobq__pool *p)
{
	/* Held work first: it moves into a ring before it stops counting as held, so a drain
	 * that sees none held then sees its push. */
	if (p->held && atomic_load(p->held))
		return false;
	uint64_t all = pushed(p), done;
	pthread_mutex_lock(&p->ctl);
	done = p->done_reaped;
	for (struct jobq__worker *w = p->workers; w; w = w->next) {
		done += atomic_load_explicit(&w->done, memory_order_acquire);
		JOBQ_HB_AFTER(&w->done);
	}
	pthread_mutex_unlock(&p->ctl);
	return done == all;
}

/* Waits until no submitter is inside the gate; 0 or JOBQ_ETIMEDOUT. Called after the close, so
 * a submitter that comes later finds it and pushes nothing: once the gate is seen empty, every
 * gated push is in a ring, and stays counted by drained(). */
static int wait_gate(struct jobq__pool *p, int64_t deadline_ns)
{
	uint32_t g = atomic_fetch_or(&p->gate, GATE_WAITED) | GATE_WAITED;
	while (g != GATE_WAITED) {
		if (deadline_ns && jobq__os_now(CLOCK_MONOTONIC) >= deadline_ns)
			return JOBQ_ETIMEDOUT;
		jobq__os_futex_wait(&p->gate, g, deadline_ns);
		g = atomic_load(&p->gate);
	}
	JOBQ_HB_AFTER(&p->gate);
	return 0;
}

int jobq__pool_drain(struct jobq__pool *p, int64_t deadline_ns)
{
	int rc = wait_gate(p, deadline_ns);
	if (rc)
		return rc;
	atomic_fetch_add(&p->draining, 1);
	/* Pairs with the fence in the workers' park path. */
	atomic_thread_fence(memory_order_seq_cst);
	pthread_mutex_lock(&p->drain_mu);
	while (rc == 0 && !drained(p)) {
		if (!deadline_ns) {
			pthread_cond_wait(&p->drain_cv, &p->drain_mu);
			continue;
		}
		struct timespec ts = {deadline_ns / 1000000000, deadline_ns % 1000000000};
		if (pthread_cond_timedwait(&p->drain_cv, &p->drain_mu, &ts) && !drained(p))
			rc = JOBQ_ETIMEDOUT;
	}
	pthread_mutex_unlock(&p->drain_mu);
	atomic_fetch_sub(&p->draining, 1);
	return rc;
}

void jobq__pool_held_changed(struct jobq__pool *p)
{
	/* The caller's seq_cst decrement of *held pairs with the drain's fence. */
	if (atomic_load(&p->draining))
		notify_drain(p);
}

int jobq__pool_pause(struct jobq__pool *p, bool paused)
{
	if (!paused) {
		atomic_store(&p->paused, 0);
		wake(p, INT_MAX);
		return 0;
	}
	/* A closed pool is not paused again: its shutdown resumes it once, after its cancel
	 * sweep, and then drains; a pause after that would keep the drain waiting for ever. The
	 * check and the store are under ctl, as the close is, so a pause either comes before the
	 * close (and the shutdown resumes it) or sees it. */
	pthread_mutex_lock(&p->ctl);
	if (atomic_load(&p->closed)) {
		pthread_mutex_unlock(&p->ctl);
		return JOBQ_ECLOSED;
	}
	atomic_store(&p->paused, 1);
	jobq__pool_fence_all(p);
	/* Wait out the looks that began before paused was set (see pop()); a look never blocks,
	 * so this is short, and a worker calling this from inside a job is not looking. */
	for (struct jobq__worker *w = p->workers; w; w = w->next)
		while (atomic_load_explicit(&w->looking, memory_order_acquire))
			jobq__cpu_relax();
	pthread_mutex_unlock(&p->ctl);
	return 0;
}

int jobq__pool_set_workers(struct jobq__pool *p, unsigned n)
{
	int rc = 0;
	pthread_mutex_lock(&p->ctl);
	reap(p, false);
	while (p->nlive < n && rc == 0)
		rc = spawn(p);
	if (p->nlive > n) {
		unsigned extra = p->nlive - n;
		for (struct jobq__worker *w = p->workers; w && extra; w = w->next) {
			if (!atomic_load(&w->leave)) {
				atomic_store(&w->leave, 1);
				extra--;
			}
		}
		p->nlive = n;
		atomic_store_explicit(&p->nworkers, n, memory_order_relaxed);
		wake(p, INT_MAX);
	}
	pthread_mutex_unlock(&p->ctl);
	return rc;
}

void jobq__pool_stats(struct jobq__pool *p, struct jobq__pool_stats *out)
{
	out->queued = 0;
	for (unsigned i = 0; i < JOBQ__NPRIO; i++) {
		out->queued += jobq__ring_size(&p->rings[i]);
		out->pushed[i] = jobq__ring_pushed(&p->rings[i]);
	}
	out->running = (uint64_t)atomic_load(&p->inline_busy);
	pthread_mutex_lock(&p->ctl);
	out->workers = p->nlive;
	for (struct jobq__worker *w = p->workers; w; w = w->next) {
		out->running += (uint64_t)atomic_load_explicit(&w->busy, memory_order_relaxed);
		out->queued += batch_left(&w->batch);
	}
	pthread_mutex_unlock(&p->ctl);
}
