/*
 * sse.c: GET /jobs/{id}/events, a text/event-stream of one job until it ends.
 *
 *   event: status     data: the job's JSON (as GET /jobs/{id}), first, and after lost events
 *   event: state      data: {"id","state","attempt","code","percent","text"}
 *   event: progress   data: the same fields
 *
 * The stream subscribes to the job's events (a job filter) BEFORE it reads the status, so no
 * change falls between the two: the snapshot goes first, the events the subscription buffered
 * meanwhile follow (they may repeat what the snapshot shows). If the snapshot is already final
 * it is the whole stream. After a final state (succeeded, dead, cancelled) the stream ends and
 * MHD closes the response; the response's free callback unsubscribes.
 *
 * Threads and locks: the subscription's callback runs on the executor's event thread and
 * appends formatted events to the stream's buffer; MHD's polling thread drains it through the
 * content-reader callback. When the buffer is empty the reader suspends the connection
 * (MHD_suspend_connection: no polling, no busy loop) and the next event resumes it. Both happen
 * under the stream's mutex, so a resume can never precede its suspend, and a connection is
 * resumed only while suspended (a suspended connection cannot be closed under us). Lock order:
 * `all_mu` (the list of open streams, for shutdown) before a stream's `mu`; MHD's own locks,
 * taken inside suspend and resume, come last. The free callback unsubscribes outside every lock
 * (jobq_unsubscribe waits for a running callback).
 *
 * Not taken: a subscription by file descriptor polled by a thread per connection (a thread per
 * open stream), and MHD's response from a pipe (its reader blocks MHD's one polling thread).
 */
#define _GNU_SOURCE /* asprintf */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"

struct stream {
	pthread_mutex_t mu;
	struct MHD_Connection *conn;
	jobq_sub_t *sub;
	uint64_t id;
	char *buf;         /* formatted events not yet handed to MHD: buf[off..len) */
	size_t off, len, cap;
	int ended;         /* no event will be added: end once the buffer is drained */
	int suspended;     /* the reader suspended the connection; the next event resumes it */
	struct stream *prev, *next;
};

static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_gone = PTHREAD_COND_INITIALIZER; /* signalled when `all` empties */
static struct stream *all;
static int closing;

