/*
 * os.c: the clock readings and thread starts that the pool, the timer and the event thread
 * share (os.h). Any thread; no state.
 */
#include "os.h"

#include <signal.h>

#include "jobq.h"

int64_t jobq__os_now(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int jobq__os_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(thread, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? JOBQ_ETHREAD : 0;
}
