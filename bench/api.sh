#!/usr/bin/env bash
# api.sh: the figures of issue 3 ("Figures"), one per line on stdout as NAME VALUE UNIT;
# progress, wrk's own output and warnings go to stderr.
#
#   bench/api.sh            (from anywhere; BENCH_SECONDS=N sets each wrk run, default 10)
#
# What runs, all on 127.0.0.1 and all started here:
#   - build/irisx serve on SQLite under a temp dir: idle RSS, then wrk -t2 -c64 on
#     GET /v1/tenant with an API key and on POST /v1/api-keys (a create that writes a row),
#     then kill -9 and count the rows against wrk's 2xx responses;
#   - nginx serving the real /v1/tenant body as a static file, the ceiling;
#   - the same irisx runs on a throwaway PostgreSQL cluster (scripts/pg-test.sh).
# Every process is stopped by its own PID on exit and the temp dir is removed.
#
# The machine has 2 cores and wrk (2 threads) runs on the same ones as the server, so
# every figure here, nginx's included, is measured with the load generator taking a
# large share of the CPU. The ratio api_get_vs_nginx compares like with like; the
# absolute numbers are lower than a server on its own cores would reach.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=$ROOT/bench
BIN=$ROOT/build/irisx
SECS=${BENCH_SECONDS:-10}
THREADS=2
CONNS=64
HIGH=10000000 # rate limits far above anything wrk can reach
PASSWORD='bench-password-0123456789'
STATUS=0

log() { echo "bench: $*" >&2; }
warn() { echo "bench: WARNING: $*" >&2; STATUS=1; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }
fig() { printf '%s %s %s\n' "$1" "$2" "$3"; }

# An IRISX_* variable inherited from the caller (a database URL, a config file) would
# change what is measured; only the ones set below count.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^IRISX_' || true)

for tool in wrk curl jq sqlite3 ss; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install wrk curl jq sqlite3 iproute2)"
done
[ -x /usr/sbin/nginx ] || die "/usr/sbin/nginx not found (apt-get install nginx-light)"

if [ ! -x "$BIN" ]; then
	log "build/irisx missing: make build"
	make -C "$ROOT" build >&2
fi

TMP=$(mktemp -d /tmp/irisx-bench.XXXXXX)
chmod 755 "$TMP" # nginx workers (nobody) and postgres read below it
PIDS=()
PG_DIR=

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
	if [ -n "$PG_DIR" ]; then "$ROOT/scripts/pg-test.sh" stop "$PG_DIR" >&2 || true; fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	for _ in $(seq 100); do
		p=$((20000 + RANDOM % 40000))
		if ! ss -Hltn "sport = :$p" | grep -q .; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
}

# wait_listen PID PORT URL: until PID itself listens on PORT and URL answers 200.
# Checking the owner of the socket matters: another server on the same port would answer.
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

rss_mb() { # PID -> VmRSS in MB, one decimal
	awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"
}

