/*
 * hb.h: happens-before annotations for valgrind's helgrind (make helgrind), which knows the
 * ordering that pthread calls give but not that of C11 atomics. Without them it reports the
 * data handed from thread to thread through a release/acquire pair as a race, and the atomic
 * variables themselves too. In every build but the helgrind one (-DJOBQ_VALGRIND, built in
 * build-valgrind) each macro compiles to nothing.
 *
 *   JOBQ_HB_BEFORE(p)          just before the release (store or RMW on p) that hands data over
 *   JOBQ_HB_AFTER(p)           just after the acquire that saw it (a load or RMW on p)
 *   JOBQ_HB_ATOMIC(p, len)     the len bytes at p are only ever accessed atomically: helgrind
 *                              does not check them (until the memory is freed)
 *   JOBQ_HB_RECYCLED(p, len)   the len bytes at p are reused as new memory (a record):
 *                              helgrind forgets their history, as it does at malloc
 *
 * The pairs name the hand-offs that helgrind cannot see (the ring's publish and consume, a
 * worker's done count read by a drain, a record's settled flag read by a waiter); the
 * remaining reports on C11 atomics are suppressed, one documented hand-off each, in
 * hardening/valgrind.supp. ThreadSanitizer models C11 atomics and needs none of this.
 */
#ifndef JOBQ_HB_H
#define JOBQ_HB_H

#ifdef JOBQ_VALGRIND
#include <valgrind/helgrind.h>
#define JOBQ_HB_BEFORE(p) ANNOTATE_HAPPENS_BEFORE(p)
#define JOBQ_HB_AFTER(p) ANNOTATE_HAPPENS_AFTER(p)
#define JOBQ_HB_ATOMIC(p, len) VALGRIND_HG_DISABLE_CHECKING(p, len)
#define JOBQ_HB_RECYCLED(p, len) VALGRIND_HG_CLEAN_MEMORY(p, len)
#else
#define JOBQ_HB_BEFORE(p) ((void)0)
#define JOBQ_HB_AFTER(p) ((void)0)
#define JOBQ_HB_ATOMIC(p, len) ((void)0)
#define JOBQ_HB_RECYCLED(p, len) ((void)0)
#endif

#endif
