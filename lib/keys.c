/*
 * keys.c: the idempotency-key table. A key is taken from the submit that claims it until its
 * job ends plus a window (jobq_options_t.key_window_ms); meanwhile a submit with the same key
 * gets JOBQ_EEXIST and the holder's id. Claiming is one lookup-or-insert under one mutex, so of
 * N threads submitting one key at once exactly one wins.
 *
 * Memory is bounded by the live jobs plus the keys ended within the window: ended keys sit on a
 * FIFO in the order they ended and are freed when their window passes, checked at every claim.
 *
 * Threads: any; mu guards everything and is taken with no other jobq lock held.
 */
#include "keys.h"

#include <string.h>

#include "alloc.h"
#include "jobq.h"
#include "hash.h"

struct jobq__key {
	UT_hash_handle hh;
	char *key;
	uint64_t id;
	int64_t ended; /* monotonic ns when its job ended (set once it is on the FIFO) */
	struct jobq__key *next;
};

void jobq__keys_init(struct jobq__keys *k, int64_t window_ns)
{
	pthread_mutex_init(&k->mu, NULL);
	k->window_ns = window_ns;
}

static void free_key(struct jobq__key *e)
{
	jobq__free(e->key);
	jobq__free(e);
}

void jobq__keys_fini(struct jobq__keys *k)
{
	struct jobq__key *e, *tmp;
	HASH_ITER(hh, k->table, e, tmp) {
		HASH_DEL(k->table, e);
		free_key(e);
	}
	pthread_mutex_destroy(&k->mu);
}

/* Frees the ended keys whose window has passed. Caller holds mu. */
static void expire(struct jobq__keys *k, int64_t now)
{
	while (k->ended_head && now - k->ended_head->ended >= k->window_ns) {
		struct jobq__key *e = k->ended_head;
		k->ended_head = e->next;
		if (!k->ended_head)
			k->ended_tail = NULL;
		HASH_DEL(k->table, e);
		free_key(e);
	}
}

int jobq__keys_claim(struct jobq__keys *k, const char *key, uint64_t id, int64_t now,
		     uint64_t *holder, struct jobq__key **out)
{
	struct jobq__key *e;
	int rc = 0;
	pthread_mutex_lock(&k->mu);
	expire(k, now);
	HASH_FIND_STR(k->table, key, e);
	if (e) {
		*holder = e->id;
		rc = JOBQ_EEXIST;
	} else if (!(e = jobq__calloc(1, sizeof *e)) || !(e->key = jobq__strdup(key))) {
		jobq__free(e);
		rc = JOBQ_ENOMEM;
	} else {
		e->id = id;
		HASH_ADD_KEYPTR(hh, k->table, e->key, strlen(e->key), e);
		if (!e->hh.tbl) {
			free_key(e);
			rc = JOBQ_ENOMEM;
		} else {
			*out = e;
		}
	}
	pthread_mutex_unlock(&k->mu);
	return rc;
}

void jobq__keys_release(struct jobq__keys *k, struct jobq__key *e)
{
	pthread_mutex_lock(&k->mu);
	HASH_DEL(k->table, e);
	pthread_mutex_unlock(&k->mu);
	free_key(e);
}

void jobq__keys_ended(struct jobq__keys *k, struct jobq__key *e, int64_t now)
{
	pthread_mutex_lock(&k->mu);
	e->ended = now;
	e->next = NULL;
	if (k->ended_tail)
		k->ended_tail->next = e;
	else
		k->ended_head = e;
	k->ended_tail = e;
	expire(k, now);
	pthread_mutex_unlock(&k->mu);
}
