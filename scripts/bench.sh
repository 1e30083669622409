#!/usr/bin/env bash
# make bench: run every benchmark program under bench/ (filled in per area).
set -euo pipefail
BUILD=${1:-build}
for b in "$BUILD"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
bash "$(dirname "$0")/bench_service.sh" "$BUILD"
