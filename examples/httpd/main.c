/*
 * main.c: jobq-httpd, an HTTP job service on libjobq. This file owns the command line, the
 * process's signals and the order of start and stop; the rest is in the files httpd.h lists.
 *
 *   jobq-httpd [--port N] [--bind ADDR] [--secret S] [--workers N]
 *
 * Threads: SIGINT and SIGTERM are blocked before any thread starts, so every thread inherits
 * the mask and only main.c's signalfd receives them; the main thread sleeps in read() on it.
 * MHD runs one internal polling thread (all HTTP handling, never blocking); the executor runs
 * its workers (the jobs and webhooks), its timer and its event thread (SSE feeding).
 *
 * Stop order: jobq_shutdown(JOBQ_DRAIN) while HTTP still answers (polls and streams see the
 * last jobs end; new submissions get 503), and JOBQ_CANCEL for what still runs after 30 s; then
 * every event stream is ended, then the daemon stops, then the executor is destroyed. Webhooks
 * of jobs that end during the drain are not sent: the executor accepts no new job by then.
 *
 * A signalfd rather than a handler with a self-pipe: the main thread has nothing else to do
 * than wait, and no code runs in signal context.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <curl/curl.h>

#include "httpd.h"

struct httpd httpd;

/* How long a stop lets accepted jobs finish before it cancels the rest. */
#define DRAIN_MS 30000

static void usage(FILE *f)
{
	fprintf(f, "usage: jobq-httpd [--port N] [--bind ADDR] [--secret S] [--workers N]\n"
		   "  --port N     TCP port, 0 picks a free one (default 8080)\n"
		   "  --bind ADDR  IPv4 or IPv6 address to listen on (default 127.0.0.1)\n"
		   "  --secret S   HMAC-SHA256 key for X-Jobq-Signature (default \"jobq\")\n"
		   "  --workers N  worker threads (default 8: sleeping jobs hold a worker)\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static struct MHD_Daemon *start_daemon(const char *bind, unsigned port)
{
	struct sockaddr_storage ss = {0};
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, bind, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
	} else if (inet_pton(AF_INET6, bind, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		flags |= MHD_USE_IPv6;
	} else {
		fprintf(stderr, "jobq-httpd: --bind %s: not an IPv4 or IPv6 address\n", bind);
		return NULL;
	}
	struct MHD_Daemon *d = MHD_start_daemon(
		flags, (uint16_t)port, NULL, NULL, server_handle, NULL, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, server_completed, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, 0u, MHD_OPTION_END);
	if (!d)
		fprintf(stderr, "jobq-httpd: cannot listen on %s port %u\n", bind, port);
	return d;
}

/* Blocks until SIGINT or SIGTERM; returns the signal number, or -1. */
static int wait_signal(int sfd)
{
	struct signalfd_siginfo si;
	for (;;) {
		ssize_t n = read(sfd, &si, sizeof si);
		if (n == (ssize_t)sizeof si)
			return (int)si.ssi_signo;
		if (n < 0 && errno == EINTR)
			continue;
		return -1;
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"port", required_argument, NULL, 'p'},  {"bind", required_argument, NULL, 'b'},
		{"secret", required_argument, NULL, 's'}, {"workers", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	unsigned long port = 8080, workers = 8;
	const char *bind = "127.0.0.1";
	httpd.secret = "jobq";
	int c;
	while ((c = getopt_long(argc, argv, "p:b:s:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, 65535, &port) != 0) {
				fprintf(stderr, "jobq-httpd: --port %s: not 0..65535\n", optarg);
				return 2;
			}
			break;
		case 'b':
			bind = optarg;
			break;
		case 's':
			httpd.secret = optarg;
			break;
		case 'w':
			if (parse_uint(optarg, 1024, &workers) != 0 || workers == 0) {
				fprintf(stderr, "jobq-httpd: --workers %s: not 1..1024\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Before any thread exists, so that all of them inherit the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return 1;
	int sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("jobq-httpd: signalfd");
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "jobq-httpd: curl_global_init failed\n");
		return 1;
	}

	jobq_options_t opts;
	jobq_options_init(&opts);
	opts.workers = (unsigned)workers;
	int rc = jobq_create(&httpd.q, &opts);
	if (rc != 0) {
		fprintf(stderr, "jobq-httpd: jobq_create: %s\n", jobq_strerror(rc));
		return 1;
	}
	struct MHD_Daemon *d = start_daemon(bind, (unsigned)port);
	if (!d) {
		jobq_destroy(httpd.q);
		return 1;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	unsigned bound = info ? info->port : (unsigned)port;
	int v6 = strchr(bind, ':') != NULL;
	printf("jobq-httpd: listening on http://%s%s%s:%u/\n", v6 ? "[" : "", bind, v6 ? "]" : "",
	       bound);
	fflush(stdout);

	int sig = wait_signal(sfd);
	fprintf(stderr, "jobq-httpd: %s, draining\n", sig > 0 ? strsignal(sig) : "signalfd failed");
	if (jobq_shutdown(httpd.q, JOBQ_DRAIN, DRAIN_MS) == JOBQ_ETIMEDOUT) {
		fprintf(stderr, "jobq-httpd: still busy after %d s, cancelling\n", DRAIN_MS / 1000);
		jobq_shutdown(httpd.q, JOBQ_CANCEL, 0);
	}
	sse_close_all(5000);
	MHD_stop_daemon(d);
	rc = jobq_destroy(httpd.q);
	curl_global_cleanup();
	close(sfd);
	fprintf(stderr, "jobq-httpd: stopped\n");
	return rc == 0 ? 0 : 1;
}