# proc_snapshot FILE: "pid ppid jiffies comm" of every process, for foreign_cpu.
proc_snapshot() {
	local f line rest a
	for f in /proc/[0-9]*/stat; do
		read -r line <"$f" 2>/dev/null || continue
		rest=${line##*) }
		read -r -a a <<<"$rest"
		line=${line#* (}
		printf '%s %s %s %s\n' "${f//[^0-9]/}" "${a[1]}" $((a[11] + a[12])) "${line%) *}"
	done >"$1"
}

# foreign_cpu BEFORE AFTER SECONDS LABEL: the share of the machine's CPU used during a run
# by user processes that are neither this script's children nor PostgreSQL's (another
# benchmark or build on the same machine skews every figure). Kernel threads are left out.
foreign_cpu() {
	local pg=0
	[ -n "$PG_DIR" ] && [ -f "$PG_DIR/pid" ] && pg=$(cat "$PG_DIR/pid")
	awk -v me=$$ -v pg="$pg" -v secs="$(($3 > 0 ? $3 : 1))" -v cpus="$(nproc)" -v hz="$(getconf CLK_TCK)" '
		NR == FNR { before[$1] = $3; next }
		{ ppid[$1] = $2; j[$1] = $3; c = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ /, "", c); comm[$1] = c }
		function ours(p) {
			for (; p > 2; p = ppid[p]) if (p == me || p == pg) return 1
			return p == 2
		}
		END {
			for (p in j) {
				if (ours(p)) continue
				d = j[p] - (p in before ? before[p] : 0)
				if (d <= 0) continue
				total += d; by[comm[p]] += d
			}
			pct = 100 * total / (secs * cpus * hz)
			if (pct < 5) exit
			printf "%d%% of the CPU went to other processes:", pct
			for (c in by) if (by[c] * 20 >= total) printf " %s (%d%%)", c, 100 * by[c] / (secs * cpus * hz)
			printf "\n"
		}' "$1" "$2"
}

# run_wrk LABEL URL SCRIPT [AUTH]: one wrk run; leaves report.lua's lines in W and
# R_rps, R_p99_ms, R_2xx.
declare -A W
run_wrk() {
	local label=$1 url=$2 script=$3 auth=${4:-}
	local report=$TMP/wrk-$label.report
	log "wrk $label: -t$THREADS -c$CONNS -d${SECS}s $url"
	proc_snapshot "$TMP/procs.before"
	local t0=$EPOCHSECONDS
	BENCH_REPORT=$report BENCH_LUA_DIR=$BENCH_DIR BENCH_AUTH=$auth \
		wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 5s -s "$BENCH_DIR/$script" "$url" \
		>"$TMP/wrk-$label.out" 2>&1 &
	local wpid=$!
	PIDS+=("$wpid")
	local rc=0
	wait "$wpid" || rc=$?
	proc_snapshot "$TMP/procs.after"
	local other
	other=$(foreign_cpu "$TMP/procs.before" "$TMP/procs.after" $((EPOCHSECONDS - t0)) "$label")
	[ -z "$other" ] || log "NOTE: $label: $other"
	sed 's/^/  /' "$TMP/wrk-$label.out" >&2
	[ "$rc" = 0 ] || die "wrk $label exited with status $rc"
	[ -s "$report" ] || die "wrk $label wrote no report"
	local k v
	W=()
	while read -r k v; do W[$k]=$v; done <"$report"
	R_rps=$(awk -v n="${W[requests]}" -v us="${W[duration_us]}" 'BEGIN {printf "%d", n / (us / 1e6)}')
	R_p99_ms=$(awk -v us="${W[p99_us]}" 'BEGIN {printf "%.2f", us / 1000}')
	R_2xx=$((W[requests] - W[non2xx]))
	local sock=$((W[err_connect] + W[err_read] + W[err_write] + W[err_timeout]))
	[ "${W[non2xx]}" = 0 ] || warn "$label: ${W[non2xx]} of ${W[requests]} responses were not 2xx/3xx"
	[ "$sock" = 0 ] || warn "$label: socket errors connect ${W[err_connect]} read ${W[err_read]} write ${W[err_write]} timeout ${W[err_timeout]}"
	[ "${W[requests]}" -gt 0 ] || warn "$label: no request completed"
}

# start_irisx LABEL [VAR=VALUE...]: sets API_PORT, API_PID, API, DATA.
start_irisx() {
	local label=$1
	shift
	DATA=$TMP/data-$label
	mkdir -p "$DATA"
	: >"$TMP/irisx.conf" # an empty config file: defaults plus the variables below
	API_PORT=$(free_port)
	API=http://127.0.0.1:$API_PORT
	log "irisx serve ($label) on $API"
	(cd "$TMP" && exec env IRISX_CONFIG="$TMP/irisx.conf" \
		IRISX_HTTP_LISTEN="127.0.0.1:$API_PORT" IRISX_DATA_DIR="$DATA" IRISX_LOG_LEVEL=warn \
		IRISX_RATELIMIT_TENANT_RPS=$HIGH IRISX_RATELIMIT_TENANT_BURST=$HIGH \
		IRISX_RATELIMIT_KEY_RPS=$HIGH IRISX_RATELIMIT_KEY_BURST=$HIGH \
		IRISX_AUTH_ARGON2_M_KIB=19456 "$@" \
		"$BIN" serve) >"$TMP/irisx-$label.log" 2>&1 &
	API_PID=$!
	PIDS+=("$API_PID")
	if ! wait_listen "$API_PID" "$API_PORT" "$API/readyz"; then
		tail -20 "$TMP/irisx-$label.log" >&2
		die "irisx ($label) did not become ready"
	fi
}

# setup_tenant LABEL: registers a tenant and creates an admin-role API key; sets KEY.
# The key (not the owner's 15-minute access token) authenticates both wrk runs.
setup_tenant() {
	local label=$1 body code
	body=$(jq -nc --arg e "bench-$label@example.com" --arg p "$PASSWORD" \
		'{email: $e, password: $p, name: "Bench"}')
	code=$(curl -s -o "$TMP/register.json" -w '%{http_code}' -X POST "$API/v1/auth/register" \
		-H 'Content-Type: application/json' -d "$body")
	[ "$code" = 201 ] || [ "$code" = 200 ] || die "register ($label): HTTP $code $(cat "$TMP/register.json")"
	local token
	token=$(jq -r .access_token "$TMP/register.json")
	code=$(curl -s -o "$TMP/key.json" -w '%{http_code}' -X POST "$API/v1/api-keys" \
		-H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
		-d '{"name":"bench-admin","role":"admin"}')
	[ "$code" = 201 ] || die "create API key ($label): HTTP $code $(cat "$TMP/key.json")"
	KEY=$(jq -r .secret "$TMP/key.json")
	if [ -z "$KEY" ] || [ "$KEY" = null ]; then
		die "create API key ($label): no secret in the response"
	fi
	code=$(curl -s -o "$TMP/tenant-$label.json" -w '%{http_code}' "$API/v1/tenant" \
		-H "Authorization: Bearer $KEY")
	[ "$code" = 200 ] || die "GET /v1/tenant ($label): HTTP $code $(cat "$TMP/tenant-$label.json")"
}

# idle_rss LABEL: after startup, before any request but the readiness probes.
idle_rss() {
	sleep 1
	fig "idle_rss_$1" "$(rss_mb "$API_PID")" MB
}

# load_runs LABEL: the GET and create runs against the server just set up, then kill -9.
load_runs() {
	local label=$1
	run_wrk "get_$label" "$API/v1/tenant" get.lua "Bearer $KEY"
	fig "api_get_rps_$label" "$R_rps" req/s
	fig "api_get_p99_$label" "$R_p99_ms" ms
	GET_RPS=$R_rps
	run_wrk "create_$label" "$API/v1/api-keys" create.lua "Bearer $KEY"
	fig "api_create_rps_$label" "$R_rps" req/s
	fig "api_create_p99_$label" "$R_p99_ms" ms
	CREATE_2XX=$R_2xx
	kill -0 "$API_PID" 2>/dev/null ||
		die "irisx ($label) died during the runs: $(tail -5 "$TMP/irisx-$label.log")"
	if grep -q '"level"' "$TMP/irisx-$label.log"; then
		log "irisx ($label) logged:"
		grep '"level"' "$TMP/irisx-$label.log" | tail -20 >&2
	fi
	# kill -9, not a clean stop: a row counted afterwards was on disk, not in the server's
	# memory. wrk stops counting at the deadline, so up to $CONNS creates in flight then may
	# be committed without being counted: rows - 2xx in 0..$CONNS is right, below 0 a loss.
	sleep 0.5
	kill -KILL "$API_PID" 2>/dev/null || true
	wait "$API_PID" 2>/dev/null || true
}

# count_check LABEL ROWS: ROWS counts the setup key too.
count_check() {
	local label=$1 rows=$2
	local diff=$((rows - 1 - CREATE_2XX))
	fig "api_create_2xx_$label" "$CREATE_2XX" count
	fig "api_keys_rows_$label" "$rows" count
	fig "api_create_count_check_$label" "$diff" rows
	if [ "$diff" -lt 0 ]; then
		warn "$label: $((-diff)) acknowledged creates are missing from the database"
	elif [ "$diff" -gt "$CONNS" ]; then
		warn "$label: $diff rows more than 2xx responses (more than the $CONNS in flight)"
	else
		log "$label: every acknowledged create is in the database ($diff more rows, in flight at the deadline)"
	fi
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

# --- SQLite, then nginx as the ceiling -------------------------------------------------
start_irisx sqlite
idle_rss sqlite
setup_tenant sqlite

# nginx serves the body irisx returns for GET /v1/tenant, so both send the same bytes;
# it runs before any irisx load and is stopped before the irisx runs.
NGX=$TMP/nginx
mkdir -p "$NGX/www"
cp "$TMP/tenant-sqlite.json" "$NGX/www/tenant.json"
chmod 755 "$NGX" "$NGX/www"
chmod 644 "$NGX/www/tenant.json"
NGX_PORT=$(free_port)
sed -e "s|@DIR@|$NGX|g" -e "s|@PORT@|$NGX_PORT|g" "$BENCH_DIR/nginx.conf.in" >"$NGX/nginx.conf"
log "nginx on http://127.0.0.1:$NGX_PORT/tenant.json ($(stat -c %s "$NGX/www/tenant.json") bytes)"
/usr/sbin/nginx -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" 2>"$NGX/stderr.log" &
NGX_PID=$!
PIDS+=("$NGX_PID")
if ! wait_listen "$NGX_PID" "$NGX_PORT" "http://127.0.0.1:$NGX_PORT/tenant.json"; then
	cat "$NGX/error.log" "$NGX/stderr.log" >&2
	die "nginx did not start"
fi
run_wrk nginx "http://127.0.0.1:$NGX_PORT/tenant.json" static.lua
NGINX_RPS=$R_rps
fig nginx_static_rps "$NGINX_RPS" req/s
stop_pid "$NGX_PID"

load_runs sqlite
count_check sqlite "$(sqlite3 "$DATA/irisx.db" 'select count(*) from api_keys')"
integrity=$(sqlite3 "$DATA/irisx.db" 'pragma integrity_check' | head -5)
[ "$integrity" = ok ] || warn "sqlite integrity_check after kill -9: $integrity"
fig api_get_vs_nginx "$(awk -v a="$GET_RPS" -v n="$NGINX_RPS" 'BEGIN {printf "%.2f", a / n}')" ratio

# --- PostgreSQL ------------------------------------------------------------------------
if [ ! -x "$ROOT/scripts/pg-test.sh" ]; then
	warn "scripts/pg-test.sh missing: no PostgreSQL figures"
	exit "$STATUS"
fi
PG_DIR=$TMP/pg
PG_PORT=$(free_port)
log "PostgreSQL cluster on 127.0.0.1:$PG_PORT"
if ! "$ROOT/scripts/pg-test.sh" start "$PG_DIR" "$PG_PORT" >"$TMP/pg.env" 2>"$TMP/pg.err"; then
	cat "$TMP/pg.err" >&2
	warn "PostgreSQL did not start: no PostgreSQL figures"
	exit "$STATUS"
fi
pg_var() { sed -n "s/^$1=//p" "$TMP/pg.env"; }
PG_URL=$(pg_var IRISX_TEST_PG_URL)
PG_MIGRATE_URL=$(pg_var IRISX_TEST_PG_MIGRATE_URL)
PG_ADMIN_URL=$(pg_var IRISX_TEST_PG_ADMIN_URL)
if [ -z "$PG_URL" ] || [ -z "$PG_MIGRATE_URL" ]; then
	die "pg-test.sh printed no URLs: $(cat "$TMP/pg.env")"
fi

start_irisx pg IRISX_DATABASE_URL="$PG_URL" IRISX_DATABASE_MIGRATE_URL="$PG_MIGRATE_URL" \
	IRISX_DATABASE_APP_ROLE=irisx_app
idle_rss pg
setup_tenant pg
load_runs pg
if [ -n "$PG_ADMIN_URL" ]; then
	PSQL=$(printf '%s\n' /usr/lib/postgresql/*/bin/psql | sort -V | tail -1)
	[ -x "$PSQL" ] || PSQL=psql
	# as the superuser, which row-level security does not filter: every tenant's rows
	rows=$("$PSQL" -X -At -d "${PG_ADMIN_URL%/*}/${PG_URL##*/}" -c 'select count(*) from api_keys')
	count_check pg "$rows"
fi
fig api_get_vs_nginx_pg "$(awk -v a="$GET_RPS" -v n="$NGINX_RPS" 'BEGIN {printf "%.2f", a / n}')" ratio

exit "$STATUS"
