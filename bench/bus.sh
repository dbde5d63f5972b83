#!/usr/bin/env bash
# bus.sh: the bus figures of issue 4 ("Figures"), one per line on stdout as NAME VALUE UNIT;
# progress and warnings go to stderr.
#
#   bench/bus.sh            (from anywhere; BENCH_N=N messages per throughput run, default
#                            200000; BENCH_BATCH=B per bus_publish call, default 1000)
#
# What runs, all on 127.0.0.1 and all started here, side by side in one run:
#   - build/bench/irisx_bench_bus on the store backend over SQLite (temp dir);
#   - the same on the store backend over a throwaway PostgreSQL cluster (scripts/pg-test.sh);
#   - the same on NATS JetStream (scripts/nats-test.sh), with a SQLite store beside it.
# Each run prints, prefixed bus_<backend>_: msgs_per_s (one consumer, batch 256, acking
# everything: N / first publish to last ack, on an empty table), publish_msgs_per_s
# (nobody consuming), and p50/p99/max_ms_at_1000_per_s (paced publishing for 5 s, the
# payload carries the publish time). NATS needs the JetStream backend in src/bus/nats.c;
# until it lands bus_open answers -ENOTSUP and the script warns instead of printing.
# Every process is stopped by its own PID on exit; every run is bounded by `timeout`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/build/bench/irisx_bench_bus
N=${BENCH_N:-200000}
BATCH=${BENCH_BATCH:-1000}
RUN_LIMIT=150 # seconds per backend, whatever happens
STATUS=0

log() { echo "bench: $*" >&2; }
warn() { echo "bench: WARNING: $*" >&2; STATUS=1; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }
fig() { printf '%s %s %s\n' "$1" "$2" "$3"; }

# An IRISX_* variable inherited from the caller would change what is measured.
while read -r v; do unset "$v"; done < <(compgen -e | grep '^IRISX_' || true)

for tool in ninja cmake ss; do
	command -v "$tool" >/dev/null || die "$tool not found"
done

if [ ! -f "$ROOT/build/build.ninja" ]; then
	log "configuring build/ (RelWithDebInfo)"
	cmake -S "$ROOT" -B "$ROOT/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
ninja -C "$ROOT/build" irisx_bench_bus >&2
[ -x "$BENCH" ] || die "$BENCH not built"

TMP=$(mktemp -d /tmp/irisx-bench-bus.XXXXXX)
chmod 755 "$TMP" # postgres reads below it
PG_DIR=
NATS_DIR=

# shellcheck disable=SC2317 # called by the trap
cleanup() {
	if [ -n "$PG_DIR" ]; then "$ROOT/scripts/pg-test.sh" stop "$PG_DIR" >&2 || true; fi
	if [ -n "$NATS_DIR" ]; then "$ROOT/scripts/nats-test.sh" stop "$NATS_DIR" >&2 || true; fi
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
		if ! ss -Hltn "sport = :$p" | grep -q . && ! ss -Hltn "sport = :$((p + 1))" | grep -q .; then
			echo "$p"
			return
		fi
	done
	die "no free port found"
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

# run LABEL ARGS...: one bus_bench run; its figures to stdout. Exit 3 from bus_bench means
# the backend is not available in this build (bus_open -ENOTSUP).
run() {
	local label=$1 rc=0
	shift
	log "$label: irisx_bench_bus -n $N --batch $BATCH $*"
	timeout -k 5 "$RUN_LIMIT" "$BENCH" --label "$label" -n "$N" --batch "$BATCH" \
		--dir "$TMP/data-$label" "$@" >"$TMP/$label.out" 2>"$TMP/$label.err" || rc=$?
	sed 's/^/  /' "$TMP/$label.err" >&2
	cat "$TMP/$label.out"
	case $rc in
	0) ;;
	3) warn "$label: backend not available in this build: no $label figures" ;;
	124 | 137) warn "$label: stopped after ${RUN_LIMIT}s" ;;
	*) warn "$label: irisx_bench_bus exited with status $rc" ;;
	esac
}

# ---------------------------------------------------------------------------------------
busy=$(cpu_busy)
if [ "$busy" -gt 15 ]; then
	log "NOTE: the CPU was ${busy}% busy before the run started: other load skews every figure"
fi
fig machine_cores "$(nproc)" cores

mkdir -p "$TMP/data-store_sqlite"
run store_sqlite

# --- PostgreSQL ------------------------------------------------------------------------
PG_DIR=$TMP/pg
PG_PORT=$(free_port)
log "PostgreSQL cluster on 127.0.0.1:$PG_PORT"
if "$ROOT/scripts/pg-test.sh" start "$PG_DIR" "$PG_PORT" >"$TMP/pg.env" 2>"$TMP/pg.err"; then
	PG_URL=$(sed -n 's/^IRISX_TEST_PG_URL=//p' "$TMP/pg.env")
	PG_MIGRATE_URL=$(sed -n 's/^IRISX_TEST_PG_MIGRATE_URL=//p' "$TMP/pg.env")
	mkdir -p "$TMP/data-store_pg"
	run store_pg --db "$PG_URL" --migrate-url "$PG_MIGRATE_URL"
	"$ROOT/scripts/pg-test.sh" stop "$PG_DIR" >&2 || true
	PG_DIR=
else
	cat "$TMP/pg.err" >&2
	warn "PostgreSQL did not start: no store_pg figures"
fi

# --- NATS JetStream --------------------------------------------------------------------
NATS_DIR=$TMP/nats
NATS_PORT=$(free_port)
log "nats-server -js on 127.0.0.1:$NATS_PORT"
if "$ROOT/scripts/nats-test.sh" start "$NATS_DIR" "$NATS_PORT" >"$TMP/nats.env" 2>"$TMP/nats.err"; then
	NATS_URL=$(sed -n 's/^IRISX_TEST_NATS_URL=//p' "$TMP/nats.env")
	mkdir -p "$TMP/data-nats"
	run nats --bus "$NATS_URL"
else
	cat "$TMP/nats.err" >&2
	warn "nats-server did not start: no nats figures"
fi

exit "$STATUS"
