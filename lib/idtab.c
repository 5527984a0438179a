/*
 * idtab.c: the table of records by id (see idtab.h). Load at most one half, so probes are
 * short; deletion shifts the following run back (no tombstones), so a table that sees millions
 * of jobs go through it never degrades.
 */
#include "idtab.h"

#include <stdbool.h>

#include "alloc.h"
#include "jobq.h"

#define MIN_BITS 5

/*
 * Where id belongs. A shard's ids are 16 apart (see jobq__shard_of), so k = id / 16 numbers
 * them; four consecutive k share one cache line (a block of four 16-byte entries), and the
 * blocks are spread by Fibonacci hashing (the top bits of the block number times 2^64/phi).
 * So the submitter fills a line four jobs at a time and pruning, far behind, empties another,
 * where random homes had the two cores trade a line on every put and delete; and a run of
 * long-lived ids (delayed jobs) is spread over the table, not one long probe.
 */
static uint32_t home_in(uint64_t id, uint32_t shift)
{
	uint64_t k = id >> 4;
	return (uint32_t)(((k >> 2) * 0x9E3779B97F4A7C15ull) >> (shift + 2)) << 2 | (uint32_t)(k & 3);
}

static uint32_t home(const struct jobq__idtab *t, uint64_t id)
{
	return home_in(id, t->shift);
}

static void place(struct jobq__identry *e, uint32_t mask, uint32_t shift, uint64_t id,
		  void *rec)
{
	uint32_t i = home_in(id, shift);
	while (e[i].id)
		i = (i + 1) & mask;
	e[i] = (struct jobq__identry){id, rec};
}

static int grow(struct jobq__idtab *t)
{
	uint32_t shift = t->e ? t->shift - 1 : 64 - MIN_BITS;
	if (shift <= 32)
		return JOBQ_ENOMEM; /* 2^32 entries: as far as a 32-bit mask goes */
	uint32_t cap = 1u << (64 - shift);
	struct jobq__identry *e = jobq__aligned_calloc(64, cap * sizeof *e); /* blocks on lines */
	if (!e)
		return JOBQ_ENOMEM;
	for (uint32_t i = 0; t->e && i <= t->mask; i++)
		if (t->e[i].id)
			place(e, cap - 1, shift, t->e[i].id, t->e[i].rec);
	jobq__free(t->e);
	t->e = e;
	t->mask = cap - 1;
	t->shift = shift;
	return 0;
}

int jobq__idtab_put(struct jobq__idtab *t, uint64_t id, void *rec)
{
	if (!t->e || (uint64_t)(t->n + 1) * 2 > (uint64_t)t->mask + 1) {
		int rc = grow(t);
		if (rc)
			return rc;
	}
	place(t->e, t->mask, t->shift, id, rec);
	t->n++;
	return 0;
}

static bool find(const struct jobq__idtab *t, uint64_t id, uint32_t *at)
{
	if (!t->e)
		return false;
	for (uint32_t i = home(t, id);; i = (i + 1) & t->mask) {
		if (t->e[i].id == id) {
			*at = i;
			return true;
		}
		if (!t->e[i].id)
			return false;
	}
}

void *jobq__idtab_get(const struct jobq__idtab *t, uint64_t id)
{
	uint32_t i;
	return find(t, id, &i) ? t->e[i].rec : NULL;
}

void jobq__idtab_prefetch(const struct jobq__idtab *t, uint64_t id)
{
	if (t->e)
		__builtin_prefetch(&t->e[home(t, id)], 1);
}

void *jobq__idtab_del(struct jobq__idtab *t, uint64_t id)
{
	uint32_t hole;
	if (!find(t, id, &hole))
		return NULL;
	void *rec = t->e[hole].rec;
	/* Move back every later entry of the run whose home is not between the hole and it. */
	for (uint32_t i = (hole + 1) & t->mask; t->e[i].id; i = (i + 1) & t->mask) {
		uint32_t h = home(t, t->e[i].id);
		bool stays = hole < i ? (h > hole && h <= i) : (h > hole || h <= i);
		if (stays)
			continue;
		t->e[hole] = t->e[i];
		hole = i;
	}
	t->e[hole] = (struct jobq__identry){0, NULL};
	t->n--;
	return rec;
}

void jobq__idtab_fini(struct jobq__idtab *t)
{
	jobq__free(t->e);
	*t = (struct jobq__idtab){NULL, 0, 0, 0};
}
