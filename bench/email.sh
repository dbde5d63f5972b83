#!/usr/bin/env bash
# email.sh: the e-mail figure of issue 7, one per line on stdout as NAME VALUE UNIT;
# progress goes to stderr.
#
#   bench/email.sh        (BENCH_EMAILS=N per run, default 5000; BENCH_THREADS=T, default 8;
#                          BENCH_NODE_THREADS, default 64, for the node sink)
#
# What runs, all on 127.0.0.1 and all started here: build/tests/messaging/email_send
# --count N --threads T, which builds each message with email_mime_build (a ~2 KB
# verification mail, text + html, unicode subject) and sends it with smtp_send (libcurl,
# one SMTP connection per message: EHLO, MAIL, RCPT, DATA, QUIT), T threads at once, to
#   - postfix smtp-sink (C; the figure emails_per_s), and
#   - tests/e2e/lib/smtp-sink.js (node smtp-server, one thread, mails not parsed).
# CPU seconds of the sender and of each sink are printed too, to show which one bounds the
# rate on this 2-core machine. Every process is stopped by its own PID on exit.
#
# smtp-server holds every new connection 100 ms before its greeting (an "early talker"
# check hard-coded in smtp-connection.js init()), so against the node sink a sender with
# one connection per message is bound by latency to threads / 0.1 s, whatever the CPU:
# hence the 64 threads there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SEND=$ROOT/build/tests/messaging/email_send
N=${BENCH_EMAILS:-5000}
T=${BENCH_THREADS:-8}
W=$(mktemp -d /tmp/irisx-bench-email.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$W"
}
trap cleanup EXIT
[ -x "$SEND" ] || { echo "email.sh: $SEND not built (ninja -C build)" >&2; exit 1; }

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$1/stat"; } # utime + stime, in s

msg() { # $1 = port
  cat <<JSON
{"smtp": {"host": "127.0.0.1", "port": $1, "timeout_ms": 10000},
 "from": "IRISX <noreply@bench.example.test>", "to": ["Zoë Müller <zoe@example.test>"],
 "subject": "Votre code de vérification — 123456",
 "text": "$(printf 'Your verification code is 123456. It expires in 10 minutes.\\n%.0s' $(seq 12))",
 "html": "$(printf '<p>Your verification code is <b>123456</b>. It expires in 10 minutes.</p>\\n%.0s' $(seq 12))"}
JSON
}

# run NAME PORT SINK_PID THREADS: sends N mails; prints the figure and the CPU split
run() {
  local name=$1 p=$2 spid=$3 threads=$4 c0 c1 out
  c0=$(cpu "$spid")
  msg "$p" > "$W/msg.json"
  out=$( { /usr/bin/time -f '%U %S' "$SEND" --count "$N" --threads "$threads" < "$W/msg.json" > "$W/out.json"; } 2>&1 | tail -1)
  c1=$(cpu "$spid")
  echo "email.sh: $name: $(cat "$W/out.json")" >&2
  local rate failed
  rate=$(jq -r .per_s "$W/out.json"); failed=$(jq -r .failed "$W/out.json")
  [ "$failed" = 0 ] || echo "email.sh: $name: $failed failed" >&2
  echo "$name ${rate%.*} msg/s"
  echo "${name}_sender_cpu $(echo "$out" | awk '{print $1 + $2}') s"
  echo "${name}_sink_cpu $(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.2f", b - a}') s"
}

# postfix smtp-sink: as root it must drop privileges (-u)
SS=$(command -v smtp-sink || echo /usr/sbin/smtp-sink)
if [ -x "$SS" ]; then
  P=$(port)
  if [ "$(id -u)" = 0 ]; then U=(-u nobody); else U=(); fi
  "$SS" "${U[@]}" -h sink.bench 127.0.0.1:"$P" 256 > "$W/ss.log" 2>&1 & PIDS+=($!); SSP=$!
  waitport "$P"
  echo "email.sh: postfix smtp-sink on $P, $N mails, $T threads" >&2
  run emails_per_s "$P" "$SSP" "$T"
else
  echo "email.sh: postfix smtp-sink not installed (scripts/deps.sh); skipped" >&2
fi

P=$(port)
node "$ROOT/tests/e2e/lib/smtp-sink.js" "$P" > "$W/node.log" 2>&1 & PIDS+=($!); NP=$!
waitport "$P"
echo "email.sh: node smtp-server sink on $P, ${BENCH_NODE_THREADS:-64} threads" >&2
run emails_per_s_node_sink "$P" "$NP" "${BENCH_NODE_THREADS:-64}"
