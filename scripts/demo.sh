#!/usr/bin/env bash
# scripts/demo.sh - `make demo`: the main job end to end.
#  1. FEBRL4 (5,000 x 5,000 records, 5,000 true pairs): encode both halves with
#     examples/febrl-schema.json (names, address and date of birth; soc_sec_id
#     is NOT used: it is a near-unique id that makes linkage trivially
#     perfect), match (greedy 1:1 over the 10 best candidates per record),
#     evaluate against the rec-N-org / rec-N-dup-K ids, print F1 and where the
#     matches are; also a keyed-LSH blocked run with its pair completeness.
#  2. The 5-party anonlink tutorial data, matched with the probabilistic solver.
#  3. The same five parties with field-level encodings and a Fellegi-Sunter
#     model trained by EM (no threshold), one match explained field by field.
#  4. Generated hard data (shared names, swaps, typos, missing fields; half of
#     B without a partner): the four commands of docs/model.md, verbatim.
# Usage: scripts/demo.sh [BUILD_DIR]   (outputs in $DEMO_OUT, default BUILD_DIR/demo)
# Data: shipped in the repository (data/febrl4/, data/anonlink-tutorial/, each
# with its licence); BL_DATA=DIR reads the same layout from elsewhere.
set -euo pipefail
BUILD=${1:-build}
BL=${BL:-$BUILD/blindlink}
SRC=$(cd "$(dirname "$0")/.." && pwd)
DATA=${BL_DATA:-$SRC/data}
OUT=${DEMO_OUT:-$BUILD/demo}
export BL_NO_PROGRESS=1
mkdir -p "$OUT"
[ -x "$BL" ] || { echo "demo: $BL not built (run make build)" >&2; exit 1; }
[ -f "$DATA/febrl4/dataset4a.csv" ] || { echo "demo: $DATA/febrl4/dataset4a.csv not found (set BL_DATA to a folder with febrl4/ and anonlink-tutorial/)" >&2; exit 1; }

