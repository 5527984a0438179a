/*
 * cron_sched.h: cron schedules on an executor (jobq_cron_add and friends): the table of
 * schedules and the hooks the executor (jobq.c) and the timer (sched.c) call. See
 * cron_sched.c. Internal to libjobq.
 */
#ifndef JOBQ_CRON_SCHED_H
#define JOBQ_CRON_SCHED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "jobq.h"
#include "sched.h"

struct jobq__cron_entry;

struct jobq__crons {
	pthread_mutex_t mu;             /* guards everything here and in every entry */
	struct jobq__cron_entry *table; /* uthash by id; insertion order is id order */
	uint64_t next_id;
	bool closed;                    /* a shutdown began: nothing fires any more */
};

void jobq__crons_init(struct jobq__crons *c);
/* Ends every schedule (jobq_shutdown): none is armed afterwards, none fires again. */
void jobq__crons_close(jobq_t *q);
/* Frees every schedule, dropping its hold on its argument (jobq_destroy, jobq_create's
 * failure path). The timer must be stopped. */
void jobq__crons_fini(jobq_t *q);

/* The timer's fire function for JOBQ__TIMER_CRON entries (see jobq__fire_fn). */
bool jobq__cron_due(struct jobq__timer *t, void *owner);
/* The timer's step hook: the wall clock jumped; every schedule's next time is recomputed. */
void jobq__cron_step(void *owner);

#endif
