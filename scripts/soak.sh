#!/usr/bin/env bash
# Soak (docs/RELIABILITY.md), not part of the default test run:
#   scripts/soak.sh [MINUTES]   default 60. A daemon at concurrency 8 (CONCURRENCY) runs the
#                               built-in flows (smoke inputs, recorded-answer model server),
#                               span flows and hostile scripts (../shared/escape,
#                               tests/escape/cases) for that long; prints RSS, fd and thread
#                               counts over time and the RSS slope; exit 1 if a run was not
#                               terminal, the daemon died, or a run's process outlived it.
# BUILD_DIR (default build) must hold a configured build; hero_logic is built first.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${BUILD_DIR:-build}"
cmake --build "$build" --target hero_logic -j2 >/dev/null
export HERO_LOGIC_BIN="$PWD/$build/hero_logic" HERO_REPO="$PWD" PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 tests/reliability/soak.py "${1:-60}" --concurrency "${CONCURRENCY:-8}"
