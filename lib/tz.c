/*
 * tz.c: IANA time zones: reading TZif files (RFC 8536, versions 1 to 4), the process-wide zone
 * cache, and the offset and span lookups the cron search runs on.
 *
 * Shared state: the cache is the only process-wide state of the cron and zone code. It is a list
 * of the zones that have live handles, keyed by file path (so a changed $TZDIR loads afresh),
 * guarded by cache_lock; a zone's reference count is changed only under that lock, and a zone
 * leaves the list and is freed when its count drops to zero. Nothing else is ever written after
 * a zone is built, so lookups take no lock and any thread may use a handle. The lock is a leaf:
 * nothing is called while it is held but list operations and free(). Files are read and parsed
 * outside it; if two threads load one name at once, the second to finish uses the first's zone.
 * A list, not a hash: programs use a handful of zones.
 *
 * The file is untrusted input: every count is bounded before it is multiplied, every read is
 * checked against the bytes left, and anything malformed is JOBQ_EZONE. A zone keeps only what
 * the search needs: the instants where the UTC offset changes (changes of abbreviation or isdst
 * alone are dropped) and the footer rule for instants past the table. Files with leap-second
 * tables (right/...) are refused: their times are not Unix times. localtime(), mktime() and $TZ
 * are never used: they are process-global.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "civil.h"
#include "tz.h"

#define TZIF_MAX_BYTES (1 << 20) /* real files are a few KiB */
#define NAME_MAX_BYTES 255

struct jobq_zone {
	struct jobq_zone *next; /* in the cache list */
	unsigned refs;          /* guarded by cache_lock */
	char *path;             /* cache key */
	int32_t off0;           /* offset before the first change */
	size_t n;               /* changes in the table */
	int64_t *when;          /* ascending instants of the changes */
	int32_t *off;           /* offset from when[i] on */
	int has_rule;
	int64_t rule_from;      /* the footer rule holds from the table's last transition on */
	struct jobq__tzrule rule;
};

/* UTC needs no file; this zone is never freed and never in the cache. */
const struct jobq_zone jobq__utc = {.refs = 1, .rule_from = INT64_MAX};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct jobq_zone *cache;

/* ---- TZif parsing ---- */

struct rd {
	const unsigned char *p, *end;
};

