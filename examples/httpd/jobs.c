/*
 * jobs.c: the job types of jobq-httpd and the JSON view of a job. Owns the type table (name,
 * function, payload check, retry policy), the job argument (its type, a private deep copy of
 * the payload, the callback URL) and the completion callback that hands a finished job's JSON
 * to webhook.c.
 *
 *   thumbnail   CPU-bound: renders a width x height Mandelbrot image, box-downscales it by
 *               `scale`; payload {"width", "height", "scale"}, all optional
 *   email       I/O-bound simulation: a short wait, then a transient failure (JOBQ_RETRY) for
 *               the first `fail_attempts` attempts, or 30% of the time when that is absent
 *   csv_import  payload is CSV text (or {"csv": text}); progress row by row; result: the row
 *               count, the header and the sum of each numeric column
 *   sleep       payload {"ms": N}: N ms in ten steps, progress after each, cancellable between
 *
 * The job's name in the executor is its type, so a status snapshot alone says the type.
 *
 * Threads: job_submit runs on MHD's thread; the job functions on the executor's workers; the
 * completion callback on a worker, or on the thread that cancels a queued job. A job's argument
 * is touched by one of them at a time (submit, then the attempts, then the callback, then the
 * destructor), so it needs no lock.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "httpd.h"

struct job {
	const struct job_type *type;
	json_t *payload;    /* a deep copy: shares no reference count with MHD's thread */
	char *callback_url; /* NULL for none */
};

struct job_type {
	const char *name;
	jobq_fn fn;
	int (*check)(const json_t *payload, char *err, size_t errlen);
	unsigned max_attempts;
	unsigned backoff_base_ms, backoff_cap_ms;
};

/* Sleeps ms milliseconds. A job may sleep; nothing waits on it for synchronisation. */
static void nap(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* Sets the result to the compact text of obj and drops obj. */
static jobq_outcome_t finish(jobq_ctx_t *ctx, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text || jobq_ctx_set_result(ctx, text, strlen(text)) != 0) {
		free(text);
		jobq_ctx_set_error(ctx, "out of memory storing the result");
		return JOBQ_FATAL;
	}
	free(text);
	return JOBQ_DONE;
}

static jobq_outcome_t stop(jobq_ctx_t *ctx)
{
	jobq_ctx_set_error(ctx, "%s", jobq_strerror(jobq_ctx_cancelled(ctx)));
	return JOBQ_FATAL;
}

/* An optional integer member in [lo, hi], else def; -1 if present but not such an integer. */
static int int_member(const json_t *obj, const char *name, long lo, long hi, long def,
		      long *out)
{
	const json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
	if (!v) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -1;
	*out = (long)json_integer_value(v);
	return 0;
}

/* ---- sleep ---- */

static int sleep_check(const json_t *p, char *err, size_t errlen)
{
	long ms;
	if (!json_is_object(p) || !json_object_get(p, "ms") ||
	    int_member(p, "ms", 0, 600000, 0, &ms) != 0) {
		snprintf(err, errlen, "sleep: payload must be {\"ms\": 0..600000}");
		return -1;
	}
	return 0;
}

static jobq_outcome_t sleep_job(jobq_ctx_t *ctx, void *arg)
{
	struct job *j = arg;
	long ms;
	int_member(j->payload, "ms", 0, 600000, 0, &ms);
	for (int step = 1; step <= 10; step++) {
		if (jobq_ctx_cancelled(ctx))
			return stop(ctx);
		nap((unsigned)(ms / 10));
		char text[24];
		snprintf(text, sizeof text, "step %d/10", step);
		jobq_ctx_progress(ctx, step * 10, text);
	}
	return finish(ctx, json_pack("{s:i}", "slept_ms", (json_int_t)ms));
}

/* ---- thumbnail ---- */

static int thumb_check(const json_t *p, char *err, size_t errlen)
{
	long v;
	if ((!json_is_null(p) && !json_is_object(p)) ||
	    int_member(p, "width", 1, 4096, 1024, &v) || int_member(p, "height", 1, 4096, 768, &v) ||
	    int_member(p, "scale", 1, 64, 8, &v)) {
		snprintf(err, errlen, "thumbnail: payload {\"width\": 1..4096, \"height\": 1..4096, "
				      "\"scale\": 1..64}, all optional");
		return -1;
	}
	return 0;
}

/* Escape-time of the point (x, y) of the Mandelbrot set, 0..255. */
static unsigned mandel(double x, double y)
{
	double zr = 0, zi = 0;
	unsigned n = 0;
	while (n < 255 && zr * zr + zi * zi < 4) {
		double t = zr * zr - zi * zi + x;
		zi = 2 * zr * zi + y;
		zr = t;
		n++;
	}
	return n;
}

