#!/usr/bin/env bash
# Reliability stress commands (docs/RELIABILITY.md), not part of the default test run.
#   scripts/stress.sh timeouts     50 concurrent SIGTERM-ignoring runs, T = 5 s, grace = 2 s:
#                                  each must end timed_out within [T, T + grace + 1 s]
#   scripts/stress.sh migrations   200 rounds of SIGKILL at random instants of a migration
#   scripts/stress.sh abuse [N]    the stream-abuse suite N times (default 20)
#   scripts/stress.sh fuzz [MIN]   the span-stream fuzzer (scripts/fuzz.sh), default 10 min
#   scripts/stress.sh kill9 [R]    kill -9 of the daemon mid-load, R rounds (default 20)
#   scripts/stress.sh killstorm [N] N short runs SIGKILLed at random (default 1000; 5 rounds)
#   scripts/stress.sh faults [N]   the storage and resource fault tests N times (default 5)
#   scripts/stress.sh soak [MIN]   scripts/soak.sh, default 60 min
#   scripts/stress.sh finish [N]   N short runs (default 10000), trusted/untrusted, CLI and
#                                  script_run, 2 at a time under CPU load: 0 may hang at exit
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
  kill9 | killstorm | faults)
    need hero_logic
    export HERO_LOGIC_BIN="$PWD/$build/hero_logic" HERO_REPO="$PWD" PYTHONDONTWRITEBYTECODE=1
    cd tests/reliability
    case "$what" in
      kill9) HERO_KILL9_ROUNDS="${1:-20}" /usr/bin/python3 -m unittest -v test_kill9 ;;
      killstorm)
        for i in $(seq "${ROUNDS:-5}"); do
          HERO_KILLSTORM_RUNS="${1:-1000}" /usr/bin/python3 -m unittest -v test_killstorm
        done
        ;;
      faults)
        for i in $(seq "${1:-5}"); do
          /usr/bin/python3 -m unittest -v test_storage_faults test_resource_faults
        done
        ;;
    esac
    ;;
  finish)
    need hero_logic
    HERO_LOGIC_BIN="$PWD/$build/hero_logic" HERO_REPO="$PWD" PYTHONDONTWRITEBYTECODE=1 \
      exec /usr/bin/python3 tests/reliability/finish_stress.py --runs "${1:-10000}" --progress 500
    ;;
  soak)
    BUILD_DIR="$build" exec scripts/soak.sh "${1:-60}"
    ;;
  *)
    sed -n '2,15p' "$0"
    exit 2
    ;;
esac
