/*
 * mpool.c: a plain mutex + condvar pool (see mpool.h). The queue is a power-of-two circular
 * array that doubles when full, so a post allocates nothing in the steady state; a worker is
 * signalled only when one is waiting.
 */
#include "mpool.h"

#include <pthread.h>
#include <stdlib.h>

struct item {
	void (*fn)(void *);
	void *arg;
};

struct mpool {
	pthread_mutex_t mu;
	pthread_cond_t work_cv, idle_cv;
	struct item *q;
	unsigned long head, tail, cap; /* items are q[tail..head) mod cap */
	unsigned idle, active, nthreads;
	int stop;
	pthread_t *threads;
};

static void *worker(void *arg)
{
	struct mpool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->head == p->tail && !p->stop) {
			p->idle++;
			pthread_cond_wait(&p->work_cv, &p->mu);
			p->idle--;
		}
		if (p->head == p->tail)
			break;
		struct item it = p->q[p->tail++ & (p->cap - 1)];
		p->active++;
		pthread_mutex_unlock(&p->mu);
		it.fn(it.arg);
		pthread_mutex_lock(&p->mu);
		if (--p->active == 0 && p->head == p->tail)
			pthread_cond_broadcast(&p->idle_cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct mpool *mpool_create(unsigned workers)
{
	struct mpool *p = calloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work_cv, NULL);
	pthread_cond_init(&p->idle_cv, NULL);
	p->cap = 1024;
	p->q = malloc(p->cap * sizeof *p->q);
	p->threads = calloc(workers, sizeof *p->threads);
	p->nthreads = workers;
	for (unsigned i = 0; i < workers; i++)
		pthread_create(&p->threads[i], NULL, worker, p);
	return p;
}

void mpool_post(struct mpool *p, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&p->mu);
	if (p->head - p->tail == p->cap) { /* full: double, unrolling the wrapped part */
		struct item *nq = malloc(2 * p->cap * sizeof *nq);
		if (!nq)
			abort();
		for (unsigned long i = p->tail; i != p->head; i++)
			nq[i & (2 * p->cap - 1)] = p->q[i & (p->cap - 1)];
		free(p->q);
		p->q = nq;
		p->cap *= 2;
	}
	p->q[p->head++ & (p->cap - 1)] = (struct item){fn, arg};
	if (p->idle)
		pthread_cond_signal(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
}

void mpool_drain(struct mpool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->head != p->tail || p->active)
		pthread_cond_wait(&p->idle_cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void mpool_destroy(struct mpool *p)
{
	mpool_drain(p);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->work_cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	free(p->q);
	free(p);
}

unsigned long mpool_item_size(void)
{
	return sizeof(struct item);
}
