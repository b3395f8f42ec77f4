#!/usr/bin/env bash
# Installs what hero_logic needs on Debian 12 (as root) and builds it.
#   scripts/setup.sh [--sanitize]    build/ (Release) or build-asan/ (Debug, ASan+UBSan)
# Only missing packages are installed, so a second run is fast and offline.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential cmake pkg-config git python3 libuv1-dev libsimdjson-dev libseccomp-dev
      bubblewrap libsqlite3-dev sqlite3 googletest libgtest-dev libgmock-dev libbenchmark-dev
      libh2o-dev libcurl4-openssl-dev libprotobuf-dev protobuf-compiler curl procps util-linux
      clang-format libtomlplusplus-dev libsystemd-dev prometheus dpkg-dev file)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# build/ is a Release build (what distributions ship; the install and package tests use it).
# HERO_WERROR=ON in the environment (scripts/test.sh, CI) turns warnings into errors.
build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=Release "-DHERO_WERROR=${HERO_WERROR:-OFF}")
if [ "${1:-}" = "--sanitize" ]; then
  build_dir=build-asan
  cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DHERO_SANITIZE=ON "-DHERO_WERROR=${HERO_WERROR:-OFF}")
fi
cmake -S . -B "$build_dir" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"

# ---- web UI (supervisor/web) + browser for its e2e tests — owned by the web UI; keep as one block
# Builds supervisor/web/dist (served by `hero_logic serve --static`) with npm ci + npm run build,
# only when the sources changed since the last build. Installs Debian's chromium for the
# tests/web e2e suite. Without node/npm the UI is skipped, saying so (the e2e test then skips).
if ! dpkg-query -W -f='${Status}' chromium 2>/dev/null | grep -q "install ok installed"; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing chromium (web UI e2e tests)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  else
    echo "setup: chromium missing (run as root to install it); the web UI e2e tests will skip" >&2
  fi
fi
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  web=supervisor/web
  if [ ! -d "$web/node_modules" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci ($web)"
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -f "$web/dist/index.html" ] ||
     [ -n "$(find "$web/src" "$web/index.html" "$web/vite.config.ts" "$web/package-lock.json" \
             -newer "$web/dist/index.html" -print -quit)" ]; then
    echo "setup: building the web UI ($web/dist)"
    (cd "$web" && npm run build --silent)
  fi
else
  echo "setup: node/npm not found: the web UI (supervisor/web) is not built and its e2e tests skip" >&2
fi
# ---- end web UI block
