#!/bin/sh
# Validates the rpc.discover document against the official OpenRPC meta-schema (npm
# @open-rpc/meta-schema + ajv). Usage: check_openrpc.sh <openrpc_dump binary> <work dir>.
# Exit 77 (ctest SKIP) only when node or npm is missing.
set -eu
dump="$1"
work="$2"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "SKIP: node/npm not installed; cannot validate the OpenRPC document against the meta-schema"
  exit 77
fi
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/validate.js" "$work/"
cd "$work"
if [ ! -d node_modules/@open-rpc/meta-schema ] || ! cmp -s package-lock.json node_modules/.package-lock.json.copy; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.package-lock.json.copy
fi
# The validator must be able to fail: a document breaking the meta-schema is rejected.
printf '%s' '{"openrpc":"1.2.6","info":{"title":"x"},"methods":[{"name":"m","bogus":1,"params":[]}]}' > broken.json
if node validate.js broken.json >/dev/null 2>&1; then
  echo "validator accepted a broken document; the check proves nothing"
  exit 1
fi
"$dump" > openrpc.json
OPENRPC_MIN_METHODS=6 node validate.js openrpc.json
