#!/usr/bin/env bash
# The README's second command (and .ci/run): install, build, run the whole test suite, then
# the ASan+UBSan build's unit and integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== tests (RelWithDebInfo)"
ctest --test-dir build --output-on-failure -j2 --timeout 600
echo "== ASan + UBSan build"
bash scripts/setup.sh --sanitize
ctest --test-dir build-asan --output-on-failure -j2 --timeout 900 -L 'unit|integration'
