#!/usr/bin/env bash
# sms.sh: issue 7's SMS figures, one per line as NAME VALUE UNIT: submit_sm per second over
# one bind at windows 1, 10 and 50 (bench/smpp.sh), then accepted POST /v1/messages per
# second (wrk, 64 connections) twice, on a fresh database each time:
#   sms_all_*  one process with every role: the worker sends to the npm smpp SMSC while wrk
#              posts (all on the same 2 cores), then the end-to-end rate from the first
#              accepted message to the last one delivered;
#   sms_api_*  an api-only process (roles=api, as an API node of a split deployment), then a
#              worker-only process (roles=worker) on the same database drains the backlog:
#              sms_split_* counts what it delivered and how fast.
#   bench/sms.sh            (BENCH_SECONDS=N sets the wrk run, default 10)
#   BENCH_HTTP_THREADS=N    serve with http.threads = N (0: a thread per connection; default:
#                           the server's, 2 epoll threads)
#   BENCH_PHASES="api"      only some of: smpp api split all (default: every one)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/build/irisx
SECS=${BENCH_SECONDS:-10}
PHASES=" ${BENCH_PHASES:-smpp api split all} "
want() { [[ $PHASES == *" $1 "* ]]; }
HIGH=10000000
log() { echo "bench: $*" >&2; }
fig() { printf '%s %s %s\n' "$1" "$2" "$3"; }
while read -r v; do unset "$v"; done < <(compgen -e | grep '^IRISX_' || true)
for tool in wrk curl jq sqlite3 node; do command -v "$tool" >/dev/null || { log "$tool missing"; exit 1; }; done
[ -x "$BIN" ] || make -C "$ROOT" build >&2
(cd "$ROOT/tests/e2e" && [ -d node_modules/smpp ] || npm install --no-audit --no-fund --loglevel=error >&2)

if want smpp; then
	"$ROOT/bench/smpp.sh" | grep -E '^smpp_submit_per_s' || log "bench/smpp.sh failed"
fi

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

HOST_ENV=(IRISX_AUTH_ARGON2_M_KIB=1024 IRISX_AUTH_ARGON2_T_COST=1 IRISX_RATELIMIT_KEY_RPS=$HIGH
	IRISX_RATELIMIT_KEY_BURST=$HIGH IRISX_RATELIMIT_TENANT_RPS=$HIGH
	IRISX_RATELIMIT_TENANT_BURST=$HIGH IRISX_LOG_LEVEL=warn IRISX_VOICE_ENABLED=false)
[ -n "${BENCH_HTTP_THREADS:-}" ] && HOST_ENV+=(IRISX_HTTP_THREADS=$BENCH_HTTP_THREADS)
J='content-type: application/json'

