/*
 * os.h: what libjobq asks of the operating system in more than one place: a clock reading in
 * nanoseconds, and a thread started with every signal blocked. See os.c. Internal to libjobq.
 */
#ifndef JOBQ_OS_H
#define JOBQ_OS_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* clock_gettime(id) in nanoseconds. */
int64_t jobq__os_now(clockid_t id);

/* Starts fn(arg) on a new thread with every signal blocked, so the host's handlers run on the
 * host's own threads (as libuv's threadpool does). Returns 0 or JOBQ_ETHREAD. */
int jobq__os_thread(pthread_t *thread, void *(*fn)(void *), void *arg);

#endif
