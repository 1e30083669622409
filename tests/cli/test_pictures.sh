#!/usr/bin/env bash
# tests/cli/test_pictures.sh - the analyst's views (issue 11): describe (text,
# JSON, SVG), eval pictures (histogram with threshold marker, legend,
# Okabe-Ito colours, data set name, empty bins drawn empty; sweep plot; the
# no-truth score histogram), match's cluster-size picture, schema compare,
# blocklib block files written by match and read back, anonlink binary
# candidates read by eval; the field-level pictures (train's m/u chart,
# explain's waterfall, eval's weight histogram). Every SVG made here and every
# docs/img/*.svg is rendered with rsvg-convert (librsvg2-bin, a test-only
# dependency from scripts/deps.sh) and must draw nothing outside its viewBox
# (tests/cli/svg_check.py: a cut legend label fails); docs/img is what
# scripts/gen_figures.sh makes from the current program, and the F1 overview
# agrees with the quality tables of docs/quality.md and README.md. Without
# rsvg-convert the other checks run and the test is skipped (exit 77).
. "$(dirname "$0")/lib.sh"
F=$BL_FIXTURES/clkhash
M=$BL_FIXTURES/matching
A=$M/people-a.schema1-blake.json
B=$M/people-b.schema1-blake.json
TRUTH=$M/people-truth.csv
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }
SVGS=()
svg_ok() { # FILE: well-formed XML with an <svg> root; rendered at the end
  if python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag.endswith("svg")' "$1"; then pass; else fail "$1 is not a valid SVG"; fi
  SVGS+=("$1")
}
svg_check() { # svg_check.py ARGS: each "ok:" line a pass, each "FAIL:" line a failure
  python3 "$BL_SRC/tests/cli/svg_check.py" "$@" > "$T/svgcheck" 2>&1
  local rc=$? n
  n=$(grep -c '^ok:\|^checked ' "$T/svgcheck")
  for _ in $(seq "$n"); do pass; done
  grep '^FAIL:' "$T/svgcheck" | while read -r line; do echo "$line" >&2; done
  [ "$rc" -eq 0 ] || fail "svg_check.py $1: $(grep -c '^FAIL:' "$T/svgcheck") failure(s) (rc $rc)"
}

