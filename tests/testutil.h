/*
 * testutil.h: what every Check suite shares: a main() that runs one suite and exits with its
 * result, and the reader of the shared cron vectors. Suites define `Suite *suite(void)`.
 */
#ifndef JOBQ_TESTUTIL_H
#define JOBQ_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

Suite *suite(void);

#define JOBQ_TEST_MAIN()                                              \
	int main(void)                                                \
	{                                                             \
		SRunner *sr = srunner_create(suite());                \
		srunner_run_all(sr, CK_NORMAL);                       \
		int failed = srunner_ntests_failed(sr);               \
		srunner_free(sr);                                     \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;          \
	}

/*
 * One case of shared/cron/vectors.tsv: expr, zone, from (RFC 3339), n, and the expected fire
 * times as a comma list, "ERROR" (the expression must be rejected) or "" (it never fires).
 * The strings point into buf.
 */
struct jobq_vector {
	int line;
	char *expr, *zone, *from, *expect;
	int n;
	char buf[4096];
};

/* The vectors file: $JOBQ_VECTORS, else ../shared/cron/vectors.tsv from the repository root. */
static inline FILE *jobq_vectors_open(void)
{
	const char *path = getenv("JOBQ_VECTORS");
	if (!path || !*path)
		path = "../shared/cron/vectors.tsv";
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s (set JOBQ_VECTORS)", path);
	return f;
}

/* Reads the next case into *v, skipping comments and blank lines; 0 at the end of the file. */
static inline int jobq_vector_next(FILE *f, struct jobq_vector *v)
{
	while (fgets(v->buf, sizeof v->buf, f)) {
		v->line++;
		v->buf[strcspn(v->buf, "\r\n")] = '\0';
		if (v->buf[0] == '#' || v->buf[0] == '\0')
			continue;
		char *col[5], *p = v->buf;
		for (int i = 0; i < 5; i++) {
			col[i] = p;
			p += strcspn(p, "\t");
			ck_assert_msg(*p || i == 4, "vectors line %d: too few columns", v->line);
			if (*p)
				*p++ = '\0';
		}
		v->expr = col[0];
		v->zone = col[1];
		v->from = col[2];
		v->n = atoi(col[3]);
		v->expect = col[4];
		return 1;
	}
	return 0;
}

#endif
