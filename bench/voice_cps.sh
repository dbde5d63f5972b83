#!/usr/bin/env bash
# voice_cps.sh: calls per second through the voice engine, one figure per line on stdout as
# NAME VALUE UNIT; progress goes to stderr.
#
#   bench/voice_cps.sh      (VOICE_CPS_RATES, default "100 200 400 600 800"; VOICE_CPS_SECONDS
#                            each rate runs, default 20; VOICE_PROMPT_MS the prompt, default
#                            200; VOICE_CORES the engine's taskset list, default 0;
#                            VOICE_PROCS engine processes, default 1; VOICE_SIG_THREADS
#                            signalling stacks in one engine, default 1; VOICE_SIPP_CORES,
#                            default 1)
#
# VOICE_PROCS=N shards by process: N engines, each with its own SIP stack on its own port,
# each fed by its own SIPp at RATE/N (libre keeps one sorted timer list per thread, so its
# cost grows with the square of each stack's own rate; ../shared/VOICE-STACK.md 3.3).
# VOICE_SIG_THREADS=N shards inside ONE engine: voice_uas --sig-threads N, stack i on port
# BASE + i, each port fed by its own SIPp at RATE/N (not combined with VOICE_PROCS).
#
# Each call: SIPp's INVITE, the engine answers (200 + SDP, media starts), plays a tone of
# VOICE_PROMPT_MS, hangs up on PLAY_DONE (its BYE), SIPp answers 200 (scenario
# tests/e2e/voice/uac_wait_bye.xml). Per rate it prints (summed over the processes)
#   voice_cps_<rate> <answered/s> calls/s   (successful calls / seconds SIPp took to place them)
#   voice_cps_<rate>_failed <n> calls       (SIPp's failed calls)
#   voice_cps_<rate>_cpu <%> %core          (engine CPU over the second half of the run)
# All on 127.0.0.1, started here (engines pinned to VOICE_CORES, SIPp to VOICE_SIPP_CORES),
# stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${VOICE_CPS_RATES:-100 200 400 600 800}
SECS=${VOICE_CPS_SECONDS:-20}
PROMPT=${VOICE_PROMPT_MS:-200}
PROCS=${VOICE_PROCS:-1}
SIGS=${VOICE_SIG_THREADS:-1}
if [ "$PROCS" -gt 1 ] && [ "$SIGS" -gt 1 ]; then
	echo "voice_cps.sh: VOICE_PROCS or VOICE_SIG_THREADS, not both" >&2
	exit 1