# A demo secret shared by the parties (a real run uses a key agreed out of band).
SECRET="$OUT/secret.txt"
[ -s "$SECRET" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET"
chmod 600 "$SECRET"

echo "== FEBRL4: encode (clkhash-compatible CLKs, ids carried in the binary format)"
for x in a b; do
  # FEBRL writes ", " separators: strip cells (--legacy-strip), skip the header check
  "$BL" encode --quiet --secret-file "$SECRET" --legacy-strip --check-header false \
    --format bin --ids rec_id "$DATA/febrl4/dataset4$x.csv" "$SRC/examples/febrl-schema.json" \
    "$OUT/febrl4$x.clk"
done
# The schema's filters are dense (about 700 of 1,024 bits set), so unrelated
# records already score about 0.65; 0.7 loses only a handful of true pairs,
# and -k 10 keeps the candidate set (and the run time) small.
T=0.7
echo "== FEBRL4: match at threshold $T (greedy 1:1, as anonlink greedy_solve, top 10 per record)"
"$BL" match -v -t $T -k 10 -o "$OUT/febrl4-matches.csv" "$OUT/febrl4a.clk" "$OUT/febrl4b.clk"
echo "== FEBRL4: evaluate"
"$BL" eval --truth febrl --data "$DATA/febrl4/dataset4a.csv" --data "$DATA/febrl4/dataset4b.csv" \
  "$OUT/febrl4-matches.csv" | tee "$OUT/febrl4-eval.txt"
"$BL" eval --json --truth febrl --data "$DATA/febrl4/dataset4a.csv" \
  --data "$DATA/febrl4/dataset4b.csv" "$OUT/febrl4-matches.csv" > "$OUT/febrl4-eval.json"
echo "== FEBRL4: candidates >= 0.6 (top 10 per record), threshold sweep and similarity histogram"
"$BL" match -t 0.6 -k 10 -s none -f candidates -o "$OUT/febrl4-candidates.csv" "$OUT/febrl4a.clk" "$OUT/febrl4b.clk"
"$BL" eval --truth febrl --data "$DATA/febrl4/dataset4a.csv" --data "$DATA/febrl4/dataset4b.csv" \
  --sweep --thresholds 0.6:0.9:0.05 --histogram --bins 20 --svg "$OUT/febrl4-similarity.svg" \
  "$OUT/febrl4-candidates.csv" | sed -n '/^threshold/,$p'
# Keyed LSH with the automatic parameters, which are chosen to keep >= 99% of
# the exhaustive candidates (pair completeness is printed to check it).
echo "== FEBRL4: keyed LSH blocking at threshold 0.8, automatic parameters (bit positions derived from a secret key)"
BL_BLOCKING_KEY="$(cat "$SECRET")" "$BL" match -v -t 0.8 -k 10 --blocking lsh --blocking-report \
  -o "$OUT/febrl4-matches-lsh.csv" "$OUT/febrl4a.clk" "$OUT/febrl4b.clk"
"$BL" eval --truth febrl --data "$DATA/febrl4/dataset4a.csv" --data "$DATA/febrl4/dataset4b.csv" \
  "$OUT/febrl4-matches-lsh.csv" | grep -E '^(precision|recall|F1)'

TUT="$DATA/anonlink-tutorial"
[ -f "$TUT/dataset-1.csv" ] || { echo "demo: $TUT/dataset-1.csv not found" >&2; exit 1; }
echo "== anonlink tutorial: 5 parties, probabilistic solver"
ins=() ; dat=()
for i in 1 2 3 4 5; do
  "$BL" encode --quiet --secret-file "$SECRET" --normalize=basic --format bin --ids id \
    "$TUT/dataset-$i.csv" "$SRC/examples/anonlink-tutorial-schema.json" "$OUT/tutorial-$i.clk"
  ins+=("$OUT/tutorial-$i.clk"); dat+=(--data "$TUT/dataset-$i.csv")
done
"$BL" match -v -t 0.7 -s probabilistic -f groups -o "$OUT/tutorial-groups.json" "${ins[@]}"
"$BL" match -t 0.7 -s probabilistic -o "$OUT/tutorial-pairs.csv" "${ins[@]}"
"$BL" eval --truth id "${dat[@]}" "$OUT/tutorial-pairs.csv" | tee "$OUT/tutorial-eval.txt" |
  grep -E '^(predicted|true|precision|recall|F1)'

# 3. Field-level encodings keep each feature's bits apart, so a model can weigh
# an agreeing date of birth against a misspelt name (docs/model.md). The
# tutorial's own published schema, as in docs/quality.md's model rows (with
# examples/anonlink-tutorial-schema.json, tuned for one record-level filter,
# the model reaches about 0.92).
echo "== anonlink tutorial: 5 parties, Fellegi-Sunter model (field-level encodings of the tutorial's schema, EM, no threshold)"
fins=()
for i in 1 2 3 4 5; do
  "$BL" encode --quiet --secret-file "$SECRET" --layout fields --format bin --ids id \
    "$TUT/dataset-$i.csv" "$TUT/schema.json" "$OUT/tutorial-fields-$i.clk"
  fins+=("$OUT/tutorial-fields-$i.clk")
done
"$BL" match -v --model auto --save-model "$OUT/tutorial-model.json" -o "$OUT/tutorial-model-pairs.csv" "${fins[@]}"
"$BL" eval --truth id "${dat[@]}" --weights-svg "$OUT/tutorial-weights.svg" \
  --model "$OUT/tutorial-model.json" --mu-svg "$OUT/tutorial-mu.svg" "$OUT/tutorial-model-pairs.csv" |
  tee "$OUT/tutorial-model-eval.txt" | grep -E '^(predicted|true|precision|recall|F1)'
# the first matched pair, field by field (a_index and b_index of the CSV are
# per-dataset record numbers; the dataset columns say which inputs; --input
# names every input, so value frequencies are counted as match counted them)
first=$(sed -n 2p "$OUT/tutorial-model-pairs.csv")
echo "== explain the first matched pair ($first)"
IFS=, read -r da ia db ib _ <<<"$(python3 -c 'import csv,sys
r = csv.DictReader(open(sys.argv[1])); p = next(r)
print(",".join([p.get("a_dataset", "0"), p["a_index"], p.get("b_dataset", "1"), p["b_index"], ""]))' \
  "$OUT/tutorial-model-pairs.csv")"
ins=()
for f in "${fins[@]}"; do ins+=(--input "$f"); done
"$BL" explain --model "$OUT/tutorial-model.json" --svg "$OUT/tutorial-explain.svg" "${ins[@]}" \
  "${fins[$da]}:$ia" "${fins[$db]}:$ib"

# 4. The documented pipeline on generated hard data.
echo "== synth --level hard, 10,000 records per party: encode --layout fields, match --model auto, eval"
"$BL" synth -n 10000 --level hard --overlap 0.5 --seed 1 -o "$OUT/hard" >/dev/null
for x in 1 2; do
  "$BL" encode --quiet --secret-file "$SECRET" --normalize=names --layout fields --format bin \
    --ids rec_id "$OUT/hard-$x.csv" "$SRC/examples/model-schema.json" "$OUT/hard-$x.clk"
done
"$BL" match --model auto -o "$OUT/hard-matches.csv" "$OUT/hard-1.clk" "$OUT/hard-2.clk"
"$BL" eval --truth febrl --data "$OUT/hard-1.csv" --data "$OUT/hard-2.csv" "$OUT/hard-matches.csv" |
  tee "$OUT/hard-eval.txt" | grep -E '^(precision|recall|F1)'

f1=$(python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["f1"])' "$OUT/febrl4-eval.json" 2>/dev/null || grep '^F1' "$OUT/febrl4-eval.txt" | awk '{print $2}')
echo
echo "FEBRL4 F1 = $f1 at threshold $T, without soc_sec_id (target >= 0.999)"
f1of() { awk '$1 == "F1" {printf "%.4f", $2}' "$1"; }
echo "anonlink tutorial, 5 parties: F1 $(f1of "$OUT/tutorial-eval.txt") record-level at 0.7," \
  "$(f1of "$OUT/tutorial-model-eval.txt") with the model (no threshold)"
echo "synth hard 10K x 10K: model F1 $(f1of "$OUT/hard-eval.txt")"
echo "matches: $OUT/febrl4-matches.csv (a_index,b_index,score,a_id,b_id)"
echo "also:    $OUT/febrl4-similarity.svg, $OUT/tutorial-groups.json, $OUT/*.clk,"
echo "         $OUT/tutorial-model.json (the trained model), tutorial-{weights,mu,explain}.svg"
