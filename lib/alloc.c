/*
 * alloc.c: libjobq's allocator wrappers and their fault injection.
 *
 * The injection state is thread-local, so a test that fails allocations in one thread never
 * disturbs another executor or a worker: an executor's create and submit allocate in the caller's
 * thread, which is what the allocation-failure sweeps exercise. The cost outside tests is one
 * thread-local load and compare per allocation, on paths that already call malloc.
 */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

static _Thread_local unsigned long fail_at;  /* 0: never; else fail when count reaches it */
static _Thread_local unsigned long count;

static int failing(void)
{
	count++;
	return fail_at && count == fail_at;
}

unsigned long jobq__alloc_fail_nth(unsigned long n)
{
	unsigned long made = count;
	count = 0;
	fail_at = n;
	return made;
}

void *jobq__malloc(size_t n)
{
	return failing() ? NULL : malloc(n);
}

void *jobq__calloc(size_t n, size_t size)
{
	return failing() ? NULL : calloc(n, size);
}

void *jobq__realloc(void *p, size_t n)
{
	return failing() ? NULL : realloc(p, n);
}

char *jobq__strdup(const char *s)
{
	return failing() ? NULL : strdup(s);
}

void *jobq__aligned_calloc(size_t align, size_t size)
{
	size = (size + align - 1) & ~(align - 1); /* aligned_alloc wants a multiple of align */
	void *p = failing() ? NULL : aligned_alloc(align, size);
	if (p)
		memset(p, 0, size);
	return p;
}

void jobq__free(void *p)
{
	free(p);
}
