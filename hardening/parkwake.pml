/*
 * parkwake.pml: lib/pool.c's park/wake protocol in Promela, for spin (make model).
 *
 * What is modelled, step for step as worker_main and jobq__pool_push do it (each Promela
 * statement is one atomic step, so every C atomic is its own step and any interleaving of them
 * is explored; spin's interleavings are sequentially consistent, which is what pool.c's seq_cst
 * operations and fences buy for the accesses they order):
 *   - the ring as a count of claimed slots (what jobq__ring_size sees: head - tail) and a count
 *     of published ones (what a pop can take): a push claims, then publishes, in two steps;
 *   - nsearching, nsleepers and the futex word; futex_wait as the kernel does it (compare the
 *     word and queue the waiter in one step, then sleep until a futex_wake dequeues it);
 *     wake() as word++ then futex_wake of one waiter;
 *   - the worker: pop; else become a searcher, spin (one more pop), and either hand the search
 *     on when it was the last searcher and work is left, or read the word, register as a
 *     sleeper, stop searching, look at the ring once more (the seq_cst re-check) and only then
 *     wait on the word it read; back from the park it searches again;
 *   - a job may never return (it waits for the others, as test_executor's barrier jobs do):
 *     after taking an item a worker either loops or stays in the job for good (stuck);
 *   - the producer: push, then wake one sleeper only when nobody is searching and no wake is in
 *     flight: the waking flag, taken by exchange before a wake and cleared by the worker that
 *     the wake brings back once it counts as a searcher (and by any worker about to sleep). A
 *     wake costs the producer a system call, and on a virtual machine a parked worker takes
 *     tens of microseconds to come back: without the flag, every push in that time woke again.
 *     A push (jobq__pool_push: the timer, a task that waited for room) publishes and then
 *     decides the wake; a post or a tracked submit (jobq__pool_claim, jobq__pool_publish)
 *     decides the wake between its claim and its publish, so that the publish is its last
 *     touch of the pool. The producer takes either order for each item.
 * Not modelled: priorities (three rings are one ring here), pause, drain and worker exit.
 *
 * The property: once every producer is done, it must never be that an item is left in the ring
 * while every worker sleeps in the futex or is stuck in a job (a lost wake-up); and spin's
 * end-state check shows the system never blocks anywhere else (no deadlock). The monitor
 * asserts the first; a worker parked in the futex or stuck in a job is a valid end state
 * (labels end_park, end_stuck), nothing else is.
 *
 * Broken variants, which spin must reject (make model checks that it does):
 *   NO_RECHECK  the sleeper does not look at the ring after registering;
 *   NO_FENCE    it looks before registering, which is what the hardware may do to the look
 *               when the seq_cst fence between the stores and the load is missing;
 *   LOOP_TOP    back from a park, the worker takes an item with the plain pop instead of as a
 *               searcher: pool.c did this until valgrind caught a hang in test_executor (three
 *               workers in barrier jobs, the fourth job queued, the fourth worker asleep); spin
 *               finds it in 58 steps.
 *   KEEP_WAKING the worker a wake brings back does not clear the waking flag: later pushes
 *               skip their wakes for a wake that has already landed.
 */
#define WORKERS 2
#define PRODUCERS 2
#define ITEMS 1 /* per producer: two items in all already give every interleaving that matters */

byte claimed;    /* head - tail: slots claimed by producers and not yet popped */
byte avail;      /* published items a pop can take */
byte nsearching;
byte nsleepers;
byte word;       /* the futex word */
bool waking;     /* a wake is in flight */
bool inq[WORKERS]; /* queued in futex_wait, not yet woken */
bool stuck[WORKERS]; /* running a job that never returns (it waits for the others) */
byte pdone;      /* producers that finished */

inline pop(found)
{
	atomic {
		if
		:: avail > 0 -> avail--; claimed--; found = true
		:: else -> found = false
		fi
	}
}

/* futex_wake(word, 1): dequeues one waiter, if any. */
inline futex_wake_one()
{
	atomic {
		if
		:: inq[0] -> inq[0] = false
		:: inq[1] -> inq[1] = false
		:: else -> skip
		fi
	}
}

inline wake_one()
{
	word++;
	futex_wake_one()
}

/* if (!waking && !exchange(&waking, 1)) wake(1) */
inline wake_once(was)
{
	if
	:: waking -> skip
	:: else ->
		atomic { was = waking; waking = true };
		if
		:: !was -> wake_one()
		:: else -> skip
		fi
	fi
}

proctype producer()
{
	byte k = 0;
	byte s;
	bool was, early;
	do
	:: k < ITEMS ->
		claimed++;   /* the CAS on head */
		/* A push publishes, then decides the wake; a post or a tracked submit decides
		 * the wake first and publishes last (jobq__pool_publish). Either, for each item. */
		if
		:: early = false; avail++   /* the release store of the slot's seq */
		:: early = true
		fi;
		/* two seq_cst loads, after the seq_cst claim of head */
		s = nsearching;
		if
		:: s == 0 ->
			if
			:: nsleepers > 0 -> wake_once(was)
			:: else -> skip
			fi
		:: else -> skip
		fi;
		if
		:: early -> avail++
		:: else -> skip
		fi;
		k++
	:: else -> break
	od;
	pdone++
}

proctype worker(byte me)
{
	bool found, work, was;
	byte key, old;
loop:
	pop(found);
	if
	:: found -> goto ran
	:: else -> skip
	fi;
search:
	nsearching++;
searching:
	pop(found); /* the spin rounds */
	if
	:: found ->
		/* The last searcher to find work hands the search on if work is left. */
		atomic { old = nsearching; nsearching-- };
		if
		:: old == 1 ->
			if
			:: nsleepers > 0 ->
				if
				:: claimed > 0 -> wake_once(was)
				:: else -> skip
				fi
			:: else -> skip
			fi
		:: else -> skip
		fi;
		goto ran
	:: else -> skip
	fi;
	key = word;
	work = false;
#ifdef NO_FENCE
	work = (claimed > 0);
#endif
	nsleepers++;
	nsearching--;
	waking = false; /* about to sleep: no wake is in flight for anyone to wait on */
#if !defined(NO_RECHECK) && !defined(NO_FENCE)
	/* seq_cst fence, then the last look at the ring */
	work = (claimed > 0);
#endif
	if
	:: !work ->
		/* futex_wait(&word, key): returns at once if the word moved */
		atomic {
			if
			:: word == key -> inq[me] = true
			:: else -> skip
			fi
		};
end_park:
		!inq[me]
	:: else -> skip
	fi;
#ifdef LOOP_TOP
	waking = false;
	nsleepers--;
	goto loop;
#else
	/* Back as a searcher before the wake in flight ends: a push that skipped its wake for it
	 * is covered by this search (or by its hand-on). */
	nsearching++;
#ifndef KEEP_WAKING
	waking = false;
#endif
	nsleepers--;
	goto searching;
#endif
ran:
	/* The job returns, or never does (a job that waits for the others). */
	if
	:: goto loop
	:: stuck[me] = true
	fi;
end_stuck:
	false
}

/* No lost wake-up: producers done, an item left, every worker asleep is a dead end. */
active proctype monitor()
{
end_watch:
	atomic {
		(pdone == PRODUCERS && claimed > 0 && (inq[0] || stuck[0]) && (inq[1] || stuck[1])) ->
			assert(false)
	}
}

init
{
	atomic {
		run worker(0);
		run worker(1);
		run producer();
		run producer()
	}
}