fi
# SHARDS: how many SIPp instances (one per engine, or one per stack of the one engine)
SHARDS=$((PROCS > SIGS ? PROCS : SIGS))
# RTP ports per engine: 2000 pairs per stack, at most 16000
SPAN=$((4000 * SIGS > 32000 ? 32000 : 4000 * SIGS))
if [ "$SHARDS" -gt 1 ]; then CORES=${VOICE_CORES:-0-1}; else CORES=${VOICE_CORES:-0}; fi
SIPP_CORES=${VOICE_SIPP_CORES:-1}
UAS=build/tests/voice/voice_uas
SCEN=$PWD/tests/e2e/voice/uac_wait_bye.xml
[ -x "$UAS" ] || { echo "voice_cps.sh: build first ($UAS missing)" >&2; exit 1; }
command -v sipp >/dev/null || { echo "voice_cps.sh: sipp (sip-tester) missing" >&2; exit 1; }
DIR=$(mktemp -d /tmp/irisx-voice-cps.XXXXXX)
UAS_PIDS=() SIPP_PIDS=()
cleanup() {
	for p in "${SIPP_PIDS[@]}" "${UAS_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
HZ=$(getconf CLK_TCK)
ticks() {
	local t=0
	for p in "${UAS_PIDS[@]}"; do t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done
	echo "$t"
}
for RATE in $RATES; do
	BASE=$((20000 + RANDOM % 8000))
	N=$((RATE * SECS / SHARDS))
	rm -rf "${DIR:?}"/*
	UAS_PIDS=() SIPP_PIDS=()
	# shard i's engine port is BASE + 20 i (processes) or BASE + i (stacks of one engine);
	# its SIPp listens on BASE + 20 i + 1..19, clear of both
	for i in $(seq 0 $((PROCS - 1))); do
		PORT=$((BASE + 20 * i))
		mkdir -p "$DIR/$i"
		# a fresh engine per rate, so each starts with libre's timer lists empty
		taskset -c "$CORES" "$UAS" --port "$PORT" --sig-threads "$SIGS" \
			--rtp-min $((30000 + 4000 * i)) --rtp-max $((30000 + 4000 * i + SPAN - 1)) \
			--max-calls $((SPAN / 2 - 100)) --no-tcp \
			--prompt-ms "$PROMPT" --hangup-after-play >"$DIR/$i/uas.out" 2>"$DIR/$i/uas.err" &
		UAS_PIDS+=($!)
	done
	for i in $(seq 0 $((PROCS - 1))); do
		for _ in $(seq 50); do grep -q READY "$DIR/$i/uas.out" 2>/dev/null && break; sleep 0.1; done
		grep -q READY "$DIR/$i/uas.out" || { cat "$DIR/$i/uas.err" >&2; exit 1; }
	done
	echo "voice_cps.sh: $((N * SHARDS)) calls at $RATE/s over $PROCS engine(s), $SIGS stack(s) each" >&2
	S0=$(date +%s.%N)
	for i in $(seq 0 $((SHARDS - 1))); do
		if [ "$SIGS" -gt 1 ]; then PORT=$((BASE + i)); else PORT=$((BASE + 20 * i)); fi
		LPORT=$((BASE + 20 * i + SIGS))
		mkdir -p "$DIR/$i"
		(cd "$DIR/$i" && exec taskset -c "$SIPP_CORES" sipp -sf "$SCEN" 127.0.0.1:$PORT \
			-i 127.0.0.1 -p "$LPORT" -mi 127.0.0.1 -mp $((LPORT + 10)) -m "$N" -l 5000 \
			-r "$((RATE / SHARDS))" -nostdin -timeout $((SECS + 40)) -trace_screen \
			>/dev/null 2>&1) &
		SIPP_PIDS+=($!)
	done
	sleep $((SECS / 2))
	T0=$(ticks)
	C0=$(date +%s.%N)
	sleep $((SECS / 2 - 1))
	T1=$(ticks)
	C1=$(date +%s.%N)
	for p in "${SIPP_PIDS[@]}"; do wait "$p" || true; done
	SIPP_PIDS=()
	S1=$(date +%s.%N)
	for p in "${UAS_PIDS[@]}"; do kill -TERM "$p"; wait "$p" || true; done
	UAS_PIDS=()
	OK=$(grep -ho 'Successful call *| *[0-9]* *| *[0-9]*' "$DIR"/*/*_screen.log |
		awk '{s += $NF} END {print s + 0}')
	FAILED=$(grep -ho 'Failed call *| *[0-9]* *| *[0-9]*' "$DIR"/*/*_screen.log |
		awk '{s += $NF} END {print s + 0}')
	# the last call needs about the prompt plus a round trip after SIPp placed it
	awk -v ok="$OK" -v s0="$S0" -v s1="$S1" -v p="$PROMPT" -v r="$RATE" 'BEGIN {
		t = s1 - s0 - p / 1000.0; printf "voice_cps_%d %.0f calls/s\n", r, ok / t }'
	echo "voice_cps_${RATE}_failed $FAILED calls"
	awk -v t0="$T0" -v t1="$T1" -v c0="$C0" -v c1="$C1" -v hz="$HZ" -v r="$RATE" \
		'BEGIN {printf "voice_cps_%d_cpu %.1f %%core\n", r, 100 * (t1 - t0) / hz / (c1 - c0)}'
done
