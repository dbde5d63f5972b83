#!/usr/bin/env bash
# smpp.sh: the SMPP figure of issue 7: submit_sm per second over one bind with windows 1, 10
# and 50, one per line on stdout as NAME VALUE UNIT; progress goes to stderr.
#
#   bench/smpp.sh        (BENCH_N=N messages per run, default 20000)
#
# What runs, all on 127.0.0.1 and started here: tests/e2e/lib/smsc.js (the npm `smpp` package
# as the SMSC, one node thread, no receipts, no per-PDU log) and build/tests/messaging/
# smpp_drive (the C client), which submits N messages and times the first submit to the last
# submit_sm_resp. The node SMSC shares the 2 cores and is the slower side, so each window is
# also measured against smpp_drive's in-process C SMSC (--fake-smsc: answers only), which
# shows what the client itself does (smpp_submit_fake_per_s_window_*).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DRIVE=$ROOT/build/tests/messaging/smpp_drive
N=${BENCH_N:-20000}
TMP=$(mktemp -d /tmp/irisx-smpp-bench.XXXXXX)
SMSC_PID=
cleanup() {
  if [ -n "$SMSC_PID" ]; then kill "$SMSC_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

[ -x "$DRIVE" ] || { echo "smpp.sh: build first (ninja -C build smpp_drive)" >&2; exit 1; }
(cd "$ROOT/tests/e2e" && { [ -d node_modules/smpp ] || npm install --no-audit --no-fund --loglevel=error >&2; })

mkfifo "$TMP/in"
node "$ROOT/tests/e2e/lib/smsc.js" --port 0 --receipt none --quiet <"$TMP/in" >"$TMP/out" 2>&2 &
SMSC_PID=$!
exec 3>"$TMP/in" # keeps the SMSC's stdin open
for _ in $(seq 100); do grep -q listening "$TMP/out" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' "$TMP/out" | head -1)
[ -n "$PORT" ] || { echo "smpp.sh: the SMSC did not start" >&2; exit 1; }

rate() { # args for smpp_drive -> msg/s, or fail when a message is missing
  local line
  line=$(timeout 120 "$DRIVE" --n "$N" --quiet "$@" | tail -1)
  echo "$line" | grep -q "\"ok_unique\":$N," || { echo "smpp.sh: lost messages: $line" >&2; exit 1; }
  echo "$line" | sed -n 's/.*"per_s":\([0-9]*\).*/\1/p'
}

for w in 1 10 50; do
  echo "smpp.sh: window $w, $N messages, npm smpp SMSC" >&2
  echo "smpp_submit_per_s_window_$w $(rate --port "$PORT" --window "$w") msg/s"
done
for w in 1 10 50; do
  echo "smpp.sh: window $w, $N messages, C fake SMSC" >&2
  echo "smpp_submit_fake_per_s_window_$w $(rate --fake-smsc --window "$w") msg/s"
done
