#!/usr/bin/env bash
# webhooks.sh: the webhook figures of issue 4 ("Figures"), one per line on stdout as
# NAME VALUE UNIT; progress and warnings go to stderr.
#
#   bench/webhooks.sh       (from anywhere; BENCH_BURST=N events per burst, default 20000;
#                            BENCH_RATE=R and BENCH_SECONDS=S for the paced run, default
#                            1000/s for 10 s; BENCH_CONNS=C API connections, default 64)
#
# What runs, all on 127.0.0.1 and all started here:
#   - build/irisx serve on SQLite under a temp dir (outbound.allow_private so it may reach
#     a loopback receiver, rate limits far above the load), one tenant, one API key;
#   - bench/wh_receiver.js (node, one thread): 204 to every delivery, records per
#     webhook-id the receipt time and the event's body.timestamp; checks signatures;
#   - nginx (one worker) as a second receiver side by side: 204, logs "webhook-id msec";
#   - bench/wh_load.js: POST /v1/webhooks/{id}/test (one webhook.test event to that
#     endpoint) over keep-alive connections, as a burst or at a paced rate.
# Figures: per burst, the API's accepted events/s and deliveries/s at the receiver (first
# to last delivery), lost (202s minus unique webhook-ids received; must be 0) and
# duplicates; the signature check of a sample; at the paced rate, p50/p99/max from event
# creation (body.timestamp) to receipt. Every process is stopped by its own PID on exit.
#
# The live bursts measure the whole path, so the API (one write transaction per event)
# bounds them. webhook_backlog_deliveries_per_s measures the deliverer alone: the receiver
# holds its answers while the burst is emitted (the deliverer's in-flight window fills, the
# rest waits in the jobs table), then answers everything; deliveries after that moment /
# time to the last one. For that, webhooks.timeout_ms is raised so held ones do not time out.
#
# The machine has 2 cores shared by irisx, the receiver and the load generator, so the
# absolute numbers are lower than a server on its own cores would reach.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
BIN=$ROOT/build/irisx
BURST=${BENCH_BURST:-20000}
RATE=${BENCH_RATE:-1000}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNS:-64}
LOAD_LIMIT=90  # seconds any one load run may take
DRAIN_LIMIT=60 # seconds to wait for the last deliveries after a load run
HIGH=10000000  # rate limits far above anything the load reaches
PASSWORD='bench-password-0123456789'
STATUS=0

log() { echo "bench: $*" >&2; }
warn() { echo "bench: WARNING: $*" >&2; STATUS=1; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }
fig() { printf '%s %s %s\n' "$1" "$2" "$3"; }

# An IRISX_* variable inherited from the caller would change what is measured.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^IRISX_' || true)

for tool in node curl jq ss ninja; do
	command -v "$tool" >/dev/null || die "$tool not found"
done
[ -x /usr/sbin/nginx ] || die "/usr/sbin/nginx not found (apt-get install nginx-light)"

if [ ! -f "$ROOT/build/build.ninja" ]; then
	log "configuring build/ (RelWithDebInfo)"
	cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
ninja -C "$ROOT/build" irisx >&2

TMP=$(mktemp -d /tmp/irisx-bench-wh.XXXXXX)
chmod 755 "$TMP" # nginx workers (nobody) write below it
PIDS=()

# shellcheck disable=SC2317 # called by cleanup
stop_pid() { # PID: TERM, up to 5 s, then KILL
	local pid=$1
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_port: below the kernel's ephemeral range (32768-60999), so an outgoing connection
# cannot hold it between the check and the bind.
free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 12000))
		if ! ss -Hltn "sport = :$p" | grep -q .; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# wait_listen PID PORT URL: until PID itself listens on PORT and URL answers 200.
