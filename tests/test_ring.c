/*
 * test_ring.c: the MPMC ring alone: tiny and large capacities, full and empty, many laps,
 * claims of one item and of several, several producers and consumers (claiming 1 to 32 items at
 * a time) where every item is tagged and must be seen exactly once, and a close racing
 * producers, after which exactly the pushes that got in are there.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "jobq.h"
#include "ring.h"
#include "testutil.h"

static void noop(void *arg)
{
	(void)arg;
}

/* Pops one item into *arg (its function must be noop); false when there is none. */
static bool pop_one(struct jobq__ring *r, void **arg)
{
	struct jobq__item it;
	if (!jobq__ring_pop_many(r, &it, 1))
		return false;
	TEST_CHECK(it.fn == noop);
	*arg = it.arg;
	return true;
}

static void check_capacity(size_t asked, size_t expect)
{
	struct jobq__ring r;
	void *arg;
	struct jobq__item many[64];
	ck_assert_int_eq(jobq__ring_init(&r, asked), 0);
	ck_assert_uint_eq(r.mask + 1, expect);
	ck_assert(!pop_one(&r, &arg));
	ck_assert(!jobq__ring_ready(&r));
	/* Fill, fail one more, then empty in order, every other lap one item at a time and in
	 * claims of up to 64 (more than a small ring holds: the claim stops where it comes round);
	 * many laps so positions wrap the slots. */
	uintptr_t laps = expect < 64 ? 1000 : 20;
	for (uintptr_t lap = 0; lap < laps; lap++) {
		for (uintptr_t i = 0; i < expect; i++)
			TEST_CHECK(jobq__ring_push(&r, noop, (void *)(lap * expect + i)));
		ck_assert(!jobq__ring_push(&r, noop, NULL));
		ck_assert_uint_eq(jobq__ring_size(&r), expect);
		ck_assert(jobq__ring_ready(&r));
		for (uintptr_t i = 0; i < expect;) {
			if (lap % 2 == 0) {
				TEST_CHECK(pop_one(&r, &arg));
				TEST_CHECK((uintptr_t)arg == lap * expect + i);
				i++;
				continue;
			}
			unsigned n = jobq__ring_pop_many(&r, many, 64);
			TEST_CHECK(n == (expect - i < 64 ? expect - i : 64));
			for (unsigned k = 0; k < n; k++, i++)
				TEST_CHECK(many[k].fn == noop && (uintptr_t)many[k].arg == lap * expect + i);
		}
		ck_assert(!pop_one(&r, &arg));
		ck_assert(!jobq__ring_ready(&r));
		ck_assert_uint_eq(jobq__ring_size(&r), 0);
	}
	ck_assert_uint_eq(jobq__ring_pushed(&r), laps * expect);
	jobq__ring_fini(&r);
}

START_TEST(capacity_one)
{
	check_capacity(0, 1);
	check_capacity(1, 1);
}
END_TEST

START_TEST(capacity_two)
{
	check_capacity(2, 2);
	check_capacity(3, 4);
}
END_TEST

START_TEST(capacity_large)
{
	check_capacity(4096, 4096);
	check_capacity(5000, 8192);
}
END_TEST

#define PRODUCERS 4
#define CONSUMERS 4
#define PER_PRODUCER 200000

struct mpmc {
	struct jobq__ring ring;
	_Atomic unsigned char *seen;
	_Atomic uint64_t consumed;
	_Atomic int producers_left;
	unsigned id;
};

struct worker_arg {
	struct mpmc *m;
	unsigned id;
};

static void *producer(void *p)
{
	struct worker_arg *w = p;
	for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
		uintptr_t tag = (uintptr_t)w->id * PER_PRODUCER + i;
		while (!jobq__ring_push(&w->m->ring, noop, (void *)tag))
			sched_yield();
	}
	atomic_fetch_sub(&w->m->producers_left, 1);
	return NULL;
}

/* Consumer i claims up to claim_sizes[i] items at a time. */
static const unsigned claim_sizes[] = {1, 2, 7, 32};
_Static_assert(sizeof claim_sizes / sizeof claim_sizes[0] == CONSUMERS, "one size a consumer");

static void *consumer(void *p)
{
	struct worker_arg *w = p;
	struct mpmc *m = w->m;
	struct jobq__item many[32];
	for (;;) {
		unsigned n = jobq__ring_pop_many(&m->ring, many, claim_sizes[w->id]);
		if (n) {
			for (unsigned k = 0; k < n; k++)
				atomic_fetch_add(&m->seen[(uintptr_t)many[k].arg], 1);
			atomic_fetch_add(&m->consumed, n);
		} else if (atomic_load(&m->producers_left) == 0 && jobq__ring_size(&m->ring) == 0) {
			return NULL;
		} else {
			sched_yield();
		}
	}
}

