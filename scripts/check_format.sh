#!/usr/bin/env bash
# Fails if any tracked C++ file differs from .clang-format (Google style, 100 columns).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^supervisor/web/')
clang-format --dry-run --Werror "${files[@]}"
echo "format ok: ${#files[@]} files"
