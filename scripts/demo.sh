#!/usr/bin/env bash
# The README's first command: install what is missing, build, and run the demo flow with its
# live span tree (Tier 0, then the same flow in the untrusted Tier 1 sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HERO_LOGIC_DATA="${HERO_LOGIC_DATA:-$PWD/build/demo-data}"
echo
echo "== hero_logic run examples/hello_flow.py (trusted)"
./build/hero_logic run examples/hello_flow.py --input '{"name": "world", "steps": 3}'
echo
echo "== the same flow under --profile untrusted"
./build/hero_logic run examples/hello_flow.py --profile untrusted --input '{"name": "sandbox", "steps": 2}'
echo
echo "== hero_logic runs"
./build/hero_logic runs --limit 5
