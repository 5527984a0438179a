/*
 * ring.c: the bounded lock-free MPMC ring that feeds the workers (Dmitry Vyukov's algorithm).
 *
 * Each slot carries a sequence number. A slot at position p is free for the producer that claims
 * p when seq == 2p, and holds an item for the consumer that claims p when seq == 2p + 1; the
 * consumer hands it back for position p + capacity by storing 2(p + capacity). (Vyukov's
 * original uses p and p + 1, which cannot tell "full" from "free" when the capacity is 1.)
 * Producers claim positions by CAS on head, consumers on tail; the two counters live on
 * separate 128-byte lines so producers and consumers do not share a line. Positions are 64-bit
 * and never reach 2^63 in practice (2^63 items at 10^9 a second is 292 years); they are
 * compared by signed difference anyway.
 *
 * Closing sets head's top bit. A claim that may be refused sees it, in the same word it claims
 * from, and returns without claiming; so every such push that got in claimed its position
 * before the close, and whoever reads head after the close counts it. That is what lets the
 * pool take fire-and-forget items with no gate of its own (pool.c).
 *
 * Contention: a CAS on head or tail that fails lost to a thread that now holds the counter's
 * line, and is about to write its slot. Losing once is ordinary (two threads came at the same
 * moment), and the loser tries again at once. Losing again means the other thread is taking
 * items back to back; trying again at once pulls both lines back while the winner still works
 * on them, and the two then trade lines on every item. So from the second loss in a row the
 * loser backs off, 4 pauses, then twice as many each time up to 128 (about 0.1 to 3.3 µs at
 * 26 ns a PAUSE). In interleaved bench -x runs (docs/BENCHMARKS.md, the ninth round) two
 * workers ran empty posts at a median of 20.1 M/s against 8.5 without it (four submitters:
 * 14.8 against 9.6), and jobs of 200 ns at 3.86 against 3.84; a first pause of 16 on the first
 * loss gave the empty posts as much but cost jobs of 200 ns a tenth (3.36 against 3.74).
 *
 * Threads: any number of producers and consumers at once. It knows nothing of jobs or threads,
 * and never waits: a full ring fails the push, an empty one the pop; the pool decides what to do.
 *
 * Not taken: a linked MPSC queue (unbounded memory, one allocation per item) and a mutex-guarded
 * deque (GLib's GAsyncQueue): the ring is bounded and allocation-free.
 */
#include "ring.h"

#include "alloc.h"
#include "chaos.h"
#include "hb.h"
#include "jobq.h"
#include "os.h"

/* Set in head by jobq__ring_close; positions stay below it (see above). */
#define RING_CLOSED (UINT64_C(1) << 63)

/* After a lost CAS (see above): none after the first loss of a call, BACKOFF_FIRST pauses
 * after the second, doubling up to BACKOFF_MAX. *pauses starts at 0. */
#define BACKOFF_FIRST 4
#define BACKOFF_MAX 128

static void back_off(unsigned *pauses)
{
	for (unsigned k = 0; k < *pauses; k++)
		jobq__cpu_relax();
	*pauses = !*pauses ? BACKOFF_FIRST : *pauses < BACKOFF_MAX ? 2 * *pauses : BACKOFF_MAX;
}

int jobq__ring_init(struct jobq__ring *r, size_t capacity)
{
	size_t cap = 1;
	while (cap < capacity)
		cap <<= 1;
	r->slots = jobq__calloc(cap, sizeof *r->slots);
	if (!r->slots)
		return JOBQ_ENOMEM;
	for (size_t i = 0; i < cap; i++)
		atomic_init(&r->slots[i].seq, 2 * i);
	r->mask = cap - 1;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	/* For helgrind: head, tail and the slots stay out of its checks (seq is an atomic, and fn
	 * and arg travel with it); what an item points to is handed over by the annotated publish
	 * below. test_ring and ThreadSanitizer check the ring itself. */
	JOBQ_HB_ATOMIC(&r->head, sizeof r->head);
	JOBQ_HB_ATOMIC(&r->tail, sizeof r->tail);
	JOBQ_HB_ATOMIC(r->slots, cap * sizeof *r->slots);
	return 0;
}

void jobq__ring_fini(struct jobq__ring *r)
{
	jobq__free(r->slots);
	r->slots = NULL;
}

