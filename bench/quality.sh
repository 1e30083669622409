#!/usr/bin/env bash
# bench/quality.sh - end-to-end linkage quality of blindlink: for each data
# set, encode every party (blindlink encode), find candidate pairs
# (blindlink match), and measure precision/recall/F1 over a threshold sweep
# with the greedy 1:1 solver (blindlink eval). Also times every stage, counts
# the pairs compared and measures blocking recall against an "oracle"
# blocking that compares exactly the true pairs. bench/quality_report.py then
# writes quality.md (the table, the chosen default threshold and schema) and
# one SVG plot of F1 against threshold per data set.
#
# Data sets: FEBRL4 (5k x 5k), the 5-party anonlink tutorial data, the
# clkhash dirty pair (1k x 1k), and `blindlink synth` two-party sets of 10K,
# 100K and 1M records per party at low, medium, high and hard corruption.
#
# Next to each record-level row, a model row (up to QUALITY_MODEL_UPTO
# records per party): the same CSVs encoded with --layout fields, then
# `match --model auto` (Fellegi-Sunter trained by EM, no threshold) and
# `eval`; its pair completeness from `match --model auto -f candidates`.
#
# Usage: bench/quality.sh [BUILD_DIR]          (default: ./build)
# Environment:
#   QUALITY_SIZES   party sizes of the generated sets   [10000 100000 1000000]
#   QUALITY_LEVELS  corruption levels                   [low medium high hard]
#   QUALITY_MODEL   1 = model rows too, 0 = record-level only  [1]
#   QUALITY_MODEL_UPTO  largest party size with a model row [100000]
#   QUALITY_MODEL_SCHEMA  schema of the generated sets' model rows
#                                                       [examples/model-schema.json]
#   QUALITY_SETS    which fixed sets to run             [febrl4 anonlink5 dirty]
#   QUALITY_OUT     output folder                       [bench/out/quality]
#   QUALITY_LSH_FROM party size from which keyed LSH blocking replaces the
#                   exhaustive comparison               [500000]
#   QUALITY_THREADS threads for every stage             [0 = all cores]
#   QUALITY_SYNTH_SCHEMA  schema for the generated sets  [bench/schemas/synth.json]
#   QUALITY_DATA    folder with febrl4/, anonlink-tutorial/, clkhash-dirty/
#                   (shipped in the repository)         [data]
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
BL=${BL:-$BUILD/blindlink}
DATA=${QUALITY_DATA:-$SRC/data}
OUT=${QUALITY_OUT:-$SRC/bench/out/quality}
SIZES=${QUALITY_SIZES-10000 100000 1000000}
LEVELS=${QUALITY_LEVELS-low medium high hard}
MODEL=${QUALITY_MODEL:-1}
MODEL_UPTO=${QUALITY_MODEL_UPTO:-100000}
MODEL_SCHEMA=${QUALITY_MODEL_SCHEMA:-$SRC/examples/model-schema.json}
SETS=${QUALITY_SETS-febrl4 anonlink5 dirty}
LSH_FROM=${QUALITY_LSH_FROM:-500000}
THREADS=${QUALITY_THREADS:-0}
SCHEMAS=$SRC/bench/schemas
W=$OUT/work

# candidates are kept down to this score, at most TOPK per record and
# dataset pair; the sweep then re-solves 1:1 at every threshold
T_LOW=0.5
TOPK=3
# with LSH (1M records) the scores between 0.5 and 0.7 would exceed the
# matcher's candidate cap; those sets keep candidates from 0.7 up
LSH_T_LOW=0.7
SWEEP=0.5:1:0.025
# keyed LSH for the largest sets: 40 tables of 20 sampled bits
LSH_OPTS=(--blocking lsh --lsh-tables 40 --lsh-bits 20 --blocking-key-env BL_QUALITY_LSH_KEY)