wait_listen() {
	local pid=$1 port=$2 url=$3
	for _ in $(seq 600); do
		kill -0 "$pid" 2>/dev/null || return 1
		if ss -Hltnp "sport = :$port" | grep -q "pid=$pid," &&
			[ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ]; then
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# cpu_busy: percent of CPU time not idle over 1 s, to see whether something else runs.
cpu_busy() {
	local a b
	read -r -a a < <(head -1 /proc/stat)
	sleep 1
	read -r -a b < <(head -1 /proc/stat)
	awk -v i=$((b[4] + b[5] - a[4] - a[5])) \
		-v t=$((b[1] + b[2] + b[3] + b[4] + b[5] + b[6] + b[7] + b[8] - a[1] - a[2] - a[3] - a[4] - a[5] - a[6] - a[7] - a[8])) \
		'BEGIN {printf "%d", t ? 100 * (t - i) / t : 0}'
}

api() { # METHOD PATH [JSON]: curl against irisx with the API key; body to stdout
	curl -s -X "$1" "$API$2" -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
		${3:+-d "$3"}
}

# --- servers ---------------------------------------------------------------------------
start_receiver() {
	RCV_PORT=$(free_port)
	RCV=http://127.0.0.1:$RCV_PORT
	node "$BENCH_DIR/wh_receiver.js" "$RCV_PORT" >"$TMP/receiver.log" 2>&1 &
	RCV_PID=$!
	PIDS+=("$RCV_PID")
	wait_listen "$RCV_PID" "$RCV_PORT" "$RCV/_ready" || die "receiver did not start: $(cat "$TMP/receiver.log")"
	log "node receiver on $RCV"
}

start_nginx() {
	NGX=$TMP/nginx
	mkdir -p "$NGX"
	chmod 777 "$NGX"
	NGX_PORT=$(free_port)
	sed -e "s|@DIR@|$NGX|g" -e "s|@PORT@|$NGX_PORT|g" "$BENCH_DIR/wh_nginx.conf.in" >"$NGX/nginx.conf"
	/usr/sbin/nginx -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" 2>"$NGX/stderr.log" &
	NGX_PID=$!
	PIDS+=("$NGX_PID")
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$NGX_PORT/hook")" = 204 ] && break
		sleep 0.05
	done
	[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$NGX_PORT/hook")" = 204 ] ||
		die "nginx did not start: $(cat "$NGX/error.log" "$NGX/stderr.log")"
	log "nginx receiver on http://127.0.0.1:$NGX_PORT"
}

start_irisx() {
	DATA=$TMP/data
	mkdir -p "$DATA"
	: >"$TMP/irisx.conf"
	API_PORT=$(free_port)
	API=http://127.0.0.1:$API_PORT
	(cd "$TMP" && exec env IRISX_CONFIG="$TMP/irisx.conf" \
		IRISX_HTTP_LISTEN="127.0.0.1:$API_PORT" IRISX_DATA_DIR="$DATA" IRISX_LOG_LEVEL=warn \
		IRISX_OUTBOUND_ALLOW_PRIVATE=true IRISX_WEBHOOKS_TIMEOUT_MS=300000 \
		IRISX_RATELIMIT_TENANT_RPS=$HIGH IRISX_RATELIMIT_TENANT_BURST=$HIGH \
		IRISX_RATELIMIT_KEY_RPS=$HIGH IRISX_RATELIMIT_KEY_BURST=$HIGH \
		IRISX_AUTH_ARGON2_M_KIB=19456 \
		"$BIN" serve) >"$TMP/irisx.log" 2>&1 &
	API_PID=$!
	PIDS+=("$API_PID")
	if ! wait_listen "$API_PID" "$API_PORT" "$API/readyz"; then
		tail -20 "$TMP/irisx.log" >&2
		die "irisx did not become ready"
	fi
	log "irisx serve on $API (SQLite under $DATA)"
}