int jobq__ring_claim(struct jobq__ring *r, bool refuse_closed, uint64_t *pos)
{
	/* Relaxed: the head value is only a guess that the CAS below validates. Once the ring is
	 * closed every head value has RING_CLOSED set, so a guess from before fails the CAS. */
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned pauses = 0;
	for (;;) {
		if ((head & RING_CLOSED) && refuse_closed)
			return JOBQ_ECLOSED;
		uint64_t at = head & ~RING_CLOSED;
		/* Acquire pairs with the consumer's release of seq: the slot's old contents were
		 * read before we overwrite them. */
		uint64_t seq = atomic_load_explicit(&r->slots[at & r->mask].seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - 2 * at);
		if (dif == 0) {
			/* Claiming the position publishes nothing (the release store of seq in
			 * jobq__ring_publish does), but it is seq_cst: the pool's wake decision
			 * after a claim reads nsearching with seq_cst loads and relies on this CAS
			 * being before them in the single total order, against a parking worker
			 * that looks at head after its own seq_cst fence (pool.c). On x86 a locked
			 * CAS costs the same either way. */
			if (atomic_compare_exchange_weak_explicit(&r->head, &head, head + 1,
								  memory_order_seq_cst,
								  memory_order_relaxed)) {
				*pos = at;
				return 0;
			}
			back_off(&pauses); /* head is the winner's now */
		} else if (dif < 0) {
			return JOBQ_EAGAIN; /* the slot still holds the item of the previous lap */
		} else {
			head = atomic_load_explicit(&r->head, memory_order_relaxed);
		}
	}
}

void jobq__ring_publish(struct jobq__ring *r, uint64_t pos, jobq__item_fn fn, void *arg)
{
	struct jobq__slot *s = &r->slots[pos & r->mask];
	s->fn = fn;
	s->arg = arg;
	/* Release pairs with the consumer's acquire load of seq: it sees fn and arg once it sees
	 * 2pos + 1. */
	JOBQ_HB_BEFORE(s);
	atomic_store_explicit(&s->seq, 2 * pos + 1, memory_order_release);
}

bool jobq__ring_push(struct jobq__ring *r, jobq__item_fn fn, void *arg)
{
	uint64_t pos;
	if (jobq__ring_claim(r, false, &pos))
		return false;
	JOBQ_CHAOS_POINT(); /* claimed, not yet published */
	jobq__ring_publish(r, pos, fn, arg);
	return true;
}

void jobq__ring_close(struct jobq__ring *r)
{
	atomic_fetch_or(&r->head, RING_CLOSED);
}

unsigned jobq__ring_pop_many(struct jobq__ring *r, struct jobq__item *out, unsigned k)
{
	uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned pauses = 0;
	for (;;) {
		/* Acquire pairs with the producer's release store of seq = 2pos + 1. */
		uint64_t seq = atomic_load_explicit(&r->slots[pos & r->mask].seq, memory_order_acquire);
		int64_t dif = (int64_t)(seq - (2 * pos + 1));
		if (dif < 0)
			return 0; /* empty, or the producer of pos has not published yet */
		if (dif > 0) {
			pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
			continue;
		}
		/* The items published in a row after pos: each slot's seq is distinct per lap, so
		 * a ring shorter than k stops the count where it comes round to pos again. Only the
		 * consumer that claims a position moves its seq on, so they stay published until
		 * the claim below, or it fails. */
		unsigned n = 1;
		while (n < k && atomic_load_explicit(&r->slots[(pos + n) & r->mask].seq,
						     memory_order_acquire) == 2 * (pos + n) + 1)
			n++;
		/* seq_cst on success pairs with the fence of a producer waiting for room
		 * (pool.c): it sees this pop, or the pop's caller sees it waiting. On x86 a locked
		 * CAS costs the same either way. */
		if (atomic_compare_exchange_weak_explicit(&r->tail, &pos, pos + n, memory_order_seq_cst,
							  memory_order_relaxed)) {
			JOBQ_CHAOS_POINT(); /* claimed, not yet read */
			for (unsigned i = 0; i < n; i++) {
				struct jobq__slot *s = &r->slots[(pos + i) & r->mask];
				JOBQ_HB_AFTER(s); /* the producer's writes before its publish */
				out[i].fn = s->fn;
				out[i].arg = s->arg;
				/* Release pairs with the producer's acquire load of seq: our reads
				 * of fn and arg happen before the slot is reused a lap later. */
				atomic_store_explicit(&s->seq, 2 * (pos + i + r->mask + 1),
						      memory_order_release);
			}
			return n;
		}
		back_off(&pauses); /* pos is the winner's tail now */
	}
}

bool jobq__ring_ready(const struct jobq__ring *r)
{
	uint64_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
	return atomic_load_explicit(&r->slots[pos & r->mask].seq, memory_order_relaxed) ==
	       2 * pos + 1;
}

uint64_t jobq__ring_size(const struct jobq__ring *r)
{
	/* Tail first: read the other way round, a pop between the loads could make tail pass the
	 * head we read and the difference wrap. seq_cst (a plain load on x86, as acquire is on
	 * ARMv8): a worker's last look before it parks, or after it hands the search on, must see
	 * a push whose seq_cst claim of head came before its own seq_cst operations (pool.c). */
	uint64_t tail = atomic_load(&r->tail);
	uint64_t head = atomic_load(&r->head) & ~RING_CLOSED;
	return head - tail <= r->mask + 1 ? head - tail : r->mask + 1;
}

uint64_t jobq__ring_pushed(const struct jobq__ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) & ~RING_CLOSED;
}