static jobq_outcome_t thumb_job(jobq_ctx_t *ctx, void *arg)
{
	struct job *j = arg;
	long w, h, s;
	int_member(j->payload, "width", 1, 4096, 1024, &w);
	int_member(j->payload, "height", 1, 4096, 768, &h);
	int_member(j->payload, "scale", 1, 64, 8, &s);
	long tw = (w + s - 1) / s, th = (h + s - 1) / s;
	unsigned char *thumb = malloc((size_t)(tw * th));
	if (!thumb) {
		jobq_ctx_set_error(ctx, "out of memory");
		return JOBQ_FATAL;
	}
	uint32_t hash = 2166136261u; /* FNV-1a of the thumbnail's pixels */
	uint64_t total = 0;
	int reported = -1;
	for (long ty = 0; ty < th; ty++) {
		if (jobq_ctx_cancelled(ctx)) {
			free(thumb);
			return stop(ctx);
		}
		for (long tx = 0; tx < tw; tx++) {
			unsigned sum = 0, n = 0;
			for (long y = ty * s; y < h && y < (ty + 1) * s; y++)
				for (long x = tx * s; x < w && x < (tx + 1) * s; x++, n++)
					sum += mandel(-2.5 + 3.5 * (double)x / (double)w,
						      -1.25 + 2.5 * (double)y / (double)h);
			unsigned char px = (unsigned char)(sum / n);
			thumb[ty * tw + tx] = px;
			hash = (hash ^ px) * 16777619u;
			total += px;
		}
		int pct = (int)((ty + 1) * 100 / th);
		if (pct != reported) {
			char text[40];
			snprintf(text, sizeof text, "row %d/%d", (int)(ty + 1), (int)th);
			jobq_ctx_progress(ctx, pct, text);
			reported = pct;
		}
	}
	free(thumb);
	char hex[12];
	snprintf(hex, sizeof hex, "%08x", (unsigned)hash);
	return finish(ctx, json_pack("{s:I, s:I, s:f, s:s}", "width", (json_int_t)tw, "height",
				     (json_int_t)th, "mean", (double)total / (double)(tw * th),
				     "fnv1a", hex));
}

/* ---- email ---- */

static int email_check(const json_t *p, char *err, size_t errlen)
{
	long v;
	if (!json_is_object(p) || !json_is_string(json_object_get(p, "to")) ||
	    (json_object_get(p, "subject") && !json_is_string(json_object_get(p, "subject"))) ||
	    int_member(p, "fail_attempts", 0, 100, 0, &v)) {
		snprintf(err, errlen, "email: payload {\"to\": string, \"subject\": string, "
				      "\"fail_attempts\": 0..100}");
		return -1;
	}
	return 0;
}

static jobq_outcome_t email_job(jobq_ctx_t *ctx, void *arg)
{
	struct job *j = arg;
	unsigned attempt = jobq_ctx_attempt(ctx);
	unsigned seed = (unsigned)(jobq_ctx_id(ctx) * 2654435761u) ^ attempt;
	jobq_ctx_progress(ctx, 0, "connecting");
	nap(20 + (unsigned)rand_r(&seed) % 60); /* the SMTP round trips */
	if (jobq_ctx_cancelled(ctx))
		return stop(ctx);
	long fail;
	int scripted = json_object_get(j->payload, "fail_attempts") != NULL;
	int_member(j->payload, "fail_attempts", 0, 100, 0, &fail);
	if (scripted ? attempt <= (unsigned long)fail : rand_r(&seed) % 10 < 3) {
		jobq_ctx_set_error(ctx, "451 4.3.0 temporary failure (simulated, attempt %u)",
				   attempt);
		return JOBQ_RETRY;
	}
	jobq_ctx_progress(ctx, 100, "sent");
	char mid[64];
	snprintf(mid, sizeof mid, "<%llu.%u@jobq-httpd.invalid>",
		 (unsigned long long)jobq_ctx_id(ctx), attempt);
	return finish(ctx, json_pack("{s:O, s:s}", "to", json_object_get(j->payload, "to"),
				     "message_id", mid));
}

/* ---- csv_import ---- */

static const char *csv_text(const json_t *p)
{
	return json_is_string(p) ? json_string_value(p)
				 : json_string_value(json_object_get(p, "csv"));
}

static int csv_check(const json_t *p, char *err, size_t errlen)
{
	if (!csv_text(p)) {
		snprintf(err, errlen, "csv_import: payload is CSV text, or {\"csv\": text}");
		return -1;
	}
	return 0;
}

/*
 * Reads one RFC 4180 record at *p into a new array of strings (NULL at the end of the text or
 * on an unterminated quote, with *bad set) and moves *p past it. Blank lines are skipped.
 */
