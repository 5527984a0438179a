/*
 * batch.pml: lib/pool.c's batch take and steal (struct batch) in Promela, for spin (make model).
 *
 * What is modelled, step for step as batch_take, batch_fill and batch_steal do it (each Promela
 * statement is one atomic step):
 *   - x86-TSO for the owner: its plain stores (next, the items, the refill's first store of
 *     word) go into a store buffer, first in first out, which drains to memory one store at a
 *     time whenever the flusher runs; the owner's own loads see its latest buffered store of
 *     an address (store forwarding), everybody else's see memory. Its seq_cst store of word
 *     (an xchg) drains the buffer first. The compiler barrier of the light fence does nothing
 *     here: that is the point.
 *   - The thief: its CAS is a locked instruction, so it runs sequentially consistent. It is
 *     one thread, as steals are under ctl. membarrier(2) runs a full barrier on the owner's
 *     CPU: here, the thief waits until the owner's buffer has been empty once.
 *   - The owner takes until its batch is empty, refills it once with new items (as a claim
 *     from a ring would), and takes again until it is empty; the thief tries three steals,
 *     at any moment.
 * The property: every item is taken exactly once, by the owner or by a thief's steal that
 * succeeded; and nobody waits for good (spin's end-state check).
 *
 * Broken variants, which spin must reject (make model checks that it does):
 *   NO_RECHECK     the owner takes item n without reading word again after its store of next;
 *   NO_MEMBARRIER  the thief reads next without the membarrier: the owner's store of next may
 *                  still sit in its store buffer, so both take the item;
 *   NO_WAIT        an owner that finds a thief at work, or n past end, gives up at once: the
 *                  thief leaves it the item it had raised next for, and nobody takes it;
 *   NO_GEN_CHECK   the thief's last step stores word instead of the CAS: it takes items of a
 *                  refill that began meanwhile;
 *   NO_EMPTY_FIRST the refill writes the items without first emptying word under the new gen:
 *                  a thief copies new items under the old gen, and its CAS succeeds.
 */
#define SLOTS 4       /* the batch's items (BATCH_MAX) */
#define FIRST 4       /* items of the first batch: ids 1..4 */
#define SECOND 3      /* items of the refill: ids 5..7 */
#define IDS 8
#define STEALS 3

/* word: gen << 9 | STEALING | end */
#define STEALING 256
#define END(w) ((w) % 256)
#define GEN(w) ((w) / 512)
#define IS_STEALING(w) (((w) / 256) % 2)

/* Addresses: word, next, then the items. */
#define A_WORD 0
#define A_NEXT 1
#define A_ITEM 2
#define ADDRS 6

int mem[ADDRS];
int view[ADDRS];    /* the owner's latest buffered store of each address */
byte pend[ADDRS];   /* its stores of each address still in the buffer */
chan sb = [8] of { byte, int };

byte taken[IDS];
byte finished;

/* The owner's plain store and load. */
inline ostore(a, v)
{
	atomic { sb ! a, v; view[a] = v; pend[a]++ }
}

inline oload(a, v)
{
	atomic {
		if
		:: pend[a] > 0 -> v = view[a]
		:: else -> v = mem[a]
		fi
	}
}

/* The buffer drains to memory, one store at a time, whenever it likes. */
active proctype flusher()
{
	byte a;
	int v;
end_idle:
	do
	:: atomic { sb ? a, v -> mem[a] = v; pend[a]-- }
	od
}

/* batch_take: took is the id taken, 0 for none. */
inline take(took)
{
	oload(A_NEXT, n);
	oload(A_WORD, w);
	took = 0;
	if
	:: n >= END(w) && !IS_STEALING(w) -> skip
	:: else ->
		ostore(A_NEXT, n + 1);
		/* the light fence: a compiler barrier only */
#ifndef NO_RECHECK
		oload(A_WORD, w);
		if
#ifndef NO_WAIT
		:: n >= END(w) || IS_STEALING(w) ->
			/* wait for the thief to finish */
			do
			:: oload(A_WORD, w);
			   if
			   :: !IS_STEALING(w) -> break
			   :: else -> skip
			   fi
			od
#endif
		:: else -> skip
		fi;
#endif
		if
		:: n < END(w) -> oload(A_ITEM + n, took); taken[took]++
		:: else -> skip
		fi
	fi
}

/* batch_fill: items first + 1 .. first + count. */
inline fill(first, count)
{
	oload(A_WORD, w);
	gen = GEN(w) + 1;
#ifndef NO_EMPTY_FIRST
	ostore(A_WORD, gen * 512);
#endif
	i = 0;
	do
	:: i < count -> ostore(A_ITEM + i, first + 1 + i); i++
	:: else -> break
	od;
	ostore(A_NEXT, 0);
	/* the seq_cst store: the xchg drains the buffer, then writes memory */
	atomic { empty(sb) -> mem[A_WORD] = gen * 512 + count; view[A_WORD] = mem[A_WORD] }
}

proctype owner()
{
	byte n, took, i;
	int w, gen;
	do
	:: take(took);
	   if
	   :: took == 0 -> break
	   :: else -> skip
	   fi
	od;
	fill(FIRST, SECOND);
	do
	:: take(took);
	   if
	   :: took == 0 -> break
	   :: else -> skip
	   fi
	od;
	finished++
}

proctype thief()
{
	byte tries, nx, e, from, i, got[SLOTS], k;
	int w, mine, left;
	bool ok;
	tries = 0;
	do
	:: tries < STEALS ->
		tries++;
		w = mem[A_WORD];
		nx = mem[A_NEXT];
		e = END(w);
		if
		:: IS_STEALING(w) || nx >= e -> goto next_try
		:: else -> skip
		fi;
		mine = GEN(w) * 512 + STEALING + e - (e - nx + 1) / 2;
		atomic {
			ok = (mem[A_WORD] == w);
			if
			:: ok -> mem[A_WORD] = mine
			:: else -> skip
			fi
		};
		if
		:: !ok -> goto next_try
		:: else -> skip
		fi;
#ifndef NO_MEMBARRIER
		empty(sb);
#endif
		from = mem[A_NEXT];
		if
		:: from < END(mine) -> from = END(mine)
		:: else -> skip
		fi;
		if
		:: from > e -> from = e
		:: else -> skip
		fi;
		i = from;
		do
		:: i < e -> got[i - from] = mem[A_ITEM + i]; i++
		:: else -> break
		od;
		left = GEN(mine) * 512 + from;
#ifdef NO_GEN_CHECK
		mem[A_WORD] = left;
		ok = true;
#else
		atomic {
			ok = (mem[A_WORD] == mine);
			if
			:: ok -> mem[A_WORD] = left
			:: else -> skip
			fi
		};
#endif
		if
		:: ok ->
			k = 0;
			do
			:: k < e - from -> taken[got[k]]++; k++
			:: else -> break
			od
		:: else -> skip
		fi;
next_try:
		skip
	:: else -> break
	od;
	finished++
}

init
{
	byte id;
	atomic {
		/* the first batch, filled before anyone looks */
		mem[A_WORD] = FIRST;
		view[A_WORD] = FIRST;
		id = 0;
		do
		:: id < FIRST -> mem[A_ITEM + id] = id + 1; id++
		:: else -> break
		od;
		run owner();
		run thief()
	};
	finished == 2;
	/* the owner's last stores may still be buffered; what was taken is settled */
	id = 1;
	do
	:: id < IDS -> assert(taken[id] == 1); id++
	:: else -> break
	od
}
