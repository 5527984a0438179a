/*
 * malloc_count.c: counts heap allocations for bench/. The bench executable defines malloc and
 * friends itself; the dynamic linker then binds every caller in the process to them (libjobq,
 * linked statically, as well as GLib, libuv and glibc's own internal calls), and they forward to
 * glibc's allocator through its exported __libc_* entry points. Counting is off unless
 * bench_count_allocs is set, so timed runs pay one predictable branch per call.
 */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "malloc_count.h"

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

volatile int bench_count_allocs;
static _Atomic uint64_t nallocs, nbytes;

static inline void count(size_t n)
{
	if (__builtin_expect(bench_count_allocs, 0)) {
		atomic_fetch_add_explicit(&nallocs, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&nbytes, n, memory_order_relaxed);
	}
}

void bench_alloc_counts(uint64_t *calls, uint64_t *bytes)
{
	*calls = atomic_load(&nallocs);
	*bytes = atomic_load(&nbytes);
}

void *malloc(size_t n)
{
	count(n);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
	count(n * size);
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	count(n);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	count(n);
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	count(n);
	return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	count(n);
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
