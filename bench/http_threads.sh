#!/usr/bin/env bash
# http_threads.sh: what http.threads does to accepted POST /v1/messages while logins (with
# the default argon2id cost) run alongside: for each http.threads value and each number of
# back-to-back login loops, an api-only process on a fresh SQLite database, wrk -t2 -c64
# posting messages for $BENCH_SECONDS s. Figures, one per line as NAME VALUE UNIT, named
# threads<T>_logins<L>_*: accepted_per_s, p99_ms, max_ms, logins (done meanwhile),
# login_p50_ms.
#   bench/http_threads.sh     BENCH_THREADS="0 2" BENCH_LOGINS="0 2" BENCH_SECONDS=10
#                             BENCH_LOGIN_SLEEP=S pauses each login loop S s between logins
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/build/irisx
SECS=${BENCH_SECONDS:-10}
HIGH=10000000
log() { echo "bench: $*" >&2; }
fig() { printf '%s %s %s\n' "$1" "$2" "$3"; }
while read -r v; do unset "$v"; done < <(compgen -e | grep '^IRISX_' || true)
for tool in wrk curl jq python3; do command -v "$tool" >/dev/null || { log "$tool missing"; exit 1; }; done
[ -x "$BIN" ] || make -C "$ROOT" build >&2

TMP=$(mktemp -d /tmp/irisx-bench-threads.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
            for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
J='content-type: application/json'
PW='bench-password-0123456789'

# run THREADS LOGINS: one measurement
run() {
	local t=$1 l=$2 name="threads$1_logins$2" dir=$TMP/$1-$2 port
	mkdir -p "$dir"; port=$(free_port)
	local env=(IRISX_RATELIMIT_KEY_RPS=$HIGH IRISX_RATELIMIT_KEY_BURST=$HIGH
		IRISX_RATELIMIT_TENANT_RPS=$HIGH IRISX_RATELIMIT_TENANT_BURST=$HIGH
		IRISX_AUTH_LOGIN_MAX_FAILURES=10000 IRISX_LOG_LEVEL=warn IRISX_VOICE_ENABLED=false
		IRISX_ROLES=api IRISX_HTTP_THREADS=$t IRISX_DATA_DIR=$dir)
	env "${env[@]}" "$BIN" admin create-platform-admin --email ops@bench.example.com --password "$PW" >/dev/null
	env "${env[@]}" IRISX_HTTP_LISTEN=127.0.0.1:$port "$BIN" serve >"$dir/out" 2>"$dir/err" &
	local pid=$!; PIDS+=($pid)
	local b=http://127.0.0.1:$port adm reg tok tid key
	for _ in $(seq 200); do curl -sf "$b/healthz" >/dev/null && break; sleep 0.05; done
	adm=$(curl -sf "$b/v1/auth/login" -H "$J" -d "{\"email\":\"ops@bench.example.com\",\"password\":\"$PW\"}" | jq -r .access_token)
	reg=$(curl -sf "$b/v1/auth/register" -H "$J" -d "{\"email\":\"t@bench.example.com\",\"password\":\"$PW\",\"name\":\"Bench\"}")
	tok=$(jq -r .access_token <<<"$reg"); tid=$(jq -r .tenant.id <<<"$reg")
	key=$(curl -sf "$b/v1/api-keys" -H "authorization: Bearer $tok" -H "$J" -d '{"name":"bench","role":"developer"}' | jq -r .secret)
	curl -sf "$b/v1/admin/phone-numbers" -H "authorization: Bearer $adm" -H "$J" -d "{\"number\":\"+15550009000\",\"tenant_id\":\"$tid\"}" >/dev/null
	sleep 0.5
	log "$name: wrk -t2 -c64 -d${SECS}s POST /v1/messages, $l login loops"
	local end=$(($(date +%s) + SECS)) loops=()
	for i in $(seq "$l"); do
		( while [ "$(date +%s)" -lt "$end" ]; do
			curl -s -o /dev/null -w '%{time_total}\n' "$b/v1/auth/login" -H "$J" -d "{\"email\":\"t@bench.example.com\",\"password\":\"$PW\"}"
			sleep "${BENCH_LOGIN_SLEEP:-0}"
		  done >"$dir/login.$i" ) & loops+=($!)
	done
	BENCH_LUA_DIR=$ROOT/bench BENCH_REPORT=$dir/wrk.txt BENCH_AUTH="Bearer $key" BENCH_FROM=+15550009000 \
		wrk -t2 -c64 -d"${SECS}s" -s "$ROOT/bench/sms_create.lua" "$b" >&2
	for p in "${loops[@]}"; do wait "$p" || true; done
	kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
	local req dur non2xx
	req=$(awk '/^requests/{print $2}' "$dir/wrk.txt"); dur=$(awk '/^duration_us/{print $2}' "$dir/wrk.txt")
	non2xx=$(awk '/^non2xx/{print $2}' "$dir/wrk.txt")
	fig "${name}_accepted_per_s" "$(awk -v n=$((req - non2xx)) -v d="$dur" 'BEGIN{printf "%d", n/(d/1e6)}')" msg/s
	fig "${name}_p99_ms" "$(awk '/^p99_us/{printf "%.1f", $2/1000}' "$dir/wrk.txt")" ms
	fig "${name}_max_ms" "$(awk '/^max_us/{printf "%.0f", $2/1000}' "$dir/wrk.txt")" ms
	fig "${name}_non2xx" "$non2xx" responses
	if [ "$l" -gt 0 ]; then
		fig "${name}_logins" "$(cat "$dir"/login.* | wc -l)" logins
		fig "${name}_login_p50_ms" "$(cat "$dir"/login.* | sort -n | awk '{a[NR]=$1} END{if (NR) printf "%.0f", a[int(NR/2)+1]*1000}')" ms
	fi
}

for t in ${BENCH_THREADS:-0 2}; do
	for l in ${BENCH_LOGINS:-0 2}; do
		sync
		run "$t" "$l"
	done
done
