#!/usr/bin/env bash
# test.sh: runs every test: ctest (release build), ctest (ASan+UBSan build), then the
# end-to-end suite (node --test) against the real binary, with a throwaway PostgreSQL.
set -uo pipefail
cd "$(dirname "$0")/.."
only=${1:-all}
fail=0
PGDIR=$(mktemp -d /tmp/irisx-pg.XXXXXX)
chmod 755 "$PGDIR"
PGPORT=$((20000 + RANDOM % 20000))
NATSDIR="$PGDIR/nats"
NATSPORT=$((PGPORT + 1000))
cleanup() {
  scripts/nats-test.sh stop "$NATSDIR" >/dev/null 2>&1 || true
  scripts/pg-test.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -rf "$PGDIR"
}
trap cleanup EXIT
if scripts/pg-test.sh start "$PGDIR" "$PGPORT" > "$PGDIR/env" 2>"$PGDIR/start.log"; then
  set -a; . "$PGDIR/env"; set +a
  export IRISX_TEST_PG_DIR="$PGDIR" IRISX_TEST_PG_PORT="$PGPORT"
else
  echo "test: PostgreSQL did not start:"; cat "$PGDIR/start.log"; exit 1
fi
if scripts/nats-test.sh start "$NATSDIR" "$NATSPORT" > "$PGDIR/nats.env" 2>"$PGDIR/nats-start.log"; then
  set -a; . "$PGDIR/nats.env"; set +a
else
  echo "test: nats-server did not start:"; cat "$PGDIR/nats-start.log"; exit 1
fi

if [ "$only" = all ]; then
  echo "== unit tests (release build)"
  (cd build && ctest --output-on-failure) || fail=1
  echo "== unit tests (ASan + UBSan build)"
  (cd build-asan && ctest --output-on-failure) || fail=1
fi
(cd tests/e2e && { [ -d node_modules/twilio ] && [ -d node_modules/standardwebhooks ] && [ -d node_modules/smpp ] && [ -d node_modules/smtp-server ] && [ -d node_modules/mailparser ] || npm install --no-audit --no-fund --loglevel=error; }) || fail=1
echo "== end-to-end tests (release build)"
# (the voice files, 2x-, run one at a time: SIPp and the engine bind many UDP ports)
(cd tests/e2e && IRISX_BIN="$PWD/../../build/irisx" node --test --test-concurrency=4 \
  --test-reporter=spec $(ls *.test.js | grep -v '^[25][0-9]-')) || fail=1
echo "== end-to-end voice tests (release build, one file at a time)"
(cd tests/e2e && IRISX_BIN="$PWD/../../build/irisx" node --test --test-concurrency=1 \
  --test-reporter=spec $(ls *.test.js | grep '^[25][0-9]-')) || fail=1
# the HTTP layer's other mode, a thread per connection (http.threads = 0), on the files that
# exercise it most: auth and argon2id, idempotency, validation, hostile clients, messaging
echo "== end-to-end HTTP files with a thread per connection (release build)"
(cd tests/e2e && IRISX_E2E_HTTP_THREADS=0 IRISX_BIN="$PWD/../../build/irisx" node --test \
  --test-concurrency=4 --test-reporter=spec $(ls *.test.js | grep -E '^(02|09|12|13|40)-')) || fail=1
# the webhook files again with every server on NATS JetStream (the bus's other backend)
echo "== end-to-end webhooks on the NATS JetStream bus (release build)"
(cd tests/e2e && IRISX_E2E_BUS_URL="$IRISX_TEST_NATS_URL" IRISX_BIN="$PWD/../../build/irisx" \
  node --test --test-concurrency=2 --test-reporter=spec $(ls *.test.js | grep -E '^1[5-8]-')) || fail=1
if [ "$only" = all ]; then
  # the same suite against the ASan+UBSan server: any sanitizer report fails its file
  echo "== end-to-end tests (ASan + UBSan build)"
  # (13-hostile-clients is load and timing: it runs against the release build only)
  (cd tests/e2e && IRISX_BIN="$PWD/../../build-asan/irisx" node --test --test-concurrency=2 \
    --test-reporter=spec $(ls *.test.js | grep -v '^13-' | grep -v '^[25][0-9]-')) || fail=1
  echo "== end-to-end voice tests (ASan + UBSan build, one file at a time)"
  (cd tests/e2e && IRISX_BIN="$PWD/../../build-asan/irisx" node --test --test-concurrency=1 \
    --test-reporter=spec $(ls *.test.js | grep '^[25][0-9]-')) || fail=1
fi
exit $fail
