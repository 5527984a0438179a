/* malloc_count.h: the allocation counter of bench/ (see malloc_count.c). */
#ifndef BENCH_MALLOC_COUNT_H
#define BENCH_MALLOC_COUNT_H
#include <stdint.h>
extern volatile int bench_count_allocs;
/* Allocation calls and requested bytes counted so far, while bench_count_allocs was set. */
void bench_alloc_counts(uint64_t *calls, uint64_t *bytes);
#endif
