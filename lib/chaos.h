/*
 * chaos.h: fault-injection points for the chaos build (make check CHAOS=1). Each point yields
 * or pauses for a moment at random, widening the races between ring claim and publish and
 * inside the park/wake protocol, so that the stress suite explores interleavings a quiet
 * machine never shows. In every other build a point compiles to nothing.
 */
#ifndef JOBQ_CHAOS_H
#define JOBQ_CHAOS_H

#ifdef JOBQ_CHAOS
void jobq__chaos(void);
#define JOBQ_CHAOS_POINT() jobq__chaos()
#else
#define JOBQ_CHAOS_POINT() ((void)0)
#endif

#endif
