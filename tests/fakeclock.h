/*
 * fakeclock.h: a clock the test moves, for the suites that drive the timer without sleeping
 * (jobq_options_t.clock = fake_now, clock_data = &clk), and the waits that go with it.
 */
#ifndef JOBQ_FAKECLOCK_H
#define JOBQ_FAKECLOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "jobq.h"
#include "testutil.h"

struct fake_clock {
	_Atomic int64_t mono, real;
};

static struct fake_clock clk;

static inline int64_t fake_now(int realtime, void *data)
{
	struct fake_clock *c = data;
	return realtime ? atomic_load(&c->real) : atomic_load(&c->mono);
}

/* Moves both clocks forward and lets the executor act on it. */
static inline void advance(jobq_t *q, int64_t ns)
{
	atomic_fetch_add(&clk.mono, ns);
	atomic_fetch_add(&clk.real, ns);
	ck_assert_int_eq(jobq_clock_advanced(q), 0);
}

/* A wall-clock step: only the real clock moves. */
static inline void step(jobq_t *q, int64_t ns)
{
	atomic_fetch_add(&clk.real, ns);
	ck_assert_int_eq(jobq_clock_advanced(q), 0);
}

static inline jobq_state_t state_of(jobq_t *q, uint64_t id, jobq_status_t *st)
{
	ck_assert_int_eq(jobq_status(q, id, st), 0);
	return st->state;
}

/* Waits for a worker to move job id to want (it does so right after an attempt returns);
 * st (may be NULL) gets the status it saw. */
static inline void await_state(jobq_t *q, uint64_t id, jobq_state_t want, jobq_status_t *st)
{
	jobq_status_t mine;
	while (state_of(q, id, st ? st : &mine) != want)
		sched_yield();
}

#endif