static json_t *csv_record(const char **p, int *bad)
{
	const char *s = *p;
	while (*s == '\n' || *s == '\r')
		s++;
	if (!*s)
		return NULL;
	json_t *rec = json_array();
	char *field = NULL;
	size_t len = 0, cap = 0;
	for (;;) {
		int quoted = *s == '"';
		s += quoted;
		for (;;) {
			char c = *s;
			if (quoted) {
				if (!c) {
					*bad = 1;
					free(field);
					json_decref(rec);
					return NULL;
				}
				if (c == '"' && s[1] == '"') {
					s += 2;
				} else if (c == '"') {
					quoted = 0;
					s++;
					continue;
				} else {
					s++;
				}
			} else if (c == ',' || c == '\n' || !c) {
				break;
			} else {
				s++;
			}
			if (c == '\r' && !quoted && (s[0] == '\n' || !s[0]))
				continue;
			if (len + 1 >= cap) {
				cap = cap ? 2 * cap : 32;
				char *grown = realloc(field, cap);
				if (!grown) {
					free(field);
					json_decref(rec);
					return NULL;
				}
				field = grown;
			}
			field[len++] = c;
		}
		json_array_append_new(rec, json_stringn(field ? field : "", len));
		len = 0;
		if (*s != ',')
			break;
		s++;
	}
	free(field);
	*p = *s ? s + 1 : s;
	return rec;
}

static jobq_outcome_t csv_job(jobq_ctx_t *ctx, void *arg)
{
	struct job *j = arg;
	const char *text = csv_text(j->payload), *p = text;
	int bad = 0;
	size_t rows = 0;
	json_t *rec;
	while ((rec = csv_record(&p, &bad))) { /* a first pass to know the total */
		rows++;
		json_decref(rec);
	}
	if (bad) {
		jobq_ctx_set_error(ctx, "CSV: unterminated quoted field after record %zu", rows);
		return JOBQ_FATAL;
	}
	if (rows == 0) {
		jobq_ctx_set_error(ctx, "CSV: no header row");
		return JOBQ_FATAL;
	}
	p = text;
	json_t *header = csv_record(&p, &bad);
	size_t cols = json_array_size(header), ragged = 0;
	double *sums = calloc(cols, sizeof *sums);
	int *numeric = malloc(cols * sizeof *numeric);
	if (!sums || !numeric) {
		free(sums);
		free(numeric);
		json_decref(header);
		jobq_ctx_set_error(ctx, "out of memory");
		return JOBQ_FATAL;
	}
	for (size_t c = 0; c < cols; c++)
		numeric[c] = 1;
	for (size_t r = 1; r < rows; r++) {
		if (jobq_ctx_cancelled(ctx)) {
			free(sums);
			free(numeric);
			json_decref(header);
			return stop(ctx);
		}
		rec = csv_record(&p, &bad);
		if (json_array_size(rec) != cols)
			ragged++;
		for (size_t c = 0; c < cols && c < json_array_size(rec); c++) {
			const char *f = json_string_value(json_array_get(rec, c));
			char *end;
			double v = strtod(f, &end);
			if (end == f || *end)
				numeric[c] = 0;
			else
				sums[c] += v;
		}
		json_decref(rec);
		char progress[64]; /* jobq keeps the first 39 bytes */
		snprintf(progress, sizeof progress, "row %zu/%zu", r, rows - 1);
		jobq_ctx_progress(ctx, (int)(r * 100 / (rows - 1)), progress);
	}
	json_t *jsums = json_object();
	for (size_t c = 0; c < cols; c++)
		if (numeric[c] && rows > 1)
			json_object_set_new(jsums, json_string_value(json_array_get(header, c)),
					    json_real(sums[c]));
	free(sums);
	free(numeric);
	if (rows == 1)
		jobq_ctx_progress(ctx, 100, "no data rows");
	return finish(ctx, json_pack("{s:I, s:o, s:o, s:I}", "rows", (json_int_t)(rows - 1),
				     "columns", header, "sums", jsums, "ragged_rows",
				     (json_int_t)ragged));
}

/* ---- the table, submitting, and the JSON view ---- */

static const struct job_type types[] = {
	{"thumbnail", thumb_job, thumb_check, 1, 0, 0},
	{"email", email_job, email_check, 4, 100, 2000},
	{"csv_import", csv_job, csv_check, 1, 0, 0},
	{"sleep", sleep_job, sleep_check, 1, 0, 0},
};

static void job_free(void *arg)
{
	struct job *j = arg;
	json_decref(j->payload);
	free(j->callback_url);
	free(j);
}

