#!/usr/bin/env bash
# calls.sh: the Calls API and call-control figures (issue 6), one per line on stdout as
# NAME VALUE UNIT (bench/calls_bench.js has the list); progress on stderr.
#
#   bench/calls.sh   (CALLS_RATES inbound rates, default "100 200 300"; CALLS_SECONDS each,
#                     default 10; CALLS_API_RATE / CALLS_API_N outbound POSTs, default 50/s
#                     and 300; CALLS_CPS_LIMIT the paced tenant's rate, default 20)
#
# Needs a release build (build/irisx) and sipp; everything runs on 127.0.0.1 and is
# stopped by PID when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/irisx ] || { echo "calls.sh: build first (build/irisx missing)" >&2; exit 1; }
command -v sipp >/dev/null || { echo "calls.sh: sipp (sip-tester) missing" >&2; exit 1; }
[ -d tests/e2e/node_modules/twilio ] || (cd tests/e2e && npm install --no-audit --no-fund --loglevel=error)
IRISX_BIN="$PWD/build/irisx" exec node bench/calls_bench.js
