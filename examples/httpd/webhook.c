/*
 * webhook.c: completion webhooks. When a job that named a callback_url ends, jobs.c hands its
 * JSON here; this file queues a `webhook` job that POSTs it with libcurl, signed with
 *
 *   X-Jobq-Signature: sha256=<hex HMAC-SHA256 of the exact body, keyed with --secret>
 *
 * (HMAC by GnuTLS, the TLS library libcurl4-gnutls already brings). Also sent: X-Jobq-Delivery
 * (the webhook job's id, the same on every attempt, for the receiver to drop duplicates) and
 * X-Jobq-Attempt. A connection failure or a non-2xx status returns JOBQ_RETRY, so the executor
 * retries with exponential backoff and full jitter (6 attempts, 250 ms base, 10 s cap); a
 * webhook that never gets through ends in the dead-letter list like any job.
 *
 * Threads: webhook_submit runs on a worker (the completion callback of the finished job) or on
 * the thread that cancelled a queued job; the webhook job itself on a worker, where a blocking
 * curl_easy_perform is fine (it has its own timeouts and uses no signals).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <gnutls/crypto.h>

#include "httpd.h"

struct delivery {
	char *url;
	char *body;
};

static void delivery_free(void *arg)
{
	struct delivery *d = arg;
	free(d->url);
	free(d->body);
	free(d);
}

int webhook_sign(const char *body, size_t len, char *out, size_t outlen)
{
	unsigned char mac[32];
	if (outlen < 7 + 2 * sizeof mac + 1 ||
	    gnutls_hmac_fast(GNUTLS_MAC_SHA256, httpd.secret, strlen(httpd.secret), body, len,
			     mac) != 0)
		return -1;
	memcpy(out, "sha256=", 7);
	for (size_t i = 0; i < sizeof mac; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

/* The receiver's reply body is not used. */
static size_t discard(char *ptr, size_t size, size_t n, void *data)
{
	return size * n;
}

static jobq_outcome_t webhook_job(jobq_ctx_t *ctx, void *arg)
{
	struct delivery *d = arg;
	if (jobq_ctx_cancelled(ctx))
		return JOBQ_FATAL;
	char sig[128], hdr[3][160];
	size_t len = strlen(d->body);
	if (webhook_sign(d->body, len, sig, sizeof sig) != 0) {
		jobq_ctx_set_error(ctx, "HMAC-SHA256 failed");
		return JOBQ_FATAL;
	}
	snprintf(hdr[0], sizeof hdr[0], "X-Jobq-Signature: %s", sig);
	snprintf(hdr[1], sizeof hdr[1], "X-Jobq-Delivery: %llu",
		 (unsigned long long)jobq_ctx_id(ctx));
	snprintf(hdr[2], sizeof hdr[2], "X-Jobq-Attempt: %u", jobq_ctx_attempt(ctx));

	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	for (int i = 0; i < 3 && h; i++) {
		struct curl_slist *more = curl_slist_append(h, hdr[i]);
		if (!more) {
			curl_slist_free_all(h);
			h = NULL;
		} else {
			h = more;
		}
	}
	if (!c || !h) {
		curl_slist_free_all(h);
		curl_easy_cleanup(c);
		jobq_ctx_set_error(ctx, "out of memory");
		return JOBQ_RETRY;
	}
	curl_easy_setopt(c, CURLOPT_URL, d->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "jobq-httpd/" JOBQ_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	if (rc != CURLE_OK) {
		jobq_ctx_set_error(ctx, "POST %.80s: %s", d->url, curl_easy_strerror(rc));
		return JOBQ_RETRY;
	}
	if (status < 200 || status > 299) {
		jobq_ctx_set_error(ctx, "POST %.80s: HTTP %ld", d->url, status);
		return JOBQ_RETRY;
	}
	char result[32];
	int n = snprintf(result, sizeof result, "{\"status\":%ld}", status);
	jobq_ctx_set_result(ctx, result, (size_t)n);
	return JOBQ_DONE;
}

int webhook_submit(const char *url, const char *body)
{
	struct delivery *d = calloc(1, sizeof *d);
	if (!d)
		return JOBQ_ENOMEM;
	d->url = strdup(url);
	d->body = strdup(body);
	if (!d->url || !d->body) {
		delivery_free(d);
		return JOBQ_ENOMEM;
	}
	jobq_job_options_t o;
	jobq_job_options_init(&o);
	o.name = "webhook";
	o.arg_free = delivery_free;
	o.max_attempts = 6;
	o.backoff.base_ms = 250;
	o.backoff.cap_ms = 10000;
	int rc = jobq_submit(httpd.q, webhook_job, d, &o, NULL);
	if (rc != 0)
		delivery_free(d);
	return rc;
}
