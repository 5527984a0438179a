/*
 * server.c: HTTP routing for jobq-httpd. Owns the request state (the body of a POST, capped at
 * HTTPD_BODY_MAX), the URL table, the mapping of jobq's codes to HTTP statuses, and the JSON
 * replies; every error is a JSON object {"error": "...", "status": N}.
 *
 *   GET    /                    the HTML page
 *   POST   /jobs                submit: 202 + Location; a repeated Idempotency-Key: 200, same id
 *   GET    /jobs/{id}           the job's JSON
 *   DELETE /jobs/{id}           cancel: 202; 409 when it has already ended
 *   GET    /jobs/{id}/events    server-sent events until the job ends (sse.c)
 *   GET    /dead                the dead-letter list
 *
 * Statuses: 400 bad JSON or request object, 404 unknown path or id, 405 wrong method (with
 * Allow), 413 body over 64 KiB, 422 unknown job type or unsuitable payload, 503 queue full or
 * shutting down.
 *
 * Threads: every function here runs on MHD's one internal polling thread, so none may block;
 * the jobq calls used (submit with JOBQ_FULL_FAIL, status, cancel, dead_list) do not.
 */
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

/* Per request: the body collected so far (POST /jobs only). */
struct request {
	char *body;
	size_t len;
	int too_big;
};

enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *body,
			   const char *hname, const char *hvalue)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!text)
		return MHD_NO; /* out of memory: MHD closes the connection */
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return reply_json(conn, status, json_pack("{s:s, s:i}", "error", msg, "status", status),
			  NULL, NULL);
}

static enum MHD_Result not_allowed(struct MHD_Connection *conn, const char *allow)
{
	json_t *body = json_pack("{s:s, s:i}", "error", "method not allowed", "status", 405);
	return reply_json(conn, MHD_HTTP_METHOD_NOT_ALLOWED, body, MHD_HTTP_HEADER_ALLOW, allow);
}

static enum MHD_Result reply_page(struct MHD_Connection *conn)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		strlen(page_html), (void *)page_html, MHD_RESPMEM_PERSISTENT);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_job(struct MHD_Connection *conn, unsigned status, uint64_t id,
				 int with_location)
{
	jobq_status_t st;
	if (jobq_status(httpd.q, id, &st) != 0)
		return reply_error(conn, MHD_HTTP_NOT_FOUND, "no such job");
	char loc[40];
	snprintf(loc, sizeof loc, "/jobs/%llu", (unsigned long long)id);
	return reply_json(conn, status, job_json(&st), with_location ? MHD_HTTP_HEADER_LOCATION : NULL,
			  loc);
}

static enum MHD_Result post_job(struct MHD_Connection *conn, struct request *req)
{
	if (req->too_big)
		return reply_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body over 64 KiB");
	json_error_t jerr;
	json_t *obj = json_loadb(req->body ? req->body : "", req->len, 0, &jerr);
	if (!obj) {
		char msg[200];
		snprintf(msg, sizeof msg, "bad JSON: %s (line %d, column %d)", jerr.text, jerr.line,
			 jerr.column);
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, msg);
	}
	const char *key =
		MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
	if (key && (!*key || strlen(key) > 200)) {
		json_decref(obj);
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, "Idempotency-Key: 1 to 200 bytes");
	}
	uint64_t id = 0;
	char err[160];
	enum submit_error e = job_submit(obj, key, &id, err, sizeof err);
	json_decref(obj);
	switch (e) {
	case SUBMIT_OK:
		return reply_job(conn, MHD_HTTP_ACCEPTED, id, 1);
	case SUBMIT_EXISTS:
		return reply_job(conn, MHD_HTTP_OK, id, 1);
	case SUBMIT_BAD_REQUEST:
		return reply_error(conn, MHD_HTTP_BAD_REQUEST, err);
	case SUBMIT_UNKNOWN_TYPE:
	case SUBMIT_BAD_PAYLOAD:
		return reply_error(conn, MHD_HTTP_UNPROCESSABLE_CONTENT, err);
	case SUBMIT_UNAVAILABLE:
		return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, err);
	case SUBMIT_INTERNAL:
		break;
	}
	return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, err);
}

