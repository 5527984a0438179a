/*
 * test_cron_props.c: properties of jobq_cron_next/prev over every zone of the system's tzdata
 * ($TZDIR or /usr/share/zoneinfo; the posix/ and right/ copies and symlinked aliases skipped),
 * for a set of expressions, from 1970 to 2200:
 *   - next strictly increases, and prev undoes it: prev(next(t)) <= t, and along a chain of
 *     nexts, prev of each result is the result before it;
 *   - every result shows a matching wall time, except a fixed-time job's run at the first
 *     instant after a gap, which is allowed only when the gap held a matching time;
 *   - between two results with no clock change between them, no matching wall time is skipped;
 *   - a fixed-time job never runs on an overlap's second pass;
 *   - every search ends.
 * Start times are sampled per zone: some at random, some a day before the zone's own clock
 * changes, where the DST policy is exercised. JOBQ_TEST_QUICK samples fewer. Matching is checked
 * against the UTC search (wall time w matches iff next in UTC from w-1 is w), so the calendar
 * logic is the same and the zone handling is what is under test; the calendar itself is pinned
 * by the vectors.
 */
#include <dirent.h>
#include <sys/stat.h>

#include "testutil.h"
#include "tz.h"

#define T_1970 INT64_C(0)
#define T_2200 INT64_C(7258118400)

static const char *const exprs[] = {
	"0 0 * * *",  "30 2 * * *",  "*/15 * * * *", "0 * * * *", "15 1,2,3 * * 1-5",
	"0 0 L * *",  "0 12 * * 5#3", "0 0 29 2 *",  "* 2 * * *", "5 4 1W * *", "0 30 1 * * *",
};
#define NEXPR (sizeof exprs / sizeof exprs[0])

static jobq_cron_t *cron[NEXPR];
static int quick, zones, checks;
static uint64_t rng = 0x2545f4914f6cdd1du;


static bool matches_wall(const jobq_cron_t *c, int64_t w)
{
	int64_t r;
	return jobq_cron_next(c, NULL, w - 1, &r) == 0 && r == w;
}

/* Checks that r, a fire time of c in zone z, is one the policy allows; false with a message if
 * not. */
static bool allowed(const jobq_zone_t *z, const jobq_cron_t *c, int64_t r, char *why, size_t cap)
{
	struct jobq__span sp;
	jobq__zone_span(z, r, &sp);
	bool fixed = !(c->flags & JOBQ__WILD);
	if (matches_wall(c, r + sp.off)) {
		if (fixed && sp.prev_off > sp.off && r + sp.off < sp.start + sp.prev_off) {
			snprintf(why, cap, "fixed-time job on an overlap's second pass");
			return false;
		}
		return true;
	}
	int64_t w;
	if (fixed && r == sp.start && sp.prev_off < sp.off &&
	    jobq_cron_next(c, NULL, r + sp.prev_off - 1, &w) == 0 && w < r + sp.off)
		return true; /* the run after a gap that swallowed a matching time */
	snprintf(why, cap, "wall time does not match");
	return false;
}

/* A chain of nexts from t, each checked, and prev walking it back. */
static void chain(const char *zone, const jobq_zone_t *z, size_t e, int64_t t, int len)
{
	const jobq_cron_t *c = cron[e];
	int64_t last = t, r, p;
	char why[80];
	for (int i = 0; i < len; i++) {
		int rc = jobq_cron_next(c, z, last, &r);
		if (rc == JOBQ_ENEVER)
			return;
		TEST_CHECK(rc == 0);
		if (r <= last)
			ck_abort_msg("%s \"%s\" next(%lld) = %lld, not later", zone, exprs[e],
				     (long long)last, (long long)r);
		if (!allowed(z, c, r, why, sizeof why))
			ck_abort_msg("%s \"%s\" next(%lld) = %lld: %s", zone, exprs[e],
				     (long long)last, (long long)r, why);
		/* Within one span the wall clock runs evenly, so nothing between may be missed. */
		struct jobq__span a, b;
		jobq__zone_span(z, last, &a);
		jobq__zone_span(z, r, &b);
		int64_t w;
		if (i > 0 && a.start == b.start &&
		    (jobq_cron_next(c, NULL, last + a.off, &w) != 0 || w != r + a.off))
			ck_abort_msg("%s \"%s\": a fire time between %lld and %lld was skipped", zone,
				     exprs[e], (long long)last, (long long)r);
		TEST_CHECK(jobq_cron_prev(c, z, r, &p) == 0);
		if (i == 0 ? p > t : p != last)
			ck_abort_msg("%s \"%s\": prev(%lld) = %lld, expected %s %lld", zone, exprs[e],
				     (long long)r, (long long)p, i == 0 ? "<=" : "==", (long long)last);
		last = r;
		checks++;
	}
}

