#!/bin/bash
# tests/httpd/run.sh: end-to-end test of jobq-httpd with curl, run by `make check-httpd`.
#
# Usage: tests/httpd/run.sh [path/to/jobq-httpd]
#
# Starts the server on a free loopback port (--port 0) and reads its "listening" line; starts a
# webhook receiver (receiver.py) the same way. Then: a sleep job polled to completion, its event
# stream read to the end, a signed webhook (first answered 503, so it is retried) verified with
# HMAC-SHA256, a cancellation, every error status, one job for two POSTs with one
# Idempotency-Key, the dead-letter list, the other job types, and a clean stop on SIGTERM.
#
# Nothing sleeps to synchronise: every wait reads a line (the server's, the receiver's, or an
# event stream's) with a time limit, and every loop has a count. Everything started is killed on
# exit. Prints "N passed, M failed" last; exits non-zero on any failure.
set -u
BIN=${1:-build/examples/jobq-httpd}
HERE=$(cd "$(dirname "$0")" && pwd)
SECRET="s3cret-$$"
T=$(mktemp -d)
PIDS=()
pass=0
fail=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "run.sh: interrupted"; exit 1' INT TERM HUP

ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && echo "       $2"; return 0; }
# expect DESC ACTUAL WANTED
expect() { if [ "$2" = "$3" ]; then ok "$1"; else no "$1" "got '$2', want '$3'"; fi; }

# js FILE EXPR: EXPR evaluated in Python over the JSON document d of FILE ('' if it fails).
js() { python3 -c 'import json,sys
try:
    d = json.load(open(sys.argv[1]))
    v = eval(sys.argv[2])
    print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)
except Exception as e:
    print("")' "$1" "$2"; }

# req METHOD PATH [CURL-ARGS...]: prints the status; the body lands in $T/body, headers in $T/hdr.
req() {
	local m=$1 p=$2
	shift 2
	curl -s --max-time 20 -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X "$m" "$B$p" "$@"
}
header() { sed -n "s/^$1: *\(.*\)\r\$/\1/Ip" "$T/hdr" | head -1; }

# submit JSON [CURL-ARGS...]: prints the new job's id (read with sed: a job may be short).
submit() {
	req POST /jobs -H 'Content-Type: application/json' -d "$1" "${@:2}" >/dev/null
	sed -n 's/^{"id":\([0-9]*\),.*/\1/p' "$T/body"
}

# open_stream ID FD: opens job ID's event stream on file descriptor FD (a fifo fed by curl -N).
open_stream() {
	rm -f "$T/fifo$2"
	mkfifo "$T/fifo$2"
	curl -sN --max-time 30 "$B/jobs/$1/events" >"$T/fifo$2" &
	PIDS+=($!)
	eval "exec $2<\"$T/fifo$2\""
}
# until_line FD PATTERN: reads lines from FD until one matches (0) or EOF/timeout/count (1).
until_line() {
	local line i
	for ((i = 0; i < 500; i++)); do
		IFS= read -r -t 15 line <&"$1" || return 1
		case $line in *$2*) return 0 ;; esac
	done
	return 1
}

# ---- start the server and the receiver, each announcing its port on one line ----
mkfifo "$T/server.out" "$T/recv.out"
"$BIN" --port 0 --bind 127.0.0.1 --secret "$SECRET" --workers 4 >"$T/server.out" 2>"$T/server.err" &
SERVER=$!
PIDS+=($SERVER)
exec 3<"$T/server.out"
line=
IFS= read -r -t 15 line <&3
PORT=$(printf '%s\n' "$line" | sed -n 's|^jobq-httpd: listening on http://127\.0\.0\.1:\([0-9]*\)/$|\1|p')
if [ -z "$PORT" ]; then
	no "server prints its listening line" "got '$line'; stderr: $(cat "$T/server.err")"
	echo "$pass passed, $fail failed"
	exit 1
fi
ok "server listens on 127.0.0.1:$PORT"
B="http://127.0.0.1:$PORT"

mkdir "$T/hooks"
python3 "$HERE/receiver.py" "$T/hooks" 1 >"$T/recv.out" &
PIDS+=($!)
exec 5<"$T/recv.out"
IFS= read -r -t 15 line <&5
RPORT=${line#listening }
expect "webhook receiver listens" "${line%% *}" "listening"

# ---- the page ----
expect "GET / is the HTML page" "$(req GET /)" 200
expect "GET / content type" "$(header Content-Type)" "text/html; charset=utf-8"
grep -q "new EventSource" "$T/body" && ok "the page uses EventSource" || no "the page uses EventSource"

# ---- a sleep job, polled to completion: each poll waits for the next line of its stream ----
code=$(req POST /jobs -H 'Content-Type: application/json' -d '{"type":"sleep","payload":{"ms":400}}')
expect "POST /jobs answers 202" "$code" 202
ID=$(js "$T/body" "d['id']")
expect "Location names the job" "$(header Location)" "/jobs/$ID"
open_stream "$ID" 4
state=
for ((i = 0; i < 200; i++)); do
	req GET "/jobs/$ID" >/dev/null
	state=$(js "$T/body" "d['state']")
	case $state in succeeded | dead | cancelled) break ;; esac
	IFS= read -r -t 15 line <&4 || true # a change, the end of the stream, or the time limit
