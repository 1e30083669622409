#!/usr/bin/env bash
# make bench: run every benchmark program under bench/ (filled in per area).
set -euo pipefail
BUILD=${1:-build}
for b in "$BUILD"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b"
done
# linkage quality end to end (encode, match, eval on FEBRL4, the anonlink
# tutorial, the clkhash dirty pair and synth sets up to 1M): long, opt-in
if [ "${BENCH_QUALITY:-0}" = 1 ]; then bash "$(dirname "$0")/../bench/quality.sh" "$BUILD"; fi
