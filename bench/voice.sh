#!/usr/bin/env bash
# voice.sh: voice engine figures, one per line on stdout as NAME VALUE UNIT; progress and
# SIPp's output go to stderr.
#
#   bench/voice.sh          (VOICE_CALLS=N concurrent calls, default 1000; VOICE_HOLD=S
#                            seconds each call lasts, default 30; VOICE_RATE calls/s of the
#                            ramp, default 100; VOICE_MEDIA_THREADS, default 1; VOICE_CORES the
#                            engine's taskset list, default 0; VOICE_ERR a file for the engine's
#                            stderr)
#
# Tick figures come from the engine itself: voice_tick_late_max (the latest a 5 ms tick ran),
# voice_ticks_late_5ms (how many ran more than 5 ms late), voice_tick_work_max (the longest a
# tick's receive + send work took). docs/voice.md "Figures" has the measured runs.
#
# What runs, all on 127.0.0.1 and started here: build/tests/voice/voice_uas (the engine,
# one media thread, pinned to core 0, playing a tone on every call) and SIPp's stock uac
# with -rtp_echo (pinned to core 1) ramping to VOICE_CALLS calls with PCMU both ways. Engine
# CPU is read from /proc over the window when every call is up; drops are the engine's own
# sockets' drop counters (ss -uamn, the d field), not SIPp's echo socket (study trap 12).
# Every process is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
CALLS=${VOICE_CALLS:-1000}
HOLD=${VOICE_HOLD:-30}
RATE=${VOICE_RATE:-100}
THREADS=${VOICE_MEDIA_THREADS:-1}
CORES=${VOICE_CORES:-0}
UAS=build/tests/voice/voice_uas
[ -x "$UAS" ] || { echo "voice.sh: build first ($UAS missing)" >&2; exit 1; }
command -v sipp >/dev/null || { echo "voice.sh: sipp (sip-tester) missing" >&2; exit 1; }
DIR=$(mktemp -d /tmp/irisx-voice-bench.XXXXXX)
UAS_PID= SIPP_PID=
cleanup() {
	[ -n "$SIPP_PID" ] && kill "$SIPP_PID" 2>/dev/null || true
	[ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
PORT=$((25000 + RANDOM % 5000))
RTP_MIN=42000
RTP_MAX=$((RTP_MIN + 2 * CALLS + 199))
taskset -c "$CORES" "$UAS" --port "$PORT" --rtp-min $RTP_MIN --rtp-max $RTP_MAX --max-calls $((CALLS + 50)) \
	--media-threads "$THREADS" --no-tcp >"$DIR/uas.out" 2>"${VOICE_ERR:-$DIR/uas.err}" &
UAS_PID=$!
for _ in $(seq 50); do grep -q READY "$DIR/uas.out" 2>/dev/null && break; sleep 0.1; done
grep -q READY "$DIR/uas.out" || { cat "$DIR/uas.err" >&2; exit 1; }
RSS0=$(awk '/VmRSS/{print $2}' /proc/$UAS_PID/status)
echo "voice.sh: $CALLS calls at $RATE/s, $HOLD s each" >&2
(cd "$DIR" && taskset -c 1 sipp -sn uac 127.0.0.1:$PORT -i 127.0.0.1 -p $((PORT + 1)) -mi 127.0.0.1 \
	-mp $((PORT + 10)) -rtp_echo -m "$CALLS" -l "$CALLS" -r "$RATE" -d $((HOLD * 1000)) -nostdin \
	-timeout $((HOLD + CALLS / RATE + 60)) -trace_screen >/dev/null 2>&1) &
SIPP_PID=$!
ticks() { awk '{print $14 + $15}' /proc/$UAS_PID/stat; }
RAMP=$((CALLS / RATE + 3))
sleep "$RAMP"
WINDOW=$((HOLD - RAMP - 2))
[ "$WINDOW" -ge 5 ] || { echo "voice.sh: VOICE_HOLD too short for the ramp" >&2; exit 1; }
T0=$(ticks); S0=$(date +%s.%N)
sleep "$WINDOW"
T1=$(ticks); S1=$(date +%s.%N)
RSS1=$(awk '/VmRSS/{print $2}' /proc/$UAS_PID/status)
DROPS=$(ss -uamn "sport >= :$RTP_MIN and sport <= :$RTP_MAX" 2>/dev/null |
	grep -o 'd[0-9]*)' | tr -d 'd)' | awk '{s += $1} END {print s + 0}')
wait "$SIPP_PID" || true
SIPP_PID=
kill -TERM "$UAS_PID"
wait "$UAS_PID" || true
UAS_PID=
HZ=$(getconf CLK_TCK)
STATS=$(grep '^STATS' "$DIR/uas.out" | tr '\n' ' ' || true)
stat() { echo "$STATS" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'; }
OK=$(grep -o 'Successful call *| *[0-9]* *| *[0-9]*' "$DIR"/uac_*_screen.log | awk '{print $NF}')
FAILED=$(grep -o 'Failed call *| *[0-9]* *| *[0-9]*' "$DIR"/uac_*_screen.log | awk '{print $NF}')
CPU=$(awk -v t0="$T0" -v t1="$T1" -v s0="$S0" -v s1="$S1" -v hz="$HZ" \
	'BEGIN {printf "%.1f", 100 * (t1 - t0) / hz / (s1 - s0)}')
echo "voice_calls_concurrent $CALLS calls"
echo "voice_calls_ok ${OK:-0} calls"
echo "voice_calls_failed ${FAILED:-0} calls"
echo "voice_engine_cpu $CPU %core"
awk -v c="$CPU" -v n="$CALLS" 'BEGIN {printf "voice_engine_cpu_per_1000_calls %.1f %%core\n", c * 1000 / n}'
echo "voice_socket_drops $DROPS packets"
echo "voice_tick_late_max $(stat late_max_us) us"
echo "voice_ticks_skipped $(stat skipped) ticks"
echo "voice_ticks_late_5ms $(stat late_5ms) ticks"
echo "voice_tick_work_max $(stat work_max_us) us"
echo "voice_rtp_tx $(stat tx) packets"
echo "voice_rtp_rx $(stat rx) packets"
awk -v a="$RSS0" -v b="$RSS1" -v n="$CALLS" 'BEGIN {printf "voice_rss_per_call %.1f KB\n", (b - a) / n}'