done
exec 4<&-
expect "the polled sleep job succeeded" "$state" succeeded
expect "its progress is 100" "$(js "$T/body" "d['progress']")" 100
expect "its result" "$(js "$T/body" "d['result']['slept_ms']")" 400
expect "its type" "$(js "$T/body" "d['type']")" sleep

# ---- an event stream read to the end (the job is long enough to be running when it opens) ----
ID=$(submit '{"type":"sleep","payload":{"ms":1000}}')
if timeout 30 curl -sN -D "$T/sse.hdr" "$B/jobs/$ID/events" >"$T/sse"; then
	ok "the event stream ends by itself"
else
	no "the event stream ends by itself"
fi
expect "event stream content type" "$(sed -n 's/^Content-Type: *\(.*\)\r$/\1/Ip' "$T/sse.hdr")" \
	"text/event-stream"
expect "the stream opens with the status" "$(sed -n '1p' "$T/sse")" "event: status"
python3 - "$T/sse" <<'EOF' && ok "progress 10..100 in order, then succeeded, last" || no "stream events" "$(cat "$T/sse")"
import json, sys
events, name = [], None
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("event: "):
        name = line[7:]
    elif line.startswith("data: "):
        events.append((name, json.loads(line[6:])))
pcts = [d["percent"] for n, d in events if n == "progress"]
assert pcts == sorted(pcts) and pcts[-1] == 100 and len(pcts) >= 1, pcts
assert events[-1][0] == "state" and events[-1][1]["state"] == "succeeded", events[-1]
EOF
timeout 10 curl -sN "$B/jobs/$ID/events" >"$T/sse2"
expect "the stream of an ended job is its status alone" \
	"$(grep -c '^event:' "$T/sse2") $(grep -c '"state":"succeeded"' "$T/sse2")" "1 1"