/* Completion callback: a job with a callback_url has its final JSON posted there. */
static void job_done(const jobq_status_t *st, void *data)
{
	struct job *j = data;
	if (!j->callback_url)
		return;
	json_t *obj = job_json(st);
	char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	int rc = body ? webhook_submit(j->callback_url, body) : JOBQ_ENOMEM;
	if (rc != 0)
		fprintf(stderr, "jobq-httpd: job %llu: webhook not queued: %s\n",
			(unsigned long long)st->id, jobq_strerror(rc));
	free(body);
}

/* 0 if url is an absolute http or https URL (parsed by libcurl). */
static int check_url(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL;
	int ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		 curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		 (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

enum submit_error job_submit(const json_t *req, const char *key, uint64_t *id, char *err,
			     size_t errlen)
{
	snprintf(err, errlen, "internal error");
	if (!json_is_object(req)) {
		snprintf(err, errlen, "the body must be a JSON object");
		return SUBMIT_BAD_REQUEST;
	}
	const char *name = json_string_value(json_object_get(req, "type"));
	if (!name) {
		snprintf(err, errlen, "\"type\" must be a string");
		return SUBMIT_BAD_REQUEST;
	}
	const json_t *cb = json_object_get(req, "callback_url");
	if (cb && !json_is_null(cb) && (!json_is_string(cb) || check_url(json_string_value(cb)))) {
		snprintf(err, errlen, "\"callback_url\" must be an http or https URL");
		return SUBMIT_BAD_REQUEST;
	}
	const struct job_type *t = NULL;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
		if (strcmp(types[i].name, name) == 0)
			t = &types[i];
	if (!t) {
		snprintf(err, errlen, "unknown job type \"%.40s\" (thumbnail, email, csv_import, "
				      "sleep)", name);
		return SUBMIT_UNKNOWN_TYPE;
	}
	json_t *payload = json_object_get(req, "payload");
	if (t->check(payload ? payload : json_null(), err, errlen) != 0)
		return SUBMIT_BAD_PAYLOAD;

	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return SUBMIT_INTERNAL;
	j->type = t;
	j->payload = payload ? json_deep_copy(payload) : json_null();
	j->callback_url = json_is_string(cb) ? strdup(json_string_value(cb)) : NULL;
	if (!j->payload || (json_is_string(cb) && !j->callback_url)) {
		job_free(j);
		return SUBMIT_INTERNAL;
	}
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.name = t->name;
	o.on_done = job_done;
	o.on_done_data = j;
	o.arg_free = job_free;
	o.max_attempts = t->max_attempts;
	o.backoff.base_ms = t->backoff_base_ms;
	o.backoff.cap_ms = t->backoff_cap_ms;
	o.key = key;
	int rc = jobq_submit(httpd.q, t->fn, j, &o, id);
	if (rc == 0)
		return SUBMIT_OK;
	job_free(j);
	snprintf(err, errlen, "%s", jobq_strerror(rc));
	if (rc == JOBQ_EEXIST)
		return SUBMIT_EXISTS;
	if (rc == JOBQ_EAGAIN || rc == JOBQ_ECLOSED)
		return SUBMIT_UNAVAILABLE;
	return SUBMIT_INTERNAL;
}

int job_state_final(jobq_state_t state)
{
	return state == JOBQ_SUCCEEDED || state == JOBQ_DEAD || state == JOBQ_CANCELLED;
}

static json_t *ms_or_null(int64_t ns)
{
	return ns ? json_integer(ns / 1000000) : json_null();
}

json_t *job_json(const jobq_status_t *st)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:i, s:i, s:o, s:s, s:o, s:o, s:o}", "id",
			      (json_int_t)st->id, "type", st->name, "state",
			      jobq_state_name(st->state), "attempt", (int)st->attempt,
			      "max_attempts", (int)st->max_attempts, "progress",
			      st->percent < 0 ? json_null() : json_integer(st->percent),
			      "progress_text", st->progress, "created_ms",
			      ms_or_null(st->created_ns), "started_ms", ms_or_null(st->started_ns),
			      "finished_ms", ms_or_null(st->finished_ns));
	if (!o)
		return NULL;
	if (st->error[0])
		json_object_set_new(o, "error", json_string(st->error));
	if (st->code)
		json_object_set_new(o, "code", json_string(jobq_err_name(st->code)));
	char *buf = st->result_len ? malloc(st->result_len) : NULL;
	size_t len = 0;
	if (buf && jobq_result(httpd.q, st->id, buf, st->result_len, &len) == 0) {
		json_t *r = json_loadb(buf, len, JSON_DECODE_ANY, NULL);
		json_object_set_new(o, "result", r ? r : json_stringn(buf, len));
	}
	free(buf);
	return o;
}
