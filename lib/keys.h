/*
 * keys.h: idempotency keys: which live (or recently ended) job holds each key. See keys.c.
 * Internal to libjobq.
 */
#ifndef JOBQ_KEYS_H
#define JOBQ_KEYS_H

#include <pthread.h>
#include <stdint.h>

struct jobq__key;

struct jobq__keys {
	pthread_mutex_t mu;
	struct jobq__key *table;                 /* uthash, by key string */
	struct jobq__key *ended_head, *ended_tail; /* keys whose job ended, oldest first */
	int64_t window_ns;
};

void jobq__keys_init(struct jobq__keys *k, int64_t window_ns);
void jobq__keys_fini(struct jobq__keys *k);
/*
 * Takes key for job id. Returns 0 (*out is the entry to hand back later), JOBQ_EEXIST (*holder
 * is the id that holds it) or JOBQ_ENOMEM. now is monotonic nanoseconds.
 */
int jobq__keys_claim(struct jobq__keys *k, const char *key, uint64_t id, int64_t now,
		     uint64_t *holder, struct jobq__key **out);
/* Gives a claimed key back at once (the submit failed). */
void jobq__keys_release(struct jobq__keys *k, struct jobq__key *e);
/* The key's job ended at now: the key stays taken for the window, then is freed. */
void jobq__keys_ended(struct jobq__keys *k, struct jobq__key *e, int64_t now);

#endif
