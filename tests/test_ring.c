/*
 * test_ring.c: the MPMC ring alone: tiny and large capacities, full and empty, many laps,
 * several producers and consumers where every item is tagged and must be seen exactly once, and
 * a close racing producers, after which exactly the pushes that got in are there.
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

static void check_capacity(size_t asked, size_t expect)
{
	struct jobq__ring r;
	jobq__item_fn fn;
	void *arg;
	ck_assert_int_eq(jobq__ring_init(&r, asked), 0);
	ck_assert_uint_eq(r.mask + 1, expect);
	ck_assert(!jobq__ring_pop(&r, &fn, &arg));
	/* Fill, fail one more, then empty in order; many laps so positions wrap the slots. */
	uintptr_t laps = expect < 64 ? 1000 : 20;
	for (uintptr_t lap = 0; lap < laps; lap++) {
		for (uintptr_t i = 0; i < expect; i++)
			TEST_CHECK(jobq__ring_push(&r, noop, (void *)(lap * expect + i)));
		ck_assert(!jobq__ring_push(&r, noop, NULL));
		ck_assert_uint_eq(jobq__ring_size(&r), expect);
		for (uintptr_t i = 0; i < expect; i++) {
			TEST_CHECK(jobq__ring_pop(&r, &fn, &arg));
			TEST_CHECK(fn == noop && (uintptr_t)arg == lap * expect + i);
		}
		ck_assert(!jobq__ring_pop(&r, &fn, &arg));
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

static void *consumer(void *p)
{
	struct mpmc *m = p;
	jobq__item_fn fn;
	void *arg;
	for (;;) {
		if (jobq__ring_pop(&m->ring, &fn, &arg)) {
			atomic_fetch_add(&m->seen[(uintptr_t)arg], 1);
			atomic_fetch_add(&m->consumed, 1);
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
	struct worker_arg wa[PRODUCERS];

	ck_assert_int_eq(jobq__ring_init(&m.ring, capacity), 0);
	m.seen = calloc(total, 1);
	ck_assert_ptr_nonnull(m.seen);
	atomic_store(&m.producers_left, PRODUCERS);
	for (unsigned i = 0; i < CONSUMERS; i++)
		ck_assert_int_eq(pthread_create(&ct[i], NULL, consumer, &m), 0);
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
	jobq__item_fn fn;
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
		ck_assert(jobq__ring_pop(&r, &fn, &arg));
		ck_assert_uint_eq((uintptr_t)arg, i);
	}
	ck_assert(!jobq__ring_pop(&r, &fn, &arg));
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
	jobq__item_fn fn;
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
		if (jobq__ring_pop(&m.ring, &fn, &arg))
			popped++;
		else
			sched_yield(); /* under valgrind, the producers' turn */
	}
	jobq__ring_close(&m.ring);
	uint64_t pushed = jobq__ring_pushed(&m.ring);
	while (jobq__ring_pop(&m.ring, &fn, &arg))
		popped++;
	for (unsigned i = 0; i < PRODUCERS; i++)
		pthread_join(pt[i], NULL);
	/* Every push that returned 0 was counted by the one read of head after the close, and
	 * was there to pop; none came after it. */
	ck_assert_uint_eq(atomic_load(&m.consumed), pushed);
	ck_assert_uint_eq(popped, pushed);
	ck_assert(!jobq__ring_pop(&m.ring, &fn, &arg));
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