static const unsigned char *take(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return NULL;
	const unsigned char *at = r->p;
	r->p += n;
	return at;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct hdr {
	unsigned char version;
	uint32_t isut, isstd, leap, time, type, chars;
};

static int header(struct rd *r, struct hdr *h)
{
	const unsigned char *p = take(r, 44);
	if (!p || memcmp(p, "TZif", 4) != 0)
		return -1;
	h->version = p[4];
	h->isut = be32(p + 20);
	h->isstd = be32(p + 24);
	h->leap = be32(p + 28);
	h->time = be32(p + 32);
	h->type = be32(p + 36);
	h->chars = be32(p + 40);
	/* Bounds before any size arithmetic; the file length bounds them again. */
	if (h->type == 0 || h->type > 256 || h->time > TZIF_MAX_BYTES / 5 ||
	    h->chars > TZIF_MAX_BYTES || h->leap > TZIF_MAX_BYTES / 12 ||
	    (h->isut && h->isut != h->type) || (h->isstd && h->isstd != h->type))
		return -1;
	return 0;
}

static size_t block_size(const struct hdr *h, size_t tsize)
{
	return h->time * (tsize + 1) + h->type * 6 + h->chars + h->leap * (tsize + 4) + h->isstd +
	       h->isut;
}

/* Builds the zone from the data block at r (times of tsize bytes) and the footer, if any. */
static int build(struct rd *r, const struct hdr *h, size_t tsize, const char *path,
		 struct jobq_zone **out)
{
	if (h->leap != 0)
		return JOBQ_EZONE;
	const unsigned char *times = take(r, h->time * tsize), *idx = take(r, h->time),
			    *types = take(r, h->type * 6);
	if (!times || !idx || !types ||
	    !take(r, h->chars + h->leap * (tsize + 4) + h->isstd + h->isut))
		return JOBQ_EZONE;

	struct jobq__tzrule rule = {0};
	int has_rule = 0;
	if (tsize == 8) {
		/* The footer: "\n" TZ-string "\n"; an empty string means no rule. */
		const unsigned char *nl = take(r, 1), *s = r->p;
		if (!nl || *nl != '\n')
			return JOBQ_EZONE;
		while (r->p < r->end && *r->p != '\n')
			r->p++;
		if (r->p == r->end)
			return JOBQ_EZONE;
		size_t len = (size_t)(r->p - s);
		if (len > 0) {
			if (jobq__tzrule_parse((const char *)s, len, &rule))
				return JOBQ_EZONE;
			has_rule = 1;
		}
	}

	size_t plen = strlen(path) + 1;
	struct jobq_zone *z = jobq__calloc(1, sizeof *z + h->time * (sizeof(int64_t) + sizeof(int32_t)) +
						 plen);
	if (!z)
		return JOBQ_ENOMEM;
	z->when = (int64_t *)(z + 1);
	z->off = (int32_t *)(z->when + h->time);
	z->path = memcpy((char *)(z->off + h->time), path, plen);
	z->refs = 1;
	z->has_rule = has_rule;
	z->rule = rule;
	z->rule_from = INT64_MIN;

	int32_t offs[256];
	for (uint32_t i = 0; i < h->type; i++) {
		int32_t o = (int32_t)be32(types + 6 * i);
		if (o < -89999 || o > 93599) /* RFC 8536's bounds: under 25 and 26 hours */
			goto bad;
		offs[i] = o;
	}
	z->off0 = offs[0];
	int32_t cur = z->off0;
	for (uint32_t i = 0; i < h->time; i++) {
		int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
		if ((i > 0 && t <= z->rule_from) || idx[i] >= h->type)
			goto bad;
		z->rule_from = t;
		if (offs[idx[i]] != cur) {
			cur = offs[idx[i]];
			z->when[z->n] = t;
			z->off[z->n++] = cur;
		}
	}
	*out = z;
	return 0;
bad:
	jobq__free(z);
	return JOBQ_EZONE;
}

int jobq__zone_parse(const char *name, const unsigned char *buf, size_t len, jobq_zone_t **out)
{
	struct rd r = {buf, buf + len};
	struct hdr h;
	if (header(&r, &h))
		return JOBQ_EZONE;
	if (h.version == 0)
		return build(&r, &h, 4, name, out);
	/* Version 2 and later (any non-zero version byte, so future versions load too) repeat the
	   data with 64-bit times after the 32-bit block, then add the footer. */
	if (!take(&r, block_size(&h, 4)) || header(&r, &h))
		return JOBQ_EZONE;
	return build(&r, &h, 8, name, out);
}

static int read_file(const char *path, unsigned char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOMEM ? JOBQ_ENOMEM : JOBQ_EZONE;
	struct stat st;
	int rc = JOBQ_EZONE;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZIF_MAX_BYTES)
		goto out;
	*buf = jobq__malloc((size_t)st.st_size + 1);
	if (!*buf) {
		rc = JOBQ_ENOMEM;
		goto out;
	}
	*len = 0;
	for (;;) {
		ssize_t got = read(fd, *buf + *len, (size_t)st.st_size + 1 - *len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 || (got > 0 && *len + (size_t)got > (size_t)st.st_size)) {
			jobq__free(*buf); /* an error, or the file grew while we read it */
			goto out;
		}
		if (got == 0)
			break;
		*len += (size_t)got;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

/* Zone names are relative paths of [A-Za-z0-9/_+.-] without empty, "." or ".." parts. */
static int valid_name(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > NAME_MAX_BYTES)
		return 0;
	for (const char *part = name;; part++) {
		const char *p = part;
		while (*p && *p != '/') {
			if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+-.",
				    *p))
				return 0;
			p++;
		}
		size_t n = (size_t)(p - part);
		if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && part[0] == '.' && part[1] == '.'))
			return 0;
		if (!*p)
			return 1;
		part = p;
	}
}

/* ---- the public calls ---- */