# --- describe ------------------------------------------------------------------------
expect_exit 0 "$BL" describe "$A"
assert_contains "$T/out" "encodings        20"
assert_contains "$T/out" "bits             1024"
assert_contains "$T/out" "popcount min     326"
assert_contains "$T/out" "popcount max     531"
assert_contains "$T/out" "popcount mean    421.90"
expect_exit 0 "$BL" describe --json --bins 5 "$A"
# the figures, recomputed here from the base64 filters
python3 - "$T/out" "$A" <<'PY' && pass || fail "describe --json figures"
import base64, json, statistics, sys
d = json.load(open(sys.argv[1]))
pc = [sum(bin(b).count("1") for b in base64.b64decode(c)) for c in json.load(open(sys.argv[2]))["clks"]]
assert d["encodings"] == len(pc) == 20, d
assert d["popcount"]["min"] == min(pc) and d["popcount"]["max"] == max(pc)
assert abs(d["popcount"]["mean"] - statistics.mean(pc)) < 1e-9
assert abs(d["popcount"]["stddev"] - statistics.stdev(pc)) < 1e-9
assert d["popcount"]["median"] == sorted(pc)[(len(pc) - 1) // 2]
assert sum(h["count"] for h in d["histogram"]) == 20 and len(d["histogram"]) == 5
assert abs(d["bits_set_share"] - statistics.mean(pc) / 1024) < 1e-12
PY
expect_exit 0 "$BL" describe -q --svg "$T/d.svg" --title "people A" - < "$A"
assert_eq "$(wc -c < "$T/out")" 0 "describe -q prints nothing"
svg_ok "$T/d.svg"
assert_contains "$T/d.svg" ">Bits set per encoding<"
assert_contains "$T/d.svg" ">people A<"
printf '{"clks": ["not base64!"]}' > "$T/bad.json"
expect_exit 2 "$BL" describe --svg "$T/bad.svg" "$T/bad.json"
assert_missing "$T/bad.svg"
assert_eq "$(wc -c < "$T/out")" 0 "no report on bad input"
expect_exit 2 "$BL" describe "$T/none.clk"

# --- eval pictures ------------------------------------------------------------------------
"$BL" match -t 0.5 -s none -o "$T/c.csv" "$A" "$B"
expect_exit 0 "$BL" eval --truth "$TRUTH" -t 0.8 --sweep --svg "$T/e.svg" --title "people & co" -q "$T/c.csv"
assert_eq "$(wc -c < "$T/out")" 0 "eval -q prints nothing"
svg_ok "$T/e.svg"
assert_contains "$T/e.svg" ">Scores of true and false candidate pairs<"
assert_contains "$T/e.svg" ">Precision, recall and F1 by threshold<"
assert_eq "$(grep -c '>people &amp; co<' "$T/e.svg")" 2 "data set name (escaped) on both panels"
assert_contains "$T/e.svg" "threshold 0.8"
for label in "true pairs" "false pairs" "empty bin" ">precision<" ">recall<" ">F1<"; do
  assert_contains "$T/e.svg" "$label"
done
# Okabe-Ito: bluish green for true pairs, vermillion for false ones
assert_contains "$T/e.svg" 'fill="#009E73"'
assert_contains "$T/e.svg" 'fill="#D55E00"'
# the scores leave bins empty between 0.65 and 0.75: drawn as dashed outlines
assert_contains "$T/e.svg" '<title>0 true pairs</title>'
n_empty=$(grep -c 'stroke-dasharray="3,2"><title>0 ' "$T/e.svg")
[ "$n_empty" -gt 0 ] && pass || fail "no empty bins drawn"
# the histogram in the JSON agrees with the candidates
expect_exit 0 "$BL" eval --json --truth "$TRUTH" --histogram --bins 10 "$T/c.csv"
json "$T/out" 'h = d["histogram"]; assert sum(h["true"]) == 18 and sum(h["true"]) + sum(h["false"]) == d["predicted"] and h["bins"] == 10' && pass || fail "eval histogram json"
# the sweep alone
expect_exit 0 "$BL" eval --truth "$TRUTH" --sweep-svg "$T/s.svg" "$T/c.csv"
svg_ok "$T/s.svg"
assert_contains "$T/s.svg" "Precision, recall and F1 by threshold"
assert_not_contains "$T/s.svg" "Scores of"
assert_contains "$T/out" "threshold   predicted"
# no ground truth: one class of candidate scores
expect_exit 0 "$BL" eval --truth none --svg "$T/n.svg" --json "$T/c.csv"
svg_ok "$T/n.svg"
assert_contains "$T/n.svg" "Scores of candidate pairs"
assert_contains "$T/n.svg" 'fill="#0072B2"'
assert_not_contains "$T/n.svg" "true pairs"
json "$T/out" 'assert "precision" not in d and sum(d["histogram"]["false"]) == 193' && pass || fail "eval --truth none json"
expect_exit 2 "$BL" eval --truth none --sweep "$T/c.csv"
# --svg to stdout with -q
"$BL" eval --truth none --svg - -q "$T/c.csv" > "$T/stdout.svg"
svg_ok "$T/stdout.svg"
# a bad matches file: exit 2, no picture
printf 'a_index,b_index,score\n0,x,0.9\n' > "$T/badm.csv"
expect_exit 2 "$BL" eval --truth "$TRUTH" --svg "$T/bad-e.svg" "$T/badm.csv"
assert_missing "$T/bad-e.svg"

# --- anonlink binary candidates, read where candidates are read ---------------------
expect_exit 0 "$BL" match -t 0.5 -f anonlink -o "$T/c.bin" "$A" "$B"
"$BL" eval --json --truth "$TRUTH" --sweep "$T/c.csv" > "$T/csv.json"
expect_exit 0 "$BL" eval --json --truth "$TRUTH" --sweep "$T/c.bin"
python3 - "$T/csv.json" "$T/out" <<'PY' && pass || fail "eval of anonlink binary candidates differs from CSV"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
a.pop("matches"); b.pop("matches")
assert a == b, (a, b)
PY
# ... and from stdin
"$BL" eval --json --truth "$TRUTH" --sweep - < "$T/c.bin" > "$T/stdin.json"
python3 - "$T/csv.json" "$T/stdin.json" <<'PY' && pass || fail "eval of candidates on stdin differs"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert b["matches"] == "stdin"
a.pop("matches"); b.pop("matches")
assert a == b
PY
head -c 30 "$T/c.bin" > "$T/trunc.bin"
expect_exit 2 "$BL" eval --truth "$TRUTH" "$T/trunc.bin"

# --- cluster sizes -------------------------------------------------------------------------
expect_exit 0 "$BL" match -t 0.8 --svg "$T/sizes.svg" --title "people" -o "$T/p.csv" "$A" "$B"
svg_ok "$T/sizes.svg"
assert_contains "$T/sizes.svg" ">Cluster sizes (1 = unmatched record)<"
assert_contains "$T/sizes.svg" ">people<"
# 17 pairs and 2 x 20 - 34 = 6 unmatched records
assert_contains "$T/sizes.svg" "<title>17 clusters</title>"
assert_contains "$T/sizes.svg" "<title>6 clusters</title>"
expect_exit 2 "$BL" match -t 0.8 -s none --svg "$T/x.svg" -o "$T/x.csv" "$A" "$B"
assert_missing "$T/x.svg"

# --- blocklib block files from match, read back --------------------------------------------
printf 'block key' > "$T/key"
expect_exit 0 "$BL" match -t 0.8 --blocking lsh --blocking-key-file "$T/key" --lsh-tables 8 --lsh-bits 12 --write-blocks "$T/blk" -f candidates -o "$T/lsh.csv" "$A" "$B"
json "$T/blk-1.json" 'b = d["blocks"]; assert len(b) == 20 and all(len(v) == 8 for v in b.values()) and d["meta"]["config"]["tables"] == 8' && pass || fail "block file shape"
expect_exit 0 "$BL" match -t 0.8 --blocks "$T/blk-1.json" --blocks "$T/blk-2.json" -f candidates -o "$T/back.csv" "$A" "$B"
assert_same "$T/back.csv" "$T/lsh.csv"
expect_exit 2 "$BL" match -t 0.8 --write-blocks "$T/nob" -o "$T/nob.csv" "$A" "$B"
assert_contains "$T/err" "--write-blocks needs --blocking"
assert_missing "$T/nob-1.json"

# --- schema compare ------------------------------------------------------------------------
S=$F/schemas
expect_exit 0 "$BL" schema compare "$S/schema1-blake-v2.json" "$S/schema1-blake-v2-converted-to-v3.json"
assert_contains "$T/out" "0 differences; CLKs made with the two schemas are comparable"
expect_exit 1 "$BL" schema compare "$S/schema1-blake.json" "$S/schema2-doublehash.json"
assert_contains "$T/out" "NOT comparable"
assert_contains "$T/out" '$.features[1].hashing'
expect_exit 1 "$BL" schema compare --json "$S/schema1-blake.json" "$S/schema2-doublehash.json"
json "$T/out" 'assert d["comparable"] is False and len(d["differences"]) > 0 and d["first_fingerprint"] != d["second_fingerprint"]' && pass || fail "schema compare --json"
# only the description differs: a difference, still comparable
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.setdefault("features")[1]["description"]="renamed"; json.dump(d, open(sys.argv[2],"w"))' "$S/schema1-blake.json" "$T/desc.json"
expect_exit 0 "$BL" schema compare "$S/schema1-blake.json" "$T/desc.json"
assert_contains "$T/out" '$.features[1].description: absent in the first, "renamed" in the second'
assert_contains "$T/out" "1 difference; CLKs made with the two schemas are comparable"
expect_exit 2 "$BL" schema compare "$S/schema1-blake.json"
expect_exit 2 "$BL" schema compare "$S/schema1-blake.json" "$T/missing.json"
assert_eq "$(wc -c < "$T/out")" 0 "no report on a missing schema"

# --- field-level pictures: m/u chart, explanation waterfall, weight histogram -------
printf 'pictures secret\n' > "$T/S"
"$BL" synth -q -n 400 --level medium --seed 5 -o "$T/f"
for p in 1 2; do
  "$BL" encode -q --secret-file "$T/S" --normalize=names --layout fields --format bin \
    --ids rec_id "$T/f-$p.csv" "$BL_SRC/examples/model-schema.json" "$T/f-$p.clk"
done
expect_exit 0 "$BL" train -q -o "$T/model.json" --mu-svg "$T/mu.svg" "$T/f-1.clk" "$T/f-2.clk"
svg_ok "$T/mu.svg"
assert_contains "$T/mu.svg" 'fill="#0072B2"'
assert_not_contains "$T/mu.svg" '#2a7f3f'
expect_exit 0 "$BL" match --model "$T/model.json" -o "$T/fm.csv" "$T/f-1.clk" "$T/f-2.clk"
read -r ai bi < <(awk -F, 'NR == 2 {print $1, $2}' "$T/fm.csv")
expect_exit 0 "$BL" explain --model "$T/model.json" --svg "$T/waterfall.svg" "$T/f-1.clk:$ai" "$T/f-2.clk:$bi"
svg_ok "$T/waterfall.svg"
assert_not_contains "$T/waterfall.svg" '#b03a2e'
# --json -o: valid JSON with the figures the text shows
expect_exit 0 "$BL" explain --json -o "$T/explain.json" --model "$T/model.json" "$T/f-1.clk:$ai" "$T/f-2.clk:$bi"
json "$T/explain.json" 'assert d["a"]["index"] == '"$ai"' and len(d["fields"]) > 3 and 0 <= d["probability"] <= 1 and all(set(f) == {"field", "dice", "level", "weight", "tf_adjust"} for f in d["fields"])' && pass || fail "explain --json -o: $(cat "$T/explain.json")"
expect_exit 0 "$BL" eval --truth febrl --data "$T/f-1.csv" --data "$T/f-2.csv" --weights --weights-svg "$T/weights.svg" -q "$T/fm.csv"
svg_ok "$T/weights.svg"
# Okabe-Ito, hatched false pairs, a legend and a labelled log y axis
assert_contains "$T/weights.svg" 'fill="#0072B2"'
assert_contains "$T/weights.svg" 'fill="url(#hatch)"'
assert_contains "$T/weights.svg" '>false pairs (hatched)<'
assert_contains "$T/weights.svg" '>pairs per bin (log scale)<'
assert_contains "$T/weights.svg" 'text-anchor="end">10<'
assert_not_contains "$T/weights.svg" '(green)'
assert_not_contains "$T/weights.svg" '>-0<'
# model pairs: the scores are probabilities, and no tick reads "-0"
expect_exit 0 "$BL" match --model "$T/model.json" -f candidates -o "$T/fc.csv" "$T/f-1.clk" "$T/f-2.clk"
expect_exit 0 "$BL" eval --truth febrl --data "$T/f-1.csv" --data "$T/f-2.csv" --sweep --histogram --svg "$T/prob.svg" -q "$T/fc.csv"
svg_ok "$T/prob.svg"
assert_contains "$T/prob.svg" '>posterior probability<'
assert_contains "$T/prob.svg" '>threshold (posterior probability)<'
assert_not_contains "$T/prob.svg" 'Dice similarity'
assert_not_contains "$T/prob.svg" '>-0<'

# --- every picture rendered, nothing drawn outside its viewBox ------------------------
have_rsvg=1
command -v rsvg-convert > /dev/null || have_rsvg=0
if [ $have_rsvg = 1 ]; then
  svg_check render "${SVGS[@]}" "$BL_SRC"/docs/img/*.svg
fi

# --- docs/img: what scripts/gen_figures.sh makes now, and the F1 overview agrees
# with the tables (the overview itself comes from a bench/quality.sh run) ------------
BL=$BL FIG_IMG="$T/img" FIG_WORK="$T/figwork" QUALITY_OUT="$T/noquality" \
  bash "$BL_SRC/scripts/gen_figures.sh" "$BL_BUILD" > "$T/gen.log" 2>&1 ||
  { fail "scripts/gen_figures.sh failed"; sed 's/^/  | /' "$T/gen.log" | tail -5 >&2; }
for f in "$T"/img/*.svg; do
  if cmp -s "$f" "$BL_SRC/docs/img/${f##*/}"; then pass; else
    fail "docs/img/${f##*/} is not what the program draws now: run scripts/gen_figures.sh"
  fi
done
[ "$(ls "$T"/img/*.svg | wc -l)" -ge 4 ] && pass || fail "gen_figures.sh made $(ls "$T"/img | wc -l) figures"
svg_check quality "$BL_SRC/docs/img/quality-f1-all.svg" "$BL_SRC/docs/quality.md" "$BL_SRC/README.md"

if [ $have_rsvg = 0 ] && [ "$BL_FAILED" -eq 0 ]; then
  echo "$BL_PASSED passed; SKIP: rsvg-convert missing (scripts/deps.sh installs librsvg2-bin): pictures not rendered"
  exit 77
fi
finish