# setup_tenant: registers a tenant and creates an admin-role API key; sets KEY.
setup_tenant() {
	local body code token
	body=$(jq -nc --arg p "$PASSWORD" '{email: "bench-wh@example.com", password: $p, name: "Bench"}')
	code=$(curl -s -o "$TMP/register.json" -w '%{http_code}' -X POST "$API/v1/auth/register" \
		-H 'Content-Type: application/json' -d "$body")
	[ "$code" = 201 ] || [ "$code" = 200 ] || die "register: HTTP $code $(cat "$TMP/register.json")"
	token=$(jq -r .access_token "$TMP/register.json")
	code=$(curl -s -o "$TMP/key.json" -w '%{http_code}' -X POST "$API/v1/api-keys" \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{"name":"bench-admin","role":"admin"}')
	[ "$code" = 201 ] || die "create API key: HTTP $code $(cat "$TMP/key.json")"
	KEY=$(jq -r .secret "$TMP/key.json")
	if [ -z "$KEY" ] || [ "$KEY" = null ]; then
		die "create API key: no secret in the response"
	fi
}

# endpoint URL: creates an endpoint for webhook.test; sets EP_ID and EP_SECRET.
endpoint() {
	local out
	out=$(api POST /v1/webhooks "$(jq -nc --arg u "$1" '{url: $u, events: ["webhook.test"]}')")
	EP_ID=$(jq -r '.id // empty' <<<"$out")
	EP_SECRET=$(jq -r '.secret // empty' <<<"$out")
	if [ -z "$EP_ID" ] || [ -z "$EP_SECRET" ]; then
		die "create endpoint $1: $out"
	fi
}

# --- load and counting -----------------------------------------------------------------
# load ARGS...: one wh_load.js run against EP_ID; sets ACCEPTED and EMIT_RATE.
load() {
	log "wh_load $* (${CONNS} connections)"
	timeout -k 5 $((LOAD_LIMIT + 30)) node "$BENCH_DIR/wh_load.js" "$API" "$KEY" "$EP_ID" "$@" \
		"$CONNS" "$LOAD_LIMIT" >"$TMP/load.json" || die "wh_load failed: $(cat "$TMP/load.json")"
	log "  $(cat "$TMP/load.json")"
	ACCEPTED=$(jq .accepted "$TMP/load.json")
	EMIT_RATE=$(jq '.rate | floor' "$TMP/load.json")
	[ "$(jq .errors "$TMP/load.json")" = 0 ] || warn "wh_load: $(jq .errors "$TMP/load.json") socket errors"
	[ "$ACCEPTED" = "$(jq .sent "$TMP/load.json")" ] || warn "wh_load: not every request was answered 202: $(jq -c .statuses "$TMP/load.json")"
}

# node_report: the receiver's summary (signatures checked with EP_SECRET) into R.
node_report() {
	R=$(curl -s -X POST "$RCV/_report" -d "$(jq -nc --arg s "$EP_SECRET" '{secret: $s}')")
}

# nginx_unique: unique webhook-ids in nginx's log so far.
nginx_unique() {
	awk '$3 == 204 && $1 != "-" {print $1}' "$NGX/access.log" 2>/dev/null | sort -u | wc -l
}

# drain COUNTER: waits until COUNTER (a function printing a number) reaches ACCEPTED, or it
# stops moving for 10 s, or DRAIN_LIMIT passes.
drain() {
	local counter=$1 n last=-1 still=0
	for _ in $(seq $((DRAIN_LIMIT * 2))); do
		n=$($counter)
		[ "$n" -ge "$ACCEPTED" ] && return 0
		if [ "$n" = "$last" ]; then
			still=$((still + 1))
			[ "$still" -ge 20 ] && break
		else
			still=0
		fi
		last=$n
		sleep 0.5
	done
	warn "deliveries stopped at $n of $ACCEPTED"
}

# shellcheck disable=SC2317 # called by drain
node_unique() {
	node_report
	jq .unique <<<"$R"
}

lost_check() { # LABEL LOST DUPS
	fig "webhook_lost_$1" "$2" count
	fig "webhook_duplicates_$1" "$3" count
	[ "$2" = 0 ] || warn "$1: $2 accepted events were never delivered"
}

# ---------------------------------------------------------------------------------------
busy=$(cpu_busy)
if [ "$busy" -gt 15 ]; then
	log "NOTE: the CPU was ${busy}% busy before the run started: other load skews every figure"
fi
fig machine_cores "$(nproc)" cores
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$ROOT/build/CMakeCache.txt" 2>/dev/null || true)
case "$btype" in
Release | RelWithDebInfo | MinSizeRel) fig build release "$btype" ;;
*) fig build debug "${btype:-unknown}"; warn "build/irisx is not a release build ($btype)" ;;
esac

