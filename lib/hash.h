/*
 * hash.h: uthash as libjobq uses it: allocating through alloc.h (so the allocation-failure
 * sweeps reach it) and, with HASH_NONFATAL_OOM (set by the Makefile), reporting a failed insert
 * by leaving the element's hh.tbl NULL instead of calling exit(). Include this, never uthash.h.
 */
#ifndef JOBQ_HASH_H
#define JOBQ_HASH_H

#include "alloc.h"

#define uthash_malloc(sz) jobq__malloc(sz)
#define uthash_free(ptr, sz) jobq__free(ptr)
#include <uthash.h>

#endif
