#!/usr/bin/env bash
# bench/run.sh - `make bench`: every benchmark, each printing throughput
# and a ratio against a baseline measured in the same run (machines are noisy).
#   BENCH_QUICK=1    smaller sizes (minutes instead of ~10 minutes)
#   BENCH_QUALITY=1  also the end-to-end linkage quality benchmark (long)
set -euo pipefail
BUILD=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
quick=${BENCH_QUICK:-0}
run() { echo; echo "== $*"; "$@"; }

if [ "$quick" = 1 ]; then
  run "$BUILD/bench_encode" --records 200000 --flat-records 800000
  run "$BUILD/bench_match" --quick
  run "$BUILD/bench_psi" -n 100000
else
  run "$BUILD/bench_encode"
  run "$BUILD/bench_match"
  run "$BUILD/bench_psi" -n 1000000
fi
run "$BUILD/bench_synth"
# Fellegi-Sunter blocking, training and scoring against the record-level
# AND-popcount in the same process (issue 12's figures)
if [ "$quick" = 1 ]; then run "$BUILD/bench_model" --quick
else run "$BUILD/bench_model" --reps 3; fi
# the Python binding against the CLI on the same data
if [ "$quick" = 1 ]; then run python3 "$HERE/bench_python.py" --build "$BUILD" --records 20000 --repeat 2
else run python3 "$HERE/bench_python.py" --build "$BUILD"; fi
run bash "$HERE/service.sh" "$BUILD"
# linkage quality end to end (encode, match, eval on FEBRL4, the anonlink
# tutorial, the clkhash dirty pair and synth sets up to 1M): long, opt-in
if [ "${BENCH_QUALITY:-0}" = 1 ]; then run bash "$HERE/quality.sh" "$BUILD"; fi
