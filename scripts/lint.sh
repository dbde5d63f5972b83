#!/usr/bin/env bash
# lint.sh: banned functions and formatting of the C sources.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(grep -rnE '\b(sprintf|strcpy|strcat|gets|strtok)\s*\(' src tests/unit tests/fuzz 2>/dev/null | grep -v 'snprintf\|vsnprintf' || true)
if [ -n "$bad" ]; then
  echo "lint: banned functions:"; echo "$bad"; exit 1
fi
if command -v clang-format >/dev/null; then
  files=$(find src tests/unit tests/fuzz -name '*.[ch]' 2>/dev/null)
  if ! clang-format --dry-run --Werror $files 2>/tmp/irisx-format.log; then
    echo "lint: clang-format differences ($(grep -c 'error:' /tmp/irisx-format.log) places); run: clang-format -i \$(find src tests -name '*.[ch]')"
    exit 1
  fi
fi
echo "lint: ok"