/* Start times for zone z: random ones, and a day before a sample of its clock changes. */
static int starts(const jobq_zone_t *z, int64_t *out, int cap)
{
	int n = 0, random_n = quick ? 2 : 4;
	for (; n < random_n; n++)
		out[n] = T_1970 + (int64_t)(test_rnd(&rng) % (uint64_t)(T_2200 - T_1970));
	int64_t changes[1024];
	int nc = 0;
	for (int64_t t = T_1970; t < T_2200 && nc < 1024;) {
		struct jobq__span sp;
		jobq__zone_span(z, t, &sp);
		if (sp.start > T_1970 && sp.prev_off != sp.off)
			changes[nc++] = sp.start;
		t = sp.end;
	}
	for (int k = 0; nc && k < (quick ? 3 : 8) && n < cap; k++)
		out[n++] = changes[test_rnd(&rng) % (uint64_t)nc] - 86400 - (int64_t)(test_rnd(&rng) % 7200);
	return n;
}

static void check_zone(const char *name)
{
	jobq_zone_t *z;
	ck_assert_msg(jobq_zone_load(name, &z) == 0, "%s does not load", name);
	int64_t t[16];
	int n = starts(z, t, 16);
	for (size_t e = 0; e < NEXPR; e++)
		for (int i = 0; i < n; i++)
			chain(name, z, e, t[i], quick ? 3 : 5);
	jobq_zone_free(z);
	zones++;
}

static bool is_tzif(const char *path)
{
	char magic[4];
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t got = fread(magic, 1, 4, f);
	fclose(f);
	return got == 4 && memcmp(magic, "TZif", 4) == 0;
}

/* Walks dir/rel recursively; rel is the zone name of what it finds. */
static void walk(const char *dir, const char *rel)
{
	char path[1024];
	snprintf(path, sizeof path, "%s%s%s", dir, *rel ? "/" : "", rel);
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	struct dirent *de;
	while ((de = readdir(d))) {
		char sub[512], full[1536];
		struct stat st;
		if (de->d_name[0] == '.' ||
		    (!*rel && (!strcmp(de->d_name, "posix") || !strcmp(de->d_name, "right"))))
			continue;
		snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		snprintf(full, sizeof full, "%s/%s", dir, sub);
		if (lstat(full, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			walk(dir, sub);
		else if (S_ISREG(st.st_mode) && is_tzif(full))
			check_zone(sub);
	}
	closedir(d);
}

START_TEST(every_zone)
{
	const char *dir = getenv("TZDIR");
	quick = getenv("JOBQ_TEST_QUICK") != NULL;
	for (size_t e = 0; e < NEXPR; e++)
		ck_assert_int_eq(jobq_cron_parse(exprs[e], &cron[e], NULL, 0), 0);
	walk(dir && *dir ? dir : "/usr/share/zoneinfo", "");
	for (size_t e = 0; e < NEXPR; e++)
		jobq_cron_free(cron[e]);
	/* Debian's tzdata has about 450 distinct zones; a walker that finds few is broken. */
	ck_assert_int_gt(zones, dir && *dir ? 0 : 300);
	fprintf(stderr, "props: %d zones, %d fire times checked\n", zones, checks);
}
END_TEST

Suite *suite(void)
{
	Suite *s = suite_create("cron_props");
	TCase *tc = tcase_create("zones");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_zone);
	suite_add_tcase(s, tc);
	return s;
}

JOBQ_TEST_MAIN()