static enum MHD_Result cancel_job(struct MHD_Connection *conn, uint64_t id)
{
	int rc = jobq_cancel(httpd.q, id);
	if (rc == JOBQ_ENOENT)
		return reply_error(conn, MHD_HTTP_NOT_FOUND, "no such job");
	if (rc == JOBQ_EBUSY)
		return reply_error(conn, MHD_HTTP_CONFLICT, "the job has already ended");
	if (rc != 0)
		return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, jobq_strerror(rc));
	return reply_job(conn, MHD_HTTP_ACCEPTED, id, 0);
}

static enum MHD_Result list_dead(struct MHD_Connection *conn)
{
	enum { CAP = 1000 }; /* the executor's default dead_max: the whole list */
	jobq_status_t *st = malloc(CAP * sizeof *st);
	size_t n = 0;
	if (!st || jobq_dead_list(httpd.q, st, CAP, &n) != 0) {
		free(st);
		return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot list dead jobs");
	}
	json_t *jobs = json_array();
	for (size_t i = 0; i < n && i < CAP; i++)
		json_array_append_new(jobs, job_json(&st[i]));
	free(st);
	return reply_json(conn, MHD_HTTP_OK, json_pack("{s:I, s:o}", "count", (json_int_t)n,
						       "jobs", jobs),
			  NULL, NULL);
}

/* Parses "/jobs/{id}" or "/jobs/{id}/events": 1 and *id, *events, or 0 if the path is other. */
static int job_path(const char *url, uint64_t *id, int *events)
{
	if (strncmp(url, "/jobs/", 6) != 0)
		return 0;
	const char *p = url + 6, *end;
	if (*p < '1' || *p > '9')
		return 0;
	char *e;
	unsigned long long v = strtoull(p, &e, 10);
	end = e;
	if (v == 0 || v == ~0ULL)
		return 0;
	*id = v;
	if (*end == '\0' || strcmp(end, "/") == 0) {
		*events = 0;
		return 1;
	}
	if (strcmp(end, "/events") == 0) {
		*events = 1;
		return 1;
	}
	return 0;
}

static enum MHD_Result route(struct MHD_Connection *conn, const char *url, const char *method,
			     struct request *req)
{
	int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
		  strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
	uint64_t id;
	int events;
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return get ? reply_page(conn) : not_allowed(conn, "GET, HEAD");
	if (strcmp(url, "/jobs") == 0 || strcmp(url, "/jobs/") == 0)
		return strcmp(method, MHD_HTTP_METHOD_POST) == 0 ? post_job(conn, req)
								  : not_allowed(conn, "POST");
	if (strcmp(url, "/dead") == 0)
		return get ? list_dead(conn) : not_allowed(conn, "GET, HEAD");
	if (job_path(url, &id, &events)) {
		if (events) {
			if (!get)
				return not_allowed(conn, "GET");
			jobq_status_t st;
			if (jobq_status(httpd.q, id, &st) != 0)
				return reply_error(conn, MHD_HTTP_NOT_FOUND, "no such job");
			return sse_respond(conn, id);
		}
		if (get)
			return reply_job(conn, MHD_HTTP_OK, id, 0);
		if (strcmp(method, MHD_HTTP_METHOD_DELETE) == 0)
			return cancel_job(conn, id);
		return not_allowed(conn, "GET, HEAD, DELETE");
	}
	return reply_error(conn, MHD_HTTP_NOT_FOUND, "no such resource");
}

enum MHD_Result server_handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	struct request *req = *req_cls;
	if (!req) {
		/* First call: headers only. A declared length over the cap is refused later, once
		 * the body is read, so that the client is not cut off while it sends. */
		req = calloc(1, sizeof *req);
		if (!req)
			return MHD_NO;
		*req_cls = req;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (req->too_big || strcmp(method, MHD_HTTP_METHOD_POST) != 0)
			return MHD_YES;
		if (req->len + n > HTTPD_BODY_MAX) {
			req->too_big = 1;
			free(req->body);
			req->body = NULL;
			req->len = 0;
			return MHD_YES;
		}
		char *b = realloc(req->body, req->len + n);
		if (!b)
			return MHD_NO;
		memcpy(b + req->len, upload_data, n);
		req->body = b;
		req->len += n;
		return MHD_YES;
	}
	return route(conn, url, method, req);
}

void server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct request *req = *req_cls;
	if (req) {
		free(req->body);
		free(req);
		*req_cls = NULL;
	}
}
