#!/bin/bash
# tests/httpd/browser.sh: drives jobq-httpd's HTML page in headless Chromium, run by
# `make check-httpd`.
#
# Usage: tests/httpd/browser.sh [path/to/jobq-httpd]
#
# Loads /?type=sleep&payload={"ms":800}&submit=1: the page's own script fills in its form and
# submits it (fetch POST /jobs), then follows the job through an EventSource on
# /jobs/{id}/events. Chromium's --dump-dom with a virtual-time budget prints the DOM once the
# page is idle; virtual time does not advance while a fetch is open, so the dump waits for the
# event stream to end. The DOM must show state succeeded and 100% (values only the event stream
# sets), and the server must know the job the page submitted. Chromium runs as root, hence
# --no-sandbox; it runs in its own session so that all its processes are killed at exit.
# Prints "N passed, M failed" last; exits non-zero on any failure.
set -u
BIN=${1:-build/examples/jobq-httpd}
T=$(mktemp -d)
PIDS=()
GROUPS_=()
pass=0
fail=0

cleanup() {
	for g in "${GROUPS_[@]}"; do kill -- "-$g" 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "browser.sh: interrupted"; exit 1' INT TERM HUP

ok() { pass=$((pass + 1)); echo "ok   - $1"; }
no() { fail=$((fail + 1)); echo "FAIL - $1"; [ -n "${2:-}" ] && echo "       $2"; return 0; }
expect() { if [ "$2" = "$3" ]; then ok "$1"; else no "$1" "got '$2', want '$3'"; fi; }

BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
if [ -z "$BROWSER" ]; then
	no "chromium is installed (scripts/setup chromium)"
	echo "$pass passed, $fail failed"
	exit 1
fi

mkfifo "$T/server.out"
"$BIN" --port 0 >"$T/server.out" 2>"$T/server.err" &
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

URL="http://127.0.0.1:$PORT/?type=sleep&payload=%7B%22ms%22%3A800%7D&submit=1"
setsid timeout -k 5 90 "$BROWSER" --headless --disable-gpu --no-sandbox --no-first-run \
	--disable-dev-shm-usage --user-data-dir="$T/profile" --virtual-time-budget=30000 \
	--dump-dom "$URL" >"$T/dom" 2>"$T/chromium.err" &
CHROME=$!
GROUPS_+=($CHROME)
wait "$CHROME"
rc=$?
expect "chromium dumps the DOM" "$rc" 0

body=$(grep -o '<body[^>]*>' "$T/dom" | head -1)
expect "the page's job succeeded" "$(printf '%s' "$body" | sed -n 's/.*data-state="\([^"]*\)".*/\1/p')" \
	succeeded
expect "the progress bar reached 100%" "$(sed -n 's/.*id="pct">\([^<]*\)<.*/\1/p' "$T/dom" | head -1)" \
	"100%"
expect "the bar's value" "$(printf '%s' "$body" | sed -n 's/.*data-percent="\([^"]*\)".*/\1/p')" 100
ID=$(sed -n 's/.*id="job">\([0-9]*\)<.*/\1/p' "$T/dom" | head -1)
if [ -n "$ID" ] &&
	curl -s --max-time 10 "http://127.0.0.1:$PORT/jobs/$ID" >"$T/job" &&
	grep -q '"type":"sleep","state":"succeeded"' "$T/job" &&
	grep -q '"result":{"slept_ms":800}' "$T/job"; then
	ok "the server ran the job the page submitted (id $ID)"
else
	no "the server ran the job the page submitted" "id '$ID': $(cat "$T/job" 2>/dev/null)"
fi
[ "$fail" -eq 0 ] || { echo "--- DOM"; cat "$T/dom"; echo "--- chromium stderr (last lines)"; tail -5 "$T/chromium.err"; }

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
