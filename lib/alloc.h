/*
 * alloc.h: every allocation libjobq makes goes through these, so tests can make the Nth one fail
 * (see alloc.c). Internal to libjobq.
 */
#ifndef JOBQ_ALLOC_H
#define JOBQ_ALLOC_H

#include <stddef.h>

/* Memory that libjobq keeps for reuse is poisoned under AddressSanitizer while it is unused. */
#if defined(__SANITIZE_ADDRESS__)
#define JOBQ__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JOBQ__ASAN 1
#endif
#endif
#ifdef JOBQ__ASAN
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#endif

void *jobq__malloc(size_t n);
void *jobq__calloc(size_t n, size_t size);
void *jobq__realloc(void *p, size_t n);
char *jobq__strdup(const char *s);
/* Zeroed memory aligned to align (a power of two), for structs with cache-line members. */
void *jobq__aligned_calloc(size_t align, size_t size);
void jobq__free(void *p);
/*
 * Zeroed memory for a large table that lasts as long as its owner (the record slots), aligned
 * to a cache line. From 2 MiB on it is a mapping of its own, aligned to 2 MiB and offered to
 * the kernel for transparent huge pages (see alloc.c). Free it with jobq__free_large and the
 * same size.
 */
void *jobq__calloc_large(size_t size);
void jobq__free_large(void *p, size_t size);

/*
 * Fault injection for tests: the nth allocation from now made by the calling thread fails
 * (n = 1: the next one); n = 0 turns it off. Returns how many allocations this thread made since
 * the last call, so a sweep knows when a call has stopped allocating.
 */
unsigned long jobq__alloc_fail_nth(unsigned long n);

#endif