# ---- a webhook: refused once (503), retried by the webhook job, signed with the secret ----
ID=$(submit "{\"type\":\"sleep\",\"payload\":{\"ms\":50},\"callback_url\":\"http://127.0.0.1:$RPORT/hook\"}")
IFS= read -r -t 20 first <&5
IFS= read -r -t 20 second <&5
expect "first delivery refused by the receiver" "$first" "1 503"
expect "the retry is accepted" "$second" "2 204"
H="$T/hooks/2"
expect "webhook body is the job" "$(js "$H.body" "d['id'], d['state']")" "($ID, 'succeeded')"
expect "webhook retried as a job: attempt 2" "$(js "$H.headers" "d['x-jobq-attempt']")" 2
expect "webhook content type" "$(js "$H.headers" "d['content-type']")" "application/json"
sig=$(js "$H.headers" "d['x-jobq-signature']")
want=$(python3 -c 'import hmac,hashlib,sys
print("sha256=" + hmac.new(sys.argv[1].encode(), open(sys.argv[2], "rb").read(), hashlib.sha256).hexdigest())' "$SECRET" "$H.body")
expect "X-Jobq-Signature is the HMAC-SHA256 of the body" "$sig" "$want"
other=$(python3 -c 'import hmac,hashlib,sys
print("sha256=" + hmac.new(b"wrong", open(sys.argv[1], "rb").read(), hashlib.sha256).hexdigest())' "$H.body")
[ "$sig" != "$other" ] && ok "another key gives another signature" || no "another key differs"
WID=$(js "$H.headers" "d['x-jobq-delivery']")
req GET "/jobs/$WID" >/dev/null
expect "the webhook job itself" "$(js "$T/body" "d['type'], d['state'], d['attempt']")" \
	"('webhook', 'succeeded', 2)"

# ---- cancel a running job ----
ID=$(submit '{"type":"sleep","payload":{"ms":6000}}')
open_stream "$ID" 4
until_line 4 '"state":"running"' && ok "the long job runs" || no "the long job runs"
expect "DELETE cancels: 202" "$(req DELETE "/jobs/$ID")" 202
until_line 4 '"state":"cancelled"' && ok "its stream ends cancelled" || no "its stream ends cancelled"
exec 4<&-
req GET "/jobs/$ID" >/dev/null
expect "it is cancelled" "$(js "$T/body" "d['state'], d['code']")" "('cancelled', 'JOBQ_ECANCELED')"
expect "DELETE of an ended job: 409" "$(req DELETE "/jobs/$ID")" 409

# ---- error statuses, each with a JSON body {"error", "status"} ----
err() { # DESC WANT METHOD PATH [CURL-ARGS...]
	local desc=$1 want=$2
	shift 2
	local code
	code=$(req "$@")
	expect "$desc: $want" "$code $(js "$T/body" "d['status'], type(d['error']).__name__")" \
		"$want ($want, 'str')"
}
err "unknown id" 404 GET /jobs/999999
err "unknown id, DELETE" 404 DELETE /jobs/999999
err "unknown id, events" 404 GET /jobs/999999/events
err "not a job path" 404 GET /jobs/abc
err "unknown path" 404 GET /nowhere
err "bad JSON" 400 POST /jobs -d '{"type": "sleep",'
err "not an object" 400 POST /jobs -d '[1, 2]'
err "no type" 400 POST /jobs -d '{"payload": {}}'
err "bad callback_url" 400 POST /jobs -d '{"type":"sleep","payload":{"ms":1},"callback_url":"ftp://x"}'
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big"
err "body over 64 KiB" 413 POST /jobs --data-binary "@$T/big"
err "unknown job type" 422 POST /jobs -d '{"type":"teleport","payload":{}}'
err "payload unfit for the type" 422 POST /jobs -d '{"type":"sleep","payload":{"ms":"soon"}}'
err "wrong method on /jobs" 405 PUT /jobs
expect "405 says what is allowed" "$(header Allow)" "POST"
err "wrong method on a job" 405 POST /jobs/1
err "wrong method on events" 405 DELETE /jobs/1/events
err "wrong method on /dead" 405 DELETE /dead

# ---- idempotency: two POSTs with one key give one job ----
KEY="order-$$-$RANDOM"
BODY='{"type":"sleep","payload":{"ms":10}}'
c1=$(req POST /jobs -H "Idempotency-Key: $KEY" -d "$BODY")
id1=$(js "$T/body" "d['id']")
c2=$(req POST /jobs -H "Idempotency-Key: $KEY" -d "$BODY")
id2=$(js "$T/body" "d['id']")
expect "first POST with the key: 202, second: 200" "$c1 $c2" "202 200"
[ -n "$id1" ] && [ "$id1" = "$id2" ] && ok "one job for one key (id $id1)" || no "one job for one key" "$id1 vs $id2"
expect "the repeat names the same Location" "$(header Location)" "/jobs/$id1"
id3=$(submit "$BODY" -H "Idempotency-Key: $KEY-other")
[ -n "$id3" ] && [ "$id3" != "$id1" ] && ok "another key, another job" || no "another key, another job"

# ---- the dead-letter list: an email that always fails transiently ----
ID=$(submit '{"type":"email","payload":{"to":"ada@example.com","fail_attempts":99}}')
timeout 30 curl -sN "$B/jobs/$ID/events" >"$T/sse"
grep -q '"state":"dead"' "$T/sse" && ok "the failing email dies after its retries" || no "email dies" "$(cat "$T/sse")"
expect "GET /dead" "$(req GET /dead)" 200
expect "it is in the dead-letter list" \
	"$(js "$T/body" "[(j['type'], j['attempt']) for j in d['jobs'] if j['id'] == $ID]")" \
	'[["email", 4]]'
ID=$(submit '{"type":"email","payload":{"to":"bob@example.com","fail_attempts":1}}')
timeout 30 curl -sN "$B/jobs/$ID/events" >/dev/null
req GET "/jobs/$ID" >/dev/null
expect "a transient email failure is retried" "$(js "$T/body" "d['state'], d['attempt']")" \
	"('succeeded', 2)"

# ---- the other job types ----
ID=$(submit '{"type":"csv_import","payload":"name,qty\nbolt,12\n\"nut, hex\",30\n"}')
timeout 30 curl -sN "$B/jobs/$ID/events" >/dev/null
req GET "/jobs/$ID" >/dev/null
expect "csv_import result" "$(js "$T/body" "d['result']['rows'], d['result']['sums']['qty'], d['progress']")" \
	"(2, 42.0, 100)"
ID=$(submit '{"type":"thumbnail","payload":{"width":256,"height":128,"scale":8}}')
timeout 30 curl -sN "$B/jobs/$ID/events" >/dev/null
req GET "/jobs/$ID" >/dev/null
expect "thumbnail result" "$(js "$T/body" "d['state'], d['result']['width'], d['result']['height']")" \
	"('succeeded', 32, 16)"

# ---- SIGTERM: running work drains, open streams end, the server exits 0 ----
ID=$(submit '{"type":"sleep","payload":{"ms":500}}')
open_stream "$ID" 4
until_line 4 '"state":"running"' || true
kill -TERM "$SERVER"
until_line 4 '"state":"succeeded"' && ok "SIGTERM drains the running job" || no "SIGTERM drains"
exec 4<&-
# The server's stdout (fd 3) reaches EOF when it exits: a bounded wait without polling.
if IFS= read -r -t 30 line <&3 || [ $? -le 128 ]; then
	wait "$SERVER"
	code=$?
else
	code="still running after 30 s"
fi
expect "the server exits 0 on SIGTERM" "$code" 0
grep -q "stopped" "$T/server.err" && ok "it says it stopped" || no "it says it stopped" "$(cat "$T/server.err")"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