/* Appends n bytes to the pending buffer. Called with s->mu held. */
static void append(struct stream *s, const char *data, size_t n)
{
	if (s->off == s->len)
		s->off = s->len = 0;
	if (s->len + n > s->cap) {
		size_t cap = (s->len + n) * 2;
		char *b = realloc(s->buf, cap);
		if (!b)
			return; /* the event is lost; the final one ends the stream regardless */
		s->buf = b;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
}

/* Appends "event: name\ndata: <obj>\n\n" and drops obj. Called with s->mu held. */
static void put(struct stream *s, const char *name, json_t *obj)
{
	char *data = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	char *text = NULL;
	int n = data ? asprintf(&text, "event: %s\ndata: %s\n\n", name, data) : -1;
	if (n > 0)
		append(s, text, (size_t)n);
	free(text);
	free(data);
}

/* Appends the job's current status as a "status" event; returns 1 if it is final. */
static int put_status(struct stream *s, uint64_t id)
{
	jobq_status_t st;
	if (jobq_status(httpd.q, id, &st) != 0)
		return 1; /* forgotten: nothing more will come */
	put(s, "status", job_json(&st));
	return job_state_final(st.state);
}

/* Lets MHD read again. Called with s->mu held. */
static void wake(struct stream *s)
{
	if (s->suspended) {
		s->suspended = 0;
		MHD_resume_connection(s->conn);
	}
}

static void on_event(const jobq_event_t *ev, void *data)
{
	struct stream *s = data;
	pthread_mutex_lock(&s->mu);
	if (s->ended) {
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (ev->kind == JOBQ_EV_DROPPED) {
		s->ended = put_status(s, s->id);
	} else {
		put(s, ev->kind == JOBQ_EV_PROGRESS ? "progress" : "state",
		    json_pack("{s:I, s:s, s:i, s:s, s:i, s:s}", "id", (json_int_t)ev->id, "state",
			      jobq_state_name(ev->state), "attempt", (int)ev->attempt, "code",
			      ev->code ? jobq_err_name(ev->code) : "", "percent", ev->percent,
			      "text", ev->text));
		s->ended = ev->kind == JOBQ_EV_STATE && job_state_final(ev->state);
	}
	wake(s);
	pthread_mutex_unlock(&s->mu);
}

static ssize_t reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct stream *s = cls;
	ssize_t n = 0;
	pthread_mutex_lock(&s->mu);
	if (s->off < s->len) {
		n = (ssize_t)(s->len - s->off < max ? s->len - s->off : max);
		memcpy(out, s->buf + s->off, (size_t)n);
		s->off += (size_t)n;
	} else if (s->ended) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		MHD_suspend_connection(s->conn);
		s->suspended = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* The response's free callback (MHD's thread), or the cleanup of a failed start. */
static void stream_free(void *cls)
{
	struct stream *s = cls;
	pthread_mutex_lock(&all_mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		all = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (!all)
		pthread_cond_broadcast(&all_gone);
	pthread_mutex_unlock(&all_mu);
	if (s->sub)
		jobq_unsubscribe(s->sub);
	pthread_mutex_destroy(&s->mu);
	free(s->buf);
	free(s);
}

enum MHD_Result sse_respond(struct MHD_Connection *conn, uint64_t id)
{
	struct stream *s = calloc(1, sizeof *s);
	if (!s)
		return reply_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	s->conn = conn;
	s->id = id;
	pthread_mutex_lock(&all_mu);
	int refuse = closing;
	if (!refuse) {
		s->next = all;
		if (all)
			all->prev = s;
		all = s;
	}
	pthread_mutex_unlock(&all_mu);
	if (refuse) {
		pthread_mutex_destroy(&s->mu);
		free(s);
		return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
	}

	/* The subscription first, then the snapshot: see the comment at the top. */
	jobq_sub_options_t so;
	jobq_sub_options_init(&so);
	so.mask = JOBQ_EV_STATE | JOBQ_EV_PROGRESS;
	so.job = id;
	so.capacity = 256;
	so.fn = on_event;
	so.data = s;
	int rc = jobq_subscribe(httpd.q, &so, &s->sub);
	if (rc != 0) {
		s->sub = NULL;
		stream_free(s);
		return reply_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, jobq_strerror(rc));
	}
	pthread_mutex_lock(&s->mu);
	char *early = s->buf;
	size_t early_off = s->off, early_len = s->len;
	s->buf = NULL;
	s->off = s->len = s->cap = 0;
	if (put_status(s, id))
		s->ended = 1; /* the snapshot says it all; buffered events are older */
	else if (early_len > early_off)
		append(s, early + early_off, early_len - early_off);
	free(early);
	pthread_mutex_unlock(&s->mu);

	struct MHD_Response *r =
		MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, reader, s, stream_free);
	if (!r) {
		stream_free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

void sse_close_all(unsigned timeout_ms)
{
	pthread_mutex_lock(&all_mu);
	closing = 1;
	for (struct stream *s = all; s; s = s->next) {
		pthread_mutex_lock(&s->mu);
		/* After the drain the job has ended, but its last events may still be on their
		 * way through the event thread: a final snapshot closes the stream instead. */
		if (!s->ended)
			put_status(s, s->id);
		s->ended = 1;
		wake(s);
		pthread_mutex_unlock(&s->mu);
	}
	/* MHD_stop_daemon would cut the streams short: let MHD send their ends first. A client
	 * that does not read is given up after the timeout. */
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (all && pthread_cond_timedwait(&all_gone, &all_mu, &until) == 0)
		;
	pthread_mutex_unlock(&all_mu);
}
