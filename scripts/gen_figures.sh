#!/usr/bin/env bash
# scripts/gen_figures.sh [BUILD_DIR] - regenerate the committed figures in
# docs/img/ from current runs of the blindlink binary, using only what the
# repository holds (`blindlink synth` data, bench/schemas/synth.json), so the
# pictures and the program cannot drift apart:
#   eval-synth.svg      score histogram (true vs false pairs) + precision/
#                       recall/F1 sweep, default threshold marked
#   scores-synth.svg    the same candidates without ground truth
#   describe-synth.svg  popcounts of one party's CLKs
#   clusters-synth5.svg cluster sizes of a 5-party run (probabilistic solver)
#   quality-f1-all.svg  F1 against threshold for every data set of the
#                       quality benchmark, copied from a bench/quality.sh run
#                       (QUALITY_OUT, default bench/out/quality; --quality runs
#                       it first: 12-30 min on 2 cores)
# FIG_IMG=DIR writes the figures there instead of docs/img/:
# tests/cli/test_pictures.sh does, and fails when they differ from the
# committed ones (the runs are deterministic: seeded synth, keyed encoding).
# Every SVG is rendered with rsvg-convert (Debian librsvg2-bin) into
# $FIG_WORK/png/ when that is installed, so a render failure stops the script
# and the PNGs can be looked at before committing.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
RUN_QUALITY=0
if [ "${1:-}" = "--quality" ]; then RUN_QUALITY=1; shift; fi
BUILD=${1:-$SRC/build}
BL=${BL:-$BUILD/blindlink}
IMG=${FIG_IMG:-$SRC/docs/img}
W=${FIG_WORK:-$SRC/bench/out/figures}
QOUT=${QUALITY_OUT:-$SRC/bench/out/quality}
SCHEMA=$SRC/bench/schemas/synth.json
T_DEFAULT=0.775   # the default threshold of docs/quality.md
[ -x "$BL" ] || { echo "gen_figures: no blindlink binary at $BL (make build first)" >&2; exit 1; }
mkdir -p "$W" "$IMG"
printf 'blindlink figures secret' > "$W/secret"

encode() { "$BL" encode -q --format bin --normalize=names --secret-file "$W/secret" "$1" "$SCHEMA" "$2"; }

# two parties of 5,000 records, medium corruption, half of each in the other;
# candidates from 0.5, at most 3 per record (as bench/quality.sh)
"$BL" synth -q -n 5000 -p 2 --overlap 0.5 --level medium --seed 1 -o "$W/two"
encode "$W/two-1.csv" "$W/two-1.clk"
encode "$W/two-2.csv" "$W/two-2.clk"
"$BL" match -t 0.5 -k 3 -s none -o "$W/two-cand.csv" "$W/two-1.clk" "$W/two-2.clk"
name="synth 2 x 5,000, level medium (schema bench/schemas/synth.json, --normalize=names)"
"$BL" eval -q --truth febrl --data "$W/two-1.csv" --data "$W/two-2.csv" --sweep \
  -t "$T_DEFAULT" --title "$name" --svg "$IMG/eval-synth.svg" "$W/two-cand.csv"
"$BL" eval -q --truth none -t "$T_DEFAULT" --title "$name" --svg "$IMG/scores-synth.svg" \
  "$W/two-cand.csv"
"$BL" describe -q --title "synth party 1 of 2, 5,000 records (bench/schemas/synth.json)" \
  --svg "$IMG/describe-synth.svg" "$W/two-1.clk"

# five parties of 2,000 records
"$BL" synth -q -n 2000 -p 5 --overlap 0.5 --level low --seed 1 -o "$W/five"
clks=()
for i in 1 2 3 4 5; do encode "$W/five-$i.csv" "$W/five-$i.clk"; clks+=("$W/five-$i.clk"); done
"$BL" match -t "$T_DEFAULT" -s probabilistic -f groups -o "$W/five-groups.json" \
  --title "synth 5 x 2,000, level low, threshold $T_DEFAULT, probabilistic solver" \
  --svg "$IMG/clusters-synth5.svg" "${clks[@]}"

# the quality benchmark's F1 overview
if [ "$RUN_QUALITY" = 1 ]; then
  BL="$BL" QUALITY_OUT="$QOUT" bash "$SRC/bench/quality.sh" "$BUILD"
fi
if [ -f "$QOUT/f1-all.svg" ]; then
  cp "$QOUT/f1-all.svg" "$IMG/quality-f1-all.svg"
else
  echo "gen_figures: no $QOUT/f1-all.svg (run with --quality); quality-f1-all.svg kept" >&2
fi

if command -v rsvg-convert >/dev/null; then
  mkdir -p "$W/png"
  for f in "$IMG"/*.svg; do
    rsvg-convert "$f" -o "$W/png/$(basename "$f" .svg).png"
  done
  echo "gen_figures: rendered $(ls "$W/png" | wc -l) figures into $W/png" >&2
else
  echo "gen_figures: rsvg-convert not installed (apt-get install librsvg2-bin): not rendered" >&2
fi