die() { echo "quality: $*" >&2; exit 1; }
[ -x "$BL" ] || die "no blindlink binary at $BL (make build first)"
for c in encode match eval synth; do
  "$BL" "$c" --help >/dev/null 2>&1 || die "'blindlink $c' is not available in $BL"
done
command -v python3 >/dev/null || die "python3 is needed for the report"
mkdir -p "$W"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

# Keys of the benchmark only (not secret in any real sense); fixed so runs
# are comparable.
printf 'blindlink quality benchmark secret' > "$W/secret"
export BL_QUALITY_LSH_KEY=YmxpbmRsaW5rIHF1YWxpdHkgYmVuY2ggbHNoIGtleQ==

# blocks_file KIND CSV OUT: "record,block" CSV putting each record in the
# block of its true entity (FEBRL rec-N-... -> N, or the id column).
blocks_file() {
  awk -F, -v kind="$1" 'NR > 1 {
      k = $1; gsub(/\r/, "", k); gsub(/^[ \t]+|[ \t]+$/, "", k)
      if (kind == "febrl") { sub(/^rec-/, "", k); sub(/-.*/, "", k) }
      print NR - 2 "," k }' "$2" > "$3"
}

# run_set NAME KIND SCHEMA "ENCODE OPTIONS" CSV... - one data set end to end
run_set() {
  local name=$1 kind=$2 schema=$3 encopts=$4
  shift 4
  local csvs=("$@") clks=() data=() blocks=() sizes=() t mode=exhaustive
  echo "== $name (${#csvs[@]} parties)" >&2
  local enc_s=0 i=0
  for csv in "${csvs[@]}"; do
    i=$((i + 1))
    t=$(now)
    # shellcheck disable=SC2086
    "$BL" encode --quiet --threads "$THREADS" --format bin --secret-file "$W/secret" $encopts \
      "$csv" "$schema" "$W/$name-$i.clk"
    enc_s=$(awk -v a="$enc_s" -v b="$(since "$t")" 'BEGIN { printf "%.3f", a + b }')
    clks+=("$W/$name-$i.clk")
    data+=(--data "$csv")
    blocks_file "$kind" "$csv" "$W/$name-$i.blocks.csv"
    blocks+=(--blocks "$W/$name-$i.blocks.csv")
    sizes+=("$(wc -l < "$W/$name-$i.blocks.csv")")
  done
  local truth=(--truth febrl)
  [ "$kind" = id ] && truth=(--truth id)
  local maxsize pairs
  maxsize=$(printf '%s\n' "${sizes[@]}" | sort -n | tail -1)
  pairs=$(printf '%s\n' "${sizes[@]}" | awk '{ for (j = 1; j < NR; j++) s += $1 * v[j]; v[NR] = $1 } END { printf "%.0f", s }')
  local lsh=() tlow=$T_LOW
  if [ "$maxsize" -ge "$LSH_FROM" ]; then
    lsh=("${LSH_OPTS[@]}")
    mode="lsh 40x20"
    tlow=$LSH_T_LOW
  fi

  # candidates (all scores >= T_LOW, top-k per record) and their time
  t=$(now)
  "$BL" match -v -j "$THREADS" -t "$tlow" -k "$TOPK" -f candidates ${lsh[@]+"${lsh[@]}"} \
    -o "$W/$name.cand.csv" "${clks[@]}" 2> "$W/$name.match.log"
  local match_s
  match_s=$(since "$t")
  # pairs compared: every pair without blocking; with blocking, the
  # "blocking compared N of M pairs (reduction ratio R)" line of match -v
  local compared=$pairs
  if [ ${#lsh[@]} -gt 0 ]; then
    compared=$(sed -nE 's/^blindlink match: blocking compared ([0-9]+) of [0-9]+ pairs.*/\1/p' "$W/$name.match.log" | tail -1)
    [ -n "$compared" ] || compared=null
  fi
  # the oracle: exactly the true pairs are compared
  "$BL" match -j "$THREADS" -t "$tlow" -f candidates "${blocks[@]}" \
    -o "$W/$name.oracle.csv" "${clks[@]}"

  # quality over the threshold sweep (greedy 1:1 re-solved at each step)
  t=$(now)
  "$BL" eval "${data[@]}" "${truth[@]}" --sweep --thresholds "$SWEEP" --json \
    -o "$W/$name.sweep.json" "$W/$name.cand.csv"
  local eval_s
  eval_s=$(since "$t")
  # blocking recall: true pairs among the candidates vs among the oracle's
  "$BL" eval "${data[@]}" "${truth[@]}" --sweep --thresholds "$SWEEP" --solver none --json \
    -o "$W/$name.cand-none.json" "$W/$name.cand.csv"
  "$BL" eval "${data[@]}" "${truth[@]}" --sweep --thresholds "$SWEEP" --solver none --json \
    -o "$W/$name.oracle-none.json" "$W/$name.oracle.csv"

  local records sname=${schema#"$SRC"/}
  sname=${sname#"$DATA"/}
  records=$(printf '%s\n' "${sizes[@]}" | paste -sd+ | bc)
  cat > "$W/$name.meta.json" <<EOF
{"name": "$name", "parties": ${#csvs[@]}, "records": $records, "schema": "$sname",
 "encode_options": "$encopts", "blocking": "$mode", "pairs_total": $pairs,
 "pairs_compared": $compared, "synth_s": ${SYNTH_S:-null}, "encode_s": $enc_s,
 "match_s": $match_s, "eval_s": $eval_s, "t_low": $tlow}
EOF
  echo "   encode ${enc_s}s, match ${match_s}s, eval ${eval_s}s" >&2
}

# run_model NAME KIND SCHEMA "ENCODE OPTIONS" CSV... - the model row of a
# data set: field-level encodings, match --model auto, eval, and the pair
# completeness of the model's candidates (match --model auto -f candidates)
run_model() {
  local name=$1 kind=$2 schema=$3 encopts=$4
  shift 4
  local csvs=("$@") clks=() data=() t enc_s=0 i=0 maxsize=0 n
  [ "$MODEL" = 1 ] || return 0
  for csv in "${csvs[@]}"; do
    n=$(($(wc -l < "$csv") - 1))
    [ "$n" -gt "$maxsize" ] && maxsize=$n
  done
  [ "$maxsize" -le "$MODEL_UPTO" ] || return 0
  echo "== $name: model" >&2
  for csv in "${csvs[@]}"; do
    i=$((i + 1))
    t=$(now)
    # shellcheck disable=SC2086
    "$BL" encode --quiet --threads "$THREADS" --layout fields --format bin --secret-file "$W/secret" \
      $encopts "$csv" "$schema" "$W/$name-$i.fields.clk"
    enc_s=$(awk -v a="$enc_s" -v b="$(since "$t")" 'BEGIN { printf "%.3f", a + b }')
    clks+=("$W/$name-$i.fields.clk")
    data+=(--data "$csv")
  done
  local truth=(--truth febrl)
  [ "$kind" = id ] && truth=(--truth id)
  local rss=null match_s
  t=$(now)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%M" -o "$W/$name.model.rss" "$BL" match -v -j "$THREADS" --model auto \
      -o "$W/$name.model.csv" "${clks[@]}" 2> "$W/$name.model.log"
    rss=$(tail -1 "$W/$name.model.rss")
  else
    "$BL" match -v -j "$THREADS" --model auto -o "$W/$name.model.csv" "${clks[@]}" 2> "$W/$name.model.log"
  fi
  match_s=$(since "$t")
  "$BL" eval "${data[@]}" "${truth[@]}" --json -o "$W/$name.model-eval.json" "$W/$name.model.csv"
  # pair completeness: the true pairs among every scored candidate
  "$BL" match -j "$THREADS" --model auto -f candidates -o "$W/$name.model-cand.csv" "${clks[@]}"
  "$BL" eval "${data[@]}" "${truth[@]}" --json -o "$W/$name.model-cand.json" "$W/$name.model-cand.csv"
  local sname=${schema#"$SRC"/} blocking=exhaustive line
  sname=${sname#"$DATA"/}
  # match --model blocks on field values above 4e9 record pairs (docs/model.md)
  local sizes=()
  for csv in "${csvs[@]}"; do sizes+=("$(($(wc -l < "$csv") - 1))"); done
  printf '%s\n' "${sizes[@]}" | awk '{ for (j = 1; j < NR; j++) s += $1 * v[j]; v[NR] = $1 }
    END { exit !(s > 4e9) }' && blocking="field blocks"
  line=$(grep -m1 "candidate pairs; model trained" "$W/$name.model.log" || true)
  python3 - "$W/$name.modelrow.json" <<EOF
import json, sys
json.dump({"name": "$name", "parties": ${#csvs[@]}, "schema": "$sname",
           "encode_options": "--layout fields $encopts".strip(), "blocking": "$blocking",
           "encode_s": $enc_s, "match_s": $match_s, "peak_rss_kb": $rss,
           "log": """$line"""}, open(sys.argv[1], "w"), indent=1)
EOF
  rm -f "$W/$name.model-cand.csv" "${clks[@]}"
  echo "   model: encode ${enc_s}s, match ${match_s}s" >&2
}

for s in $SETS; do
  SYNTH_S=null
  case $s in
    febrl4)
      run_set febrl4 febrl "$SCHEMAS/febrl.json" "--legacy-strip --check-header false" \
        "$DATA/febrl4/dataset4a.csv" "$DATA/febrl4/dataset4b.csv"
      run_model febrl4 febrl "$SCHEMAS/febrl.json" "--legacy-strip --check-header false" \
        "$DATA/febrl4/dataset4a.csv" "$DATA/febrl4/dataset4b.csv" ;;
    anonlink5)
      run_set anonlink5 id "$DATA/anonlink-tutorial/schema.json" "" \
        "$DATA"/anonlink-tutorial/dataset-{1,2,3,4,5}.csv
      run_model anonlink5 id "$DATA/anonlink-tutorial/schema.json" "" \
        "$DATA"/anonlink-tutorial/dataset-{1,2,3,4,5}.csv ;;
    dirty)
      run_set clkhash-dirty id "$SCHEMAS/clkhash-dirty.json" "--legacy-strip --check-header false" \
        "$DATA/clkhash-dirty/dirty_1000_50_1.csv" "$DATA/clkhash-dirty/dirty_1000_50_2.csv"
      run_model clkhash-dirty id "$SCHEMAS/clkhash-dirty.json" "--legacy-strip --check-header false" \
        "$DATA/clkhash-dirty/dirty_1000_50_1.csv" "$DATA/clkhash-dirty/dirty_1000_50_2.csv" ;;
    *) die "unknown set '$s' (febrl4, anonlink5, dirty)" ;;
  esac
done

for n in $SIZES; do
  for level in $LEVELS; do
    name=synth-$n-$level
    t=$(now)
    "$BL" synth -n "$n" --level "$level" --overlap 0.5 --seed 1 -j "$THREADS" -o "$W/$name"
    SYNTH_S=$(since "$t")
    run_set "$name" febrl "${QUALITY_SYNTH_SCHEMA:-$SCHEMAS/synth.json}" "--normalize=names" "$W/$name-1.csv" "$W/$name-2.csv"
    run_model "$name" febrl "$MODEL_SCHEMA" "--normalize=names" "$W/$name-1.csv" "$W/$name-2.csv"
    rm -f "$W/$name"-[12].csv "$W/$name"-[12].clk "$W/$name".oracle.csv
  done
done

python3 "$SRC/bench/quality_report.py" "$W" "$OUT"
echo "quality: wrote $OUT/quality.md and $OUT/f1-*.svg" >&2
