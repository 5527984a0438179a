/*
 * testutil.h: what every Check suite shares: a main() that runs one suite and exits with its
 * result, and a latch (a one-shot gate) for making threads meet without sleeping. Suites define
 * `Suite *suite(void)`.
 */
#ifndef JOBQ_TESTUTIL_H
#define JOBQ_TESTUTIL_H

#include <check.h>
#include <pthread.h>
#include <stdlib.h>

/* A count-down latch: latch_wait returns once latch_arrive was called `count` times. */
struct latch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int count;
};

static inline void latch_init(struct latch *l, int count)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->count = count;
}

static inline void latch_arrive(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	if (l->count > 0 && --l->count == 0)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static inline void latch_wait(struct latch *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->count > 0)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

static inline void latch_destroy(struct latch *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
}

Suite *suite(void);

#define JOBQ_TEST_MAIN()                                              \
	int main(void)                                                \
	{                                                             \
		SRunner *sr = srunner_create(suite());                \
		srunner_run_all(sr, CK_NORMAL);                       \
		int failed = srunner_ntests_failed(sr);               \
		srunner_free(sr);                                     \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;          \
	}

#endif
