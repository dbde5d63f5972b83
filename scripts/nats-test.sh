#!/usr/bin/env bash
# nats-test.sh: a throwaway nats-server with JetStream for tests and benchmarks, on 127.0.0.1.
#   start DIR PORT   starts it (store in DIR, monitoring on PORT+1); prints IRISX_TEST_NATS_URL
#   stop DIR         stops the server started in DIR (by its PID)
set -euo pipefail
cmd=${1:-}; DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }
case "$cmd" in
start)
  PORT=${3:?port}; MPORT=$((PORT + 1))
  mkdir -p "$DIR"
  # nats-server 2.9 (Debian 12) has no sync_interval setting (2.10 added "always"); it
  # syncs the stream files every 2 minutes, so a kill of the whole machine can lose the
  # last writes of JetStream; a killed nats-server process loses nothing written
  printf 'jetstream { store_dir: "%s/js" }\n' "$DIR" >"$DIR/nats.conf"
  nats-server -c "$DIR/nats.conf" -a 127.0.0.1 -p "$PORT" -m "$MPORT" >"$DIR/nats.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$MPORT/healthz?js-enabled-only=true" >/dev/null 2>&1 && break
    sleep 0.05
  done
  curl -sf "http://127.0.0.1:$MPORT/healthz?js-enabled-only=true" >/dev/null || { cat "$DIR/nats.log" >&2; exit 1; }
  echo "IRISX_TEST_NATS_URL=nats://127.0.0.1:$PORT"
  echo "IRISX_TEST_NATS_MONITOR=http://127.0.0.1:$MPORT"
  ;;
stop)
  [ -f "$DIR/pid" ] || exit 0
  pid=$(cat "$DIR/pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$DIR/pid"
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
