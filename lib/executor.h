/*
 * executor.h: the executor struct, shared by the files that implement the public API (jobq.c
 * for the executor and submission, job.c for records and results). Internal to libjobq.
 */
#ifndef JOBQ_EXECUTOR_H
#define JOBQ_EXECUTOR_H

#include "job.h"
#include "pool.h"

struct jobq {
	struct jobq__pool pool;
	struct jobq__registry reg;
	jobq_full_policy_t full;
	unsigned block_timeout_ms;
	_Atomic uint64_t inline_tasks; /* posted tasks run in the caller (JOBQ_FULL_RUN) */
};

#endif
