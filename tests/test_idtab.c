/*
 * test_idtab.c: the table of records by id alone, against a plain array as the reference:
 * random puts and deletes over a sliding window of ids (the registry's pattern) with long-lived
 * stragglers, growth, deletes that wrap the end of the array, and allocation failure.
 */
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "idtab.h"
#include "testutil.h"

enum { SPAN = 1 << 14 };

static uint64_t rnd_state = 88172645463325252ull;

/* Every id in [lo, hi) is in t exactly when live[id % SPAN] says so, with its own address. */
static void check_all(const struct jobq__idtab *t, const unsigned char *live, uint64_t lo,
		      uint64_t hi, uint32_t n)
{
	ck_assert_uint_eq(t->n, n);
	for (uint64_t id = lo; id < hi; id++) {
		void *rec = jobq__idtab_get(t, id);
		void *want = live[id % SPAN] ? (void *)(uintptr_t)(id * 8) : NULL;
		if (rec != want)
			ck_abort_msg("id %llu: found %p, want %p", (unsigned long long)id, rec, want);
	}
}

/* Ids of one shard (16 apart), a window that slides: new ids at the top, most deleted soon
 * after, one in 50 kept much longer, deletes in random order inside the window. */
static void slide(unsigned stride, unsigned window, unsigned rounds)
{
	struct jobq__idtab t = {0};
	unsigned char *live = calloc(SPAN, 1);
	uint64_t lo = stride, hi = stride;
	uint32_t n = 0;
	for (unsigned r = 0; r < rounds; r++) {
		if (hi - lo < (uint64_t)window * stride || test_rnd(&rnd_state) % 3) {
			TEST_CHECK(jobq__idtab_put(&t, hi, (void *)(uintptr_t)(hi * 8)) == 0);
			live[hi % SPAN] = 1;
			n++;
			hi += stride;
		} else {
			uint64_t id = lo + (test_rnd(&rnd_state) % ((hi - lo) / stride)) * stride;
			void *want = live[id % SPAN] ? (void *)(uintptr_t)(id * 8) : NULL;
			bool straggle = test_rnd(&rnd_state) % 50 == 0 && id - lo < (uint64_t)SPAN / 2;
			if (!straggle || id == lo) {
				TEST_CHECK(jobq__idtab_del(&t, id) == want);
				n -= want != NULL;
				live[id % SPAN] = 0;
			}
		}
		while (lo < hi && !live[lo % SPAN])
			lo += stride;
		if (hi - lo >= (uint64_t)SPAN / 2) { /* the reference's reach: retire the oldest */
			TEST_CHECK(jobq__idtab_del(&t, lo) == (void *)(uintptr_t)(lo * 8));
			live[lo % SPAN] = 0;
			n--;
		}
		if (r % 4096 == 0)
			check_all(&t, live, lo, hi, n);
	}
	check_all(&t, live, lo, hi, n);
	/* Load never above one half. */
	ck_assert_uint_le((uint64_t)t.n * 2, (uint64_t)t.mask + 1);
	jobq__idtab_fini(&t);
	free(live);
}

START_TEST(sliding_window_one_shard)
{
	slide(16, 300, 400000);
}
END_TEST

START_TEST(sliding_window_consecutive)
{
	slide(1, 2000, 400000);
}
END_TEST

START_TEST(empty_and_unknown)
{
	struct jobq__idtab t = {0};
	ck_assert_ptr_null(jobq__idtab_get(&t, 7));
	ck_assert_ptr_null(jobq__idtab_del(&t, 7));
	ck_assert_int_eq(jobq__idtab_put(&t, 7, &t), 0);
	ck_assert_ptr_null(jobq__idtab_get(&t, 23));
	ck_assert_ptr_null(jobq__idtab_del(&t, 23));
	ck_assert_ptr_eq(jobq__idtab_del(&t, 7), &t);
	ck_assert_uint_eq(t.n, 0);
	jobq__idtab_fini(&t);
	jobq__idtab_fini(&t);
}
END_TEST

/* A refused growth leaves the table as it was: everything still found, the put not made. */
START_TEST(growth_failure)
{
	struct jobq__idtab t = {0};
	jobq__alloc_fail_nth(1);
	ck_assert_int_eq(jobq__idtab_put(&t, 16, (void *)16), JOBQ_ENOMEM);
	jobq__alloc_fail_nth(0);
	ck_assert_uint_eq(t.n, 0);
	uint64_t id = 16;
	for (;; id += 16) {
		jobq__alloc_fail_nth(1);
		int rc = jobq__idtab_put(&t, id, (void *)(uintptr_t)id);
		jobq__alloc_fail_nth(0);
		if (rc) {
			ck_assert_int_eq(rc, JOBQ_ENOMEM);
			break;
		}
	}
	ck_assert_uint_eq(t.n, (t.mask + 1) / 2);
	for (uint64_t k = 16; k < id; k += 16)
		ck_assert_ptr_eq(jobq__idtab_get(&t, k), (void *)(uintptr_t)k);
	ck_assert_ptr_null(jobq__idtab_get(&t, id));
	ck_assert_int_eq(jobq__idtab_put(&t, id, (void *)(uintptr_t)id), 0);
	ck_assert_ptr_eq(jobq__idtab_get(&t, id), (void *)(uintptr_t)id);
	jobq__idtab_fini(&t);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("idtab");
	TCase *tc = tcase_create("idtab");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, empty_and_unknown);
	tcase_add_test(tc, sliding_window_one_shard);
	tcase_add_test(tc, sliding_window_consecutive);
	tcase_add_test(tc, growth_failure);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
