/*
 * events.h: job events for subscribers (see events.c). Internal to libjobq.
 */
#ifndef JOBQ_EVENTS_H
#define JOBQ_EVENTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "jobq.h"

struct jobq__events {
	pthread_rwlock_t list_lock; /* guards subs */
	struct jobq_sub *subs;
	_Atomic int nsubs; /* read without the lock by publishers: zero means nothing to do */

	/* The event thread, started by the first callback subscription. */
	pthread_mutex_t mu; /* guards the fields below */
	pthread_cond_t cv;
	bool started, stop, pending;
	pthread_t thread;
	struct jobq_sub *delivering; /* the subscription whose callbacks run now */
};

void jobq__events_init(struct jobq__events *e);
/* Ends every subscription and stops the event thread. */
void jobq__events_fini(struct jobq__events *e);

/* False when nobody subscribes: one relaxed load, to skip building events at all. */
static inline bool jobq__events_wanted(struct jobq__events *e)
{
	return atomic_load_explicit(&e->nsubs, memory_order_relaxed) != 0;
}

/* The events of the executor whose event thread is the calling thread, or NULL. */
struct jobq__events *jobq__events_current(void);

/* Hands ev to every matching subscriber; never blocks on a subscriber. */
void jobq__events_publish(struct jobq__events *e, const jobq_event_t *ev);

#endif
