#!/usr/bin/env bash
# Runs the span-stream libFuzzer target for MINUTES (default 10) on one core.
#   scripts/fuzz.sh [MINUTES]
# Builds build-fuzz (clang, -DHERO_FUZZ=ON) if needed. New coverage goes to build-fuzz/corpus
# (scratch; tests/fuzz/corpus/ is read, never written). A crash leaves crash-<sha1> in
# build-fuzz/artifacts/: minimize it (span_stream_fuzzer -minimize_crash=1 FILE), fix the bug,
# and add the input as tests/fuzz/corpus/regress-<what-it-pins> so the default tests replay it.
# Env: FUZZ_JOBS (default 1), FUZZ_MAX_LEN (default 65536), FUZZ_ARGS (extra flags).
set -euo pipefail
cd "$(dirname "$0")/.."
minutes="${1:-10}"
if [[ ! -x build-fuzz/tests/fuzz/span_stream_fuzzer ]]; then
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DHERO_FUZZ=ON >/dev/null
fi
cmake --build build-fuzz --target span_stream_fuzzer -j2 >/dev/null
mkdir -p build-fuzz/corpus build-fuzz/artifacts
seconds=$((minutes * 60))
jobs="${FUZZ_JOBS:-1}"
parallel=()
# -jobs forks workers that log to fuzz-N.log in the current directory: only when asked.
if ((jobs > 1)); then parallel=(-jobs="$jobs" -workers="$jobs"); fi
echo "== fuzzing span stream for ${minutes} min (jobs=${jobs})"
# shellcheck disable=SC2086
build-fuzz/tests/fuzz/span_stream_fuzzer \
  -max_total_time="$seconds" -max_len="${FUZZ_MAX_LEN:-65536}" -timeout=10 -rss_limit_mb=2048 \
  -dict=tests/fuzz/span_stream.dict \
  "${parallel[@]}" -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/ ${FUZZ_ARGS:-} \
  build-fuzz/corpus tests/fuzz/corpus
