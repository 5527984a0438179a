/*
 * alloc.c: libjobq's allocator wrappers and their fault injection.
 *
 * The injection state is thread-local, so a test that fails allocations in one thread never
 * disturbs another executor or a worker: an executor's create and submit allocate in the caller's
 * thread, which is what the allocation-failure sweeps exercise. The cost outside tests is one
 * thread-local load and compare per allocation, on paths that already call malloc.
 *
 * Large tables (jobq__calloc_large) are mapped on their own, 2 MiB aligned, with
 * madvise(MADV_HUGEPAGE): where transparent huge pages are enabled "always" or "madvise", the
 * kernel backs them with 2 MiB pages, zeroed as they are first touched. The record table grows
 * by doubling, in a submit; with calloc, the new segment of 64 Ki records (12.5 MiB) took that
 * submit 31-35 ms on the machine of docs/BENCHMARKS.md, in about 3 200 page faults of 10 us
 * each in its memset; the workers ran dry meanwhile and slept. Touching 26 MiB there takes
 * 66-70 ms in 4 KiB pages and 1.5 ms in 2 MiB ones (the seventeenth round). Where the kernel
 * declines, the mapping is zeroed memory in 4 KiB pages, faulted in as the table is first used
 * rather than all in one submit.
 */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

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

static size_t huge_round(size_t size)
{
	return (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *jobq__calloc_large(size_t size)
{
	if (size < HUGE_PAGE)
		return jobq__aligned_calloc(64, size);
	size_t len = huge_round(size);
	if (failing())
		return NULL;
	char *map = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	if (map == MAP_FAILED)
		return NULL;
	/* Keep the 2 MiB aligned len inside the mapping; give back the rest on either side. */
	char *p = (char *)(((uintptr_t)map + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
	size_t head = (size_t)(p - map);
	if (head)
		munmap(map, head);
	munmap(p + len, HUGE_PAGE - head);
	/* Advice only: where the kernel declines, the pages are 4 KiB ones. */
	madvise(p, len, MADV_HUGEPAGE);
	return p;
}

void jobq__free_large(void *p, size_t size)
{
	if (size < HUGE_PAGE)
		jobq__free(p);
	else if (p)
		munmap(p, huge_round(size));
}