int jobq_zone_load(const char *name, jobq_zone_t **out)
{
	if (!out)
		return JOBQ_EINVAL;
	if (!name || strcmp(name, "UTC") == 0) {
		*out = (jobq_zone_t *)&jobq__utc; /* free ignores it: never written */
		return 0;
	}
	if (!valid_name(name))
		return JOBQ_EZONE;
	const char *dir = getenv("TZDIR");
	if (!dir || !*dir)
		dir = "/usr/share/zoneinfo";
	size_t dlen = strlen(dir), nlen = strlen(name);
	char *path = jobq__malloc(dlen + nlen + 2);
	if (!path)
		return JOBQ_ENOMEM;
	memcpy(path, dir, dlen);
	path[dlen] = '/';
	memcpy(path + dlen + 1, name, nlen + 1);

	struct jobq_zone *z = NULL;
	pthread_mutex_lock(&cache_lock);
	for (z = cache; z && strcmp(z->path, path) != 0; z = z->next)
		;
	if (z)
		z->refs++;
	pthread_mutex_unlock(&cache_lock);
	if (z) {
		jobq__free(path);
		*out = z;
		return 0;
	}

	unsigned char *buf;
	size_t len;
	int rc = read_file(path, &buf, &len);
	if (rc == 0) {
		rc = jobq__zone_parse(path, buf, len, &z);
		jobq__free(buf);
	}
	if (rc != 0) {
		jobq__free(path);
		return rc;
	}
	pthread_mutex_lock(&cache_lock);
	struct jobq_zone *won;
	for (won = cache; won && strcmp(won->path, path) != 0; won = won->next)
		;
	if (won) {
		won->refs++;
	} else {
		z->next = cache;
		cache = z;
	}
	pthread_mutex_unlock(&cache_lock);
	jobq__free(path);
	if (won)
		jobq__free(z);
	*out = won ? won : z;
	return 0;
}

void jobq_zone_free(jobq_zone_t *z)
{
	if (!z || z == &jobq__utc)
		return;
	pthread_mutex_lock(&cache_lock);
	int last = --z->refs == 0;
	if (last) {
		struct jobq_zone **pp = &cache;
		while (*pp != z)
			pp = &(*pp)->next;
		*pp = z->next;
	}
	pthread_mutex_unlock(&cache_lock);
	if (last)
		jobq__free(z);
}

/* The table's span around t, cut where the footer rule takes over. */
static void table_span(const struct jobq_zone *z, int64_t t, struct jobq__span *sp)
{
	size_t lo = 0, hi = z->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->when[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	sp->start = lo ? z->when[lo - 1] : INT64_MIN;
	sp->end = lo < z->n ? z->when[lo] : INT64_MAX;
	sp->off = lo ? z->off[lo - 1] : z->off0;
	sp->prev_off = lo > 1 ? z->off[lo - 2] : z->off0;
	if (z->has_rule && sp->end > z->rule_from)
		sp->end = z->rule_from;
}

/* How far outside JOBQ__T_MIN..JOBQ__T_MAX a span's end may lie and still be kept. */
#define SPAN_SLACK (2 * 86400)

void jobq__zone_span(const jobq_zone_t *z, int64_t t, struct jobq__span *sp)
{
	if (!z->has_rule || t < z->rule_from) {
		table_span(z, t, sp);
	} else {
		jobq__tzrule_span(&z->rule, t, sp);
		if (sp->start < z->rule_from) {
			struct jobq__span before;
			table_span(z, z->rule_from - 1, &before);
			sp->start = z->rule_from;
			sp->prev_off = before.off;
		}
	}
	/* A file's transitions may lie anywhere in 64 bits (the fuzzer found one 254 s before
	 * INT64_MAX). One far outside the instants that are ever asked about is as good as none,
	 * and kept, a wall time computed from it (instant + offset) overflows. */
	if (sp->start < JOBQ__T_MIN - SPAN_SLACK) {
		sp->start = INT64_MIN;
		sp->prev_off = sp->off;
	}
	if (sp->end > JOBQ__T_MAX + SPAN_SLACK)
		sp->end = INT64_MAX;
}

int jobq_zone_offset(const jobq_zone_t *z, int64_t t, int *utcoff_seconds)
{
	if (!utcoff_seconds || t < JOBQ__T_MIN || t > JOBQ__T_MAX)
		return JOBQ_EINVAL;
	struct jobq__span sp;
	jobq__zone_span(z ? z : &jobq__utc, t, &sp);
	*utcoff_seconds = sp.off;
	return 0;
}
