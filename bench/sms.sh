#!/usr/bin/env bash
# sms.sh: issue 7's SMS figures, one per line as NAME VALUE UNIT: submit_sm per second over
# one bind at windows 1, 10 and 50 (bench/smpp.sh), accepted POST /v1/messages per second
# (wrk, 64 connections, the worker sending to the npm smpp SMSC at the same time), and the
# end-to-end rate from the first accepted message to the last one delivered.
#   bench/sms.sh            (BENCH_SECONDS=N sets the wrk run, default 10)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/build/irisx
SECS=${BENCH_SECONDS:-10}
HIGH=10000000
log() { echo "bench: $*" >&2; }
fig() { printf '%s %s %s\n' "$1" "$2" "$3"; }
while read -r v; do unset "$v"; done < <(compgen -e | grep '^IRISX_' || true)
for tool in wrk curl jq sqlite3 node; do command -v "$tool" >/dev/null || { log "$tool missing"; exit 1; }; done
[ -x "$BIN" ] || make -C "$ROOT" build >&2
(cd "$ROOT/tests/e2e" && [ -d node_modules/smpp ] || npm install --no-audit --no-fund --loglevel=error >&2)

"$ROOT/bench/smpp.sh" | grep -E '^smpp_submit_per_s' || log "bench/smpp.sh failed"

TMP=$(mktemp -d /tmp/irisx-bench-sms.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
            for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# the SMSC (quiet: no line per submit)
mkfifo "$TMP/smsc.in"
node "$ROOT/tests/e2e/lib/smsc.js" --port 0 --system-id bench --password pw --quiet \
	<"$TMP/smsc.in" >"$TMP/smsc.out" 2>"$TMP/smsc.err" & PIDS+=($!)
exec 7>"$TMP/smsc.in" # keep its stdin open
for _ in $(seq 100); do grep -q listening "$TMP/smsc.out" && break; sleep 0.05; done
SMSC_PORT=$(grep -m1 listening "$TMP/smsc.out" | jq -r .port)

PORT=$(free_port)
export IRISX_DATA_DIR=$TMP/var IRISX_HTTP_LISTEN=127.0.0.1:$PORT IRISX_AUTH_ARGON2_M_KIB=1024 \
	IRISX_AUTH_ARGON2_T_COST=1 IRISX_RATELIMIT_KEY_RPS=$HIGH IRISX_RATELIMIT_KEY_BURST=$HIGH \
	IRISX_RATELIMIT_TENANT_RPS=$HIGH IRISX_RATELIMIT_TENANT_BURST=$HIGH IRISX_LOG_LEVEL=warn
mkdir -p "$TMP/var"
"$BIN" admin create-platform-admin --email ops@bench.example.com --password 'bench-password-0123456789' >/dev/null
"$BIN" serve >"$TMP/irisx.out" 2>"$TMP/irisx.err" & PIDS+=($!)
B=http://127.0.0.1:$PORT
for _ in $(seq 200); do curl -sf "$B/healthz" >/dev/null && break; sleep 0.05; done
J='content-type: application/json'
ADM=$(curl -sf "$B/v1/auth/login" -H "$J" -d '{"email":"ops@bench.example.com","password":"bench-password-0123456789"}' | jq -r .access_token)
REG=$(curl -sf "$B/v1/auth/register" -H "$J" -d '{"email":"t@bench.example.com","password":"bench-password-0123456789","name":"Bench"}')
TOK=$(jq -r .access_token <<<"$REG"); TID=$(jq -r .tenant.id <<<"$REG")
KEY=$(curl -sf "$B/v1/api-keys" -H "authorization: Bearer $TOK" -H "$J" -d '{"name":"bench","role":"developer"}' | jq -r .secret)
curl -sf "$B/v1/admin/messaging-providers" -H "authorization: Bearer $ADM" -H "$J" \
	-d "{\"name\":\"smsc\",\"kind\":\"smpp\",\"config\":{\"host\":\"127.0.0.1\",\"port\":$SMSC_PORT,\"system_id\":\"bench\",\"password\":\"pw\",\"window\":50}}" >/dev/null
curl -sf "$B/v1/admin/phone-numbers" -H "authorization: Bearer $ADM" -H "$J" -d "{\"number\":\"+15550009000\",\"tenant_id\":\"$TID\"}" >/dev/null
sleep 0.5
log "wrk -t2 -c64 -d${SECS}s POST /v1/messages"
BENCH_LUA_DIR=$ROOT/bench BENCH_REPORT=$TMP/wrk.txt BENCH_AUTH="Bearer $KEY" BENCH_FROM=+15550009000 \
	wrk -t2 -c64 -d"${SECS}s" -s "$ROOT/bench/sms_create.lua" "$B" >&2
req=$(awk '/^requests/{print $2}' "$TMP/wrk.txt"); dur=$(awk '/^duration_us/{print $2}' "$TMP/wrk.txt")
non2xx=$(awk '/^non2xx/{print $2}' "$TMP/wrk.txt"); p99=$(awk '/^p99_us/{print $2}' "$TMP/wrk.txt")
ok=$((req - non2xx))
fig sms_api_accepted_per_s "$(awk -v n="$ok" -v d="$dur" 'BEGIN{printf "%d", n/(d/1e6)}')" msg/s
fig sms_api_p99_ms "$(awk -v p="$p99" 'BEGIN{printf "%.1f", p/1000}')" ms
fig sms_api_non2xx "$non2xx" responses
DB=$TMP/var/irisx.db
log "waiting for the worker to drain $ok messages"
for _ in $(seq 1200); do
	left=$(sqlite3 "$DB" "SELECT COUNT(*) FROM messages WHERE status IN ('queued','sending')" 2>/dev/null || echo 1)
	[ "$left" = 0 ] && break; sleep 0.5
done
read -r first last n < <(sqlite3 -separator ' ' "$DB" "SELECT MIN(created_us), MAX(done_us), COUNT(*) FROM messages WHERE status = 'delivered'")
fig sms_delivered "$n" messages
fig sms_end_to_end_per_s "$(awk -v n="$n" -v a="$first" -v b="$last" 'BEGIN{ if (b > a) printf "%d", n/((b-a)/1e6); else print 0 }')" msg/s
fig sms_left_open "$(sqlite3 "$DB" "SELECT COUNT(*) FROM messages WHERE status IN ('queued','sending')")" messages
