/*
 * httpd.h: what the files of jobq-httpd share. One file a concern:
 *
 *   main.c     options, signals, start and orderly stop of the executor and the HTTP daemon
 *   server.c   HTTP routing, request bodies, JSON replies and error statuses (MHD's thread)
 *   jobs.c     the job types (thumbnail, email, csv_import, sleep), submitting, job JSON
 *   webhook.c  completion webhooks: an HMAC-signed POST, itself a retried jobq job
 *   sse.c      GET /jobs/{id}/events: a server-sent event stream fed by a job subscription
 *   page.c     the HTML page served at /
 */
#ifndef JOBQ_HTTPD_H
#define JOBQ_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include <jobq.h>

/* Request bodies longer than this are refused with 413. */
#define HTTPD_BODY_MAX (64 * 1024)

/* The one instance of the service; set up by main.c before the daemon starts, read-only after. */
struct httpd {
	jobq_t *q;
	const char *secret;     /* HMAC key for webhook signatures */
};
extern struct httpd httpd;

/* ---- jobs.c ---- */

/* Why job_submit failed, mapped to an HTTP status by server.c. */
enum submit_error {
	SUBMIT_OK = 0,
	SUBMIT_EXISTS,         /* the idempotency key names a live job: *id is that job */
	SUBMIT_BAD_REQUEST,    /* 400: no "type", or a malformed callback_url */
	SUBMIT_UNKNOWN_TYPE,   /* 422 */
	SUBMIT_BAD_PAYLOAD,    /* 422: the payload does not suit the type */
	SUBMIT_UNAVAILABLE,    /* 503: queue full or shutting down */
	SUBMIT_INTERNAL        /* 500 */
};

/*
 * Validates the request object {"type", "payload", "callback_url"} and submits the job with
 * the idempotency key (may be NULL). On failure err (errlen bytes) says why.
 */
enum submit_error job_submit(const json_t *req, const char *key, uint64_t *id, char *err,
			     size_t errlen);

/* A job's snapshot as a new JSON object: id, type, state, attempt, progress, result or error. */
json_t *job_json(const jobq_status_t *st);

/* True for SUCCEEDED, DEAD and CANCELLED. */
int job_state_final(jobq_state_t state);

/* ---- webhook.c ---- */

/* Queues a signed POST of body (a job's JSON, copied) to url, retried with backoff. */
int webhook_submit(const char *url, const char *body);

/* "sha256=<hex>" HMAC-SHA256 of body under httpd.secret into out (72 bytes at least). */
int webhook_sign(const char *body, size_t len, char *out, size_t outlen);

/* ---- sse.c ---- */

/* Answers GET /jobs/{id}/events on conn (the caller checked that the job exists). */
enum MHD_Result sse_respond(struct MHD_Connection *conn, uint64_t id);

/*
 * Ends every open stream with a last status snapshot and waits up to timeout_ms for MHD to
 * send them, so that MHD_stop_daemon finds no suspended connection and cuts no stream short.
 * New streams are refused with 503 from then on.
 */
void sse_close_all(unsigned timeout_ms);

/* ---- server.c ---- */

/* Queues a JSON response (takes the reference to body) with status and, if not NULL, a header. */
enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *body,
			   const char *hname, const char *hvalue);
/* Queues {"error": msg, "status": status}. */
enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned status, const char *msg);

/* The MHD access handler and request-completed callback. */
enum MHD_Result server_handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls);
void server_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
		      enum MHD_RequestTerminationCode toe);

/* ---- page.c ---- */

extern const char page_html[];

#endif
