/*
 * idtab.h: a table of tracked-job records by id (open addressing, linear probing, Fibonacci
 * hashing), one per registry shard. Internal to libjobq.
 *
 * Not uthash, which the rest of libjobq uses: its 56-byte handle lives in the record and an
 * insert or delete writes the neighbouring records too, which are cold or on another core by
 * then. Here an entry is the id and the record's address, side by side in one array: a delete
 * touches only the array. Ids are never 0, which marks a free entry.
 *
 * Threads: none of its own; the caller serialises (the shard mutex).
 */
#ifndef JOBQ_IDTAB_H
#define JOBQ_IDTAB_H

#include <stdint.h>

struct jobq__identry {
	uint64_t id;
	void *rec;
};

struct jobq__idtab {
	struct jobq__identry *e; /* NULL until the first put */
	uint32_t mask;           /* capacity - 1 */
	uint32_t n;
	uint32_t shift;          /* 64 - log2(capacity) */
};

/* Adds id -> rec (id must not be in t). 0, or JOBQ_ENOMEM when t had to grow and could not. */
int jobq__idtab_put(struct jobq__idtab *t, uint64_t id, void *rec);
/* The record of id, or NULL. */
void *jobq__idtab_get(const struct jobq__idtab *t, uint64_t id);
/* Starts bringing the line where id's entry would be into this CPU's cache, for writing: a
 * caller about to delete a batch prefetches them all first, so that the misses overlap
 * instead of following one another while it holds the shard's lock. */
void jobq__idtab_prefetch(const struct jobq__idtab *t, uint64_t id);
/* Removes id; returns its record, or NULL if it was not there. */
void *jobq__idtab_del(struct jobq__idtab *t, uint64_t id);
/* Frees the array (not the records). */
void jobq__idtab_fini(struct jobq__idtab *t);

/* Every record in t, in no order: for (i = 0; i < capacity; i++) if (e[i].id) ... */
#define JOBQ__IDTAB_EACH(t, i) \
	for (uint32_t i = 0; (t)->e && i <= (t)->mask; i++) \
		if ((t)->e[i].id)

#endif
