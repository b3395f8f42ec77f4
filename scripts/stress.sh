#!/usr/bin/env bash
# Reliability stress commands (docs/RELIABILITY.md), not part of the default test run.
#   scripts/stress.sh timeouts     50 concurrent SIGTERM-ignoring runs, T = 5 s, grace = 2 s:
#                                  each must end timed_out within [T, T + grace + 1 s]
#   scripts/stress.sh migrations   200 rounds of SIGKILL at random instants of a migration
#   scripts/stress.sh abuse [N]    the stream-abuse suite N times (default 20)
#   scripts/stress.sh fuzz [MIN]   the span-stream fuzzer (scripts/fuzz.sh), default 10 min
# BUILD_DIR (default build) must hold a configured build; the needed targets are built first.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
what="${1:-}"
shift || true
need() { cmake --build "$build" --target "$@" -j2 >/dev/null; }
case "$what" in
  timeouts)
    need core_timeout_precision_test
    HERO_TIMEOUT_RUNS="${RUNS:-50}" HERO_TIMEOUT_SECONDS="${TIMEOUT_S:-5}" \
      HERO_TIMEOUT_GRACE_SECONDS="${GRACE_S:-2}" "$build/tests/core/core_timeout_precision_test"
    ;;
  migrations)
    need store_test
    HERO_MIGRATION_KILL_ROUNDS="${ROUNDS:-200}" "$build/tests/store/store_test" \
      --gtest_filter='MigrationCrashTest.*'
    ;;
  abuse)
    need core_stream_abuse_test
    "$build/tests/core/core_stream_abuse_test" --gtest_repeat="${1:-20}" --gtest_brief=1
    ;;
  fuzz)
    exec scripts/fuzz.sh "${1:-10}"
    ;;
  *)
    sed -n '2,9p' "$0"
    exit 2
    ;;
esac
