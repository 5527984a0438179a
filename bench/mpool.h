/*
 * mpool.h: the plain mutex + condition-variable thread pool that bench/ compares jobq with: one
 * lock around a growable circular array of (function, argument) pairs, one condvar for idle
 * workers, one for drain. What most hand-written pools look like. Benchmark code, not libjobq.
 */
#ifndef BENCH_MPOOL_H
#define BENCH_MPOOL_H

struct mpool;

struct mpool *mpool_create(unsigned workers);
/* Queues fn(arg); never fails short of running out of memory (then aborts). */
void mpool_post(struct mpool *p, void (*fn)(void *), void *arg);
/* Waits until nothing is queued or running. */
void mpool_drain(struct mpool *p);
/* Drains, stops and joins the workers, frees the pool. */
void mpool_destroy(struct mpool *p);
/* Bytes of queue per queued item. */
unsigned long mpool_item_size(void);

#endif