static void run_mpmc(size_t capacity)
{
	struct mpmc m = {0};
	const size_t total = (size_t)PRODUCERS * PER_PRODUCER;
	pthread_t pt[PRODUCERS], ct[CONSUMERS];
	struct worker_arg wa[PRODUCERS], ca[CONSUMERS];

	ck_assert_int_eq(jobq__ring_init(&m.ring, capacity), 0);
	m.seen = calloc(total, 1);
	ck_assert_ptr_nonnull(m.seen);
	atomic_store(&m.producers_left, PRODUCERS);
	for (unsigned i = 0; i < CONSUMERS; i++) {
		ca[i] = (struct worker_arg){&m, i};
		ck_assert_int_eq(pthread_create(&ct[i], NULL, consumer, &ca[i]), 0);
	}
	for (unsigned i = 0; i < PRODUCERS; i++) {
		wa[i] = (struct worker_arg){&m, i};
		ck_assert_int_eq(pthread_create(&pt[i], NULL, producer, &wa[i]), 0);
	}
	for (unsigned i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	for (unsigned i = 0; i < CONSUMERS; i++)
		pthread_join(ct[i], NULL);
	ck_assert_uint_eq(atomic_load(&m.consumed), total);
	for (size_t i = 0; i < total; i++)
		if (atomic_load(&m.seen[i]) != 1)
			ck_abort_msg("item %zu seen %u times", i, (unsigned)atomic_load(&m.seen[i]));
	free((void *)m.seen);
	jobq__ring_fini(&m.ring);
}

START_TEST(mpmc_small_ring)
{
	run_mpmc(2);
}
END_TEST

START_TEST(mpmc_large_ring)
{
	run_mpmc(1024);
}
END_TEST

/* A push that the close refuses: a claim with refuse_closed, then the publish. */
static int refusable_push(struct jobq__ring *r, void *arg)
{
	uint64_t pos;
	int rc = jobq__ring_claim(r, true, &pos);
	if (rc == 0)
		jobq__ring_publish(r, pos, noop, arg);
	return rc;
}

START_TEST(close_refuses_only_refusable_pushes)
{
	struct jobq__ring r;
	void *arg;
	ck_assert_int_eq(jobq__ring_init(&r, 4), 0);
	for (uintptr_t i = 0; i < 3; i++)
		ck_assert_int_eq(refusable_push(&r, (void *)i), 0);
	jobq__ring_close(&r);
	ck_assert_int_eq(refusable_push(&r, NULL), JOBQ_ECLOSED);
	ck_assert_uint_eq(jobq__ring_size(&r), 3);
	ck_assert_uint_eq(jobq__ring_pushed(&r), 3);
	/* A push that may come after the close goes on, full ring and all. */
	ck_assert(jobq__ring_push(&r, noop, (void *)3));
	ck_assert(!jobq__ring_push(&r, noop, NULL));
	ck_assert_int_eq(refusable_push(&r, NULL), JOBQ_ECLOSED);
	ck_assert_uint_eq(jobq__ring_size(&r), 4);
	for (uintptr_t i = 0; i < 4; i++) {
		ck_assert(pop_one(&r, &arg));
		ck_assert_uint_eq((uintptr_t)arg, i);
	}
	ck_assert(!pop_one(&r, &arg));
	ck_assert_uint_eq(jobq__ring_size(&r), 0);
	ck_assert(jobq__ring_push(&r, noop, (void *)4));
	ck_assert_uint_eq(jobq__ring_pushed(&r), 5);
	jobq__ring_fini(&r);
}
END_TEST

/* Pushes tagged items until the ring refuses; counts those that got in. */
static void *pusher_until_closed(void *p)
{
	struct worker_arg *w = p;
	for (uintptr_t i = 0;; i++) {
		int rc;
		while ((rc = refusable_push(&w->m->ring, (void *)(w->id * PER_PRODUCER + i))) ==
		       JOBQ_EAGAIN)
			sched_yield();
		if (rc == JOBQ_ECLOSED)
			break;
		ck_assert_int_eq(rc, 0);
		ck_assert_uint_lt(i + 1, PER_PRODUCER);
		atomic_fetch_add(&w->m->consumed, 1); /* here: pushes that got in */
	}
	atomic_fetch_sub(&w->m->producers_left, 1);
	return NULL;
}

START_TEST(close_racing_producers)
{
	struct mpmc m = {0};
	pthread_t pt[PRODUCERS];
	struct worker_arg wa[PRODUCERS];
	void *arg;
	ck_assert_int_eq(jobq__ring_init(&m.ring, 1024), 0);
	atomic_store(&m.producers_left, PRODUCERS);
	for (unsigned i = 0; i < PRODUCERS; i++) {
		wa[i] = (struct worker_arg){&m, i};
		ck_assert_int_eq(pthread_create(&pt[i], NULL, pusher_until_closed, &wa[i]), 0);
	}
	/* The main thread pops for a while, so that the ring laps, then closes it under the
	 * producers' feet and takes what is left. */
	uint64_t popped = 0;
	while (popped < 5000) {
		if (pop_one(&m.ring, &arg))
			popped++;
		else
			sched_yield(); /* under valgrind, the producers' turn */
	}
	jobq__ring_close(&m.ring);
	uint64_t pushed = jobq__ring_pushed(&m.ring);
	/* Joined first: a producer may have claimed a slot before the close and not yet
	 * published it, and a pop stops at such a slot. */
	for (unsigned i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	while (pop_one(&m.ring, &arg))
		popped++;
	/* Every push that returned 0 was counted by the one read of head after the close, and
	 * was there to pop; none came after it. */
	ck_assert_uint_eq(atomic_load(&m.consumed), pushed);
	ck_assert_uint_eq(popped, pushed);
	ck_assert(!pop_one(&m.ring, &arg));
	jobq__ring_fini(&m.ring);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("single thread");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, capacity_one);
	tcase_add_test(tc, capacity_two);
	tcase_add_test(tc, capacity_large);
	tcase_add_test(tc, close_refuses_only_refusable_pushes);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, mpmc_small_ring);
	tcase_add_test(tc, mpmc_large_ring);
	tcase_add_test(tc, close_racing_producers);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