# serve ROLES DIR PORT: starts irisx serve in the background (pid in SPID)
serve() {
	env "${HOST_ENV[@]}" IRISX_ROLES="$1" IRISX_DATA_DIR="$2" IRISX_HTTP_LISTEN=127.0.0.1:$3 \
		"$BIN" serve >>"$2/irisx.out" 2>>"$2/irisx.err" & SPID=$!; PIDS+=($SPID)
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# phase NAME ROLES: a fresh database, a tenant with a key and a number, the SMSC provider,
# wrk for $SECS s; prints NAME_accepted_per_s, NAME_p99_ms, NAME_non2xx. Sets DIR, OK.
phase() {
	local name=$1 roles=$2
	DIR=$TMP/$name; mkdir -p "$DIR"
	env "${HOST_ENV[@]}" IRISX_DATA_DIR="$DIR" "$BIN" admin create-platform-admin \
		--email ops@bench.example.com --password 'bench-password-0123456789' >/dev/null
	PORT=$(free_port); serve "$roles" "$DIR" "$PORT"; API_PID=$SPID
	B=http://127.0.0.1:$PORT
	for _ in $(seq 200); do curl -sf "$B/healthz" >/dev/null && break; sleep 0.05; done
	local adm reg tok tid key
	adm=$(curl -sf "$B/v1/auth/login" -H "$J" -d '{"email":"ops@bench.example.com","password":"bench-password-0123456789"}' | jq -r .access_token)
	reg=$(curl -sf "$B/v1/auth/register" -H "$J" -d '{"email":"t@bench.example.com","password":"bench-password-0123456789","name":"Bench"}')
	tok=$(jq -r .access_token <<<"$reg"); tid=$(jq -r .tenant.id <<<"$reg")
	key=$(curl -sf "$B/v1/api-keys" -H "authorization: Bearer $tok" -H "$J" -d '{"name":"bench","role":"developer"}' | jq -r .secret)
	local pid
	pid=$(curl -sf "$B/v1/admin/messaging-providers" -H "authorization: Bearer $adm" -H "$J" \
		-d "{\"name\":\"smsc\",\"kind\":\"smpp\",\"config\":{\"host\":\"127.0.0.1\",\"port\":$SMSC_PORT,\"system_id\":\"bench\",\"password\":\"pw\",\"window\":50}}" | jq -r .id)
	# a rate deck of 2,000 prefixes (every message is priced at acceptance, as in production)
	jq -n '{csv: ("prefix,cost\n1,0.0075\n" + ([range(0; 1999) | "1\(200 + .),0.00\(10 + (. % 80))"] | join("\n")))}' |
		curl -sf -X PUT "$B/v1/admin/messaging-providers/$pid/rates" -H "authorization: Bearer $adm" -H "$J" -d @- >/dev/null
	curl -sf "$B/v1/admin/phone-numbers" -H "authorization: Bearer $adm" -H "$J" -d "{\"number\":\"+15550009000\",\"tenant_id\":\"$tid\"}" >/dev/null
	sleep 0.5
	log "$name (roles $roles): wrk -t2 -c64 -d${SECS}s POST /v1/messages"
	local cpu0 cpu1
	cpu0=$(awk '{print $14 + $15}' "/proc/$API_PID/stat")
	BENCH_LUA_DIR=$ROOT/bench BENCH_REPORT=$DIR/wrk.txt BENCH_AUTH="Bearer $key" BENCH_FROM=+15550009000 \
		wrk -t2 -c64 -d"${SECS}s" -s "$ROOT/bench/sms_create.lua" "$B" >&2
	cpu1=$(awk '{print $14 + $15}' "/proc/$API_PID/stat")
	local req dur non2xx p99
	req=$(awk '/^requests/{print $2}' "$DIR/wrk.txt"); dur=$(awk '/^duration_us/{print $2}' "$DIR/wrk.txt")
	non2xx=$(awk '/^non2xx/{print $2}' "$DIR/wrk.txt"); p99=$(awk '/^p99_us/{print $2}' "$DIR/wrk.txt")
	OK=$((req - non2xx))
	fig "${name}_accepted_per_s" "$(awk -v n="$OK" -v d="$dur" 'BEGIN{printf "%d", n/(d/1e6)}')" msg/s
	fig "${name}_p99_ms" "$(awk -v p="$p99" 'BEGIN{printf "%.1f", p/1000}')" ms
	fig "${name}_non2xx" "$non2xx" responses
	# CPU of the irisx process per request (clock ticks of 10 ms over the run)
	fig "${name}_cpu_per_req_us" "$(awk -v a="$cpu0" -v b="$cpu1" -v n="$req" 'BEGIN{ if (n > 0) printf "%.0f", (b-a)*10000/n; else print 0 }')" us
}

# drain NAME: waits for the worker to finish, prints NAME_delivered, _end_to_end_per_s,
# _left_open (rates from the first message accepted, or from FROM_US when given)
drain() {
	local name=$1 from=${2:-} db=$DIR/irisx.db left first last n
	log "$name: waiting for the worker to drain $OK messages"
	for _ in $(seq 1200); do
		left=$(sqlite3 "$db" "SELECT COUNT(*) FROM messages WHERE status IN ('queued','sending')" 2>/dev/null || echo 1)
		[ "$left" = 0 ] && break; sleep 0.5
	done
	read -r first last n < <(sqlite3 -separator ' ' "$db" "SELECT MIN(created_us), MAX(done_us), COUNT(*) FROM messages WHERE status = 'delivered'")
	[ -n "$from" ] && first=$from
	fig "${name}_delivered" "$n" messages
	fig "${name}_end_to_end_per_s" "$(awk -v n="$n" -v a="$first" -v b="$last" 'BEGIN{ if (b > a) printf "%d", n/((b-a)/1e6); else print 0 }')" msg/s
	fig "${name}_left_open" "$(sqlite3 "$db" "SELECT COUNT(*) FROM messages WHERE status IN ('queued','sending')")" messages
}

# each phase on a fresh database, after a sync so the previous one's writeback is not billed
if want api; then
	sync
	phase sms_api api
	if want split; then
		# the API node keeps serving; a worker node on the same database takes the backlog
		start_us=$(($(date +%s%N) / 1000))
		serve worker "$DIR" "$(free_port)"; WORKER_PID=$SPID
		drain sms_split "$start_us"
		stop "$WORKER_PID"
	fi
	stop "$API_PID"
fi

if want all; then
	sync
	phase sms_all api,worker,media
	drain sms_all
	stop "$API_PID"
fi