start_receiver
start_nginx
start_irisx
setup_tenant

# (a) throughput: a burst to the node receiver, then the same to nginx
endpoint "$RCV/hook"
NODE_EP=$EP_ID NODE_SECRET=$EP_SECRET
curl -s -X POST "$RCV/_reset" >/dev/null
load burst "$BURST"
drain node_unique
node_report
fig webhook_emit_per_s "$EMIT_RATE" events/s
fig webhook_deliveries_per_s "$(jq '(.unique - 1) / ((.last_us - .first_us) / 1e6) | floor' <<<"$R")" deliveries/s
lost_check burst $((ACCEPTED - $(jq .unique <<<"$R"))) "$(jq .dups <<<"$R")"
sig_ok=0
if [ "$(jq .sig_checked <<<"$R")" -gt 0 ] && [ "$(jq '.sig_ok == .sig_checked' <<<"$R")" = true ]; then
	sig_ok=1
fi
fig webhook_signature_ok "$sig_ok" bool
log "signatures: $(jq .sig_ok <<<"$R") of $(jq .sig_checked <<<"$R") sampled deliveries verify"
[ "$sig_ok" = 1 ] || warn "webhook signatures do not verify"

endpoint "http://127.0.0.1:$NGX_PORT/hook"
load burst "$BURST"
drain nginx_unique
sleep 1.2 # nginx flushes its log buffer every second
NU=$(nginx_unique)
fig webhook_emit_per_s_nginx "$EMIT_RATE" events/s
fig webhook_deliveries_per_s_nginx "$(awk '$3 == 204 && $1 != "-" {if (!f) f = $2; l = $2; n++} END {printf "%d", (n - 1) / (l - f)}' "$NGX/access.log")" deliveries/s
lost_check burst_nginx $((ACCEPTED - NU)) $(($(awk '$3 == 204 && $1 != "-"' "$NGX/access.log" | wc -l) - NU))

# (a') the deliverer alone: a backlog queued while the receiver holds its answers
EP_ID=$NODE_EP EP_SECRET=$NODE_SECRET
curl -s -X POST "$RCV/_reset" >/dev/null
curl -s -X POST "$RCV/_hold" >/dev/null
load burst "$BURST"
log "receiver held $(curl -s -X POST "$RCV/_release") deliveries; the backlog drains"
drain node_unique
node_report
fig webhook_backlog_deliveries_per_s "$(jq '.after_release / ((.last_us - .release_us) / 1e6) | floor' <<<"$R")" deliveries/s
lost_check backlog $((ACCEPTED - $(jq .unique <<<"$R"))) "$(jq .dups <<<"$R")"

# (b) latency at a paced rate, node receiver (it reads body.timestamp)
curl -s -X POST "$RCV/_reset" >/dev/null
load rate "$RATE" "$SECS"
drain node_unique
node_report
fig "webhook_emit_per_s_paced" "$EMIT_RATE" events/s
fig "webhook_p50_ms_at_${RATE}_per_s" "$(jq '.p50_ms * 100 | round / 100' <<<"$R")" ms
fig "webhook_p99_ms_at_${RATE}_per_s" "$(jq '.p99_ms * 100 | round / 100' <<<"$R")" ms
fig "webhook_max_ms_at_${RATE}_per_s" "$(jq '.max_ms * 100 | round / 100' <<<"$R")" ms
lost_check paced $((ACCEPTED - $(jq .unique <<<"$R"))) "$(jq .dups <<<"$R")"
[ "$(jq .bad_timestamp <<<"$R")" = 0 ] || warn "$(jq .bad_timestamp <<<"$R") deliveries had no parsable body.timestamp"

kill -0 "$API_PID" 2>/dev/null || die "irisx died during the runs: $(tail -5 "$TMP/irisx.log")"
if grep -q '"level"' "$TMP/irisx.log"; then
	log "irisx logged:"
	grep '"level"' "$TMP/irisx.log" | tail -20 >&2
fi
exit "$STATUS"
