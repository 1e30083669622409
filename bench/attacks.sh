#!/usr/bin/env bash
# bench/attacks.sh - every attack against every hardening profile, and what
# each profile costs in linkage quality (docs/attacks.md).
#
# Data: `blindlink synth` persons (N records; party 1 = originals, party 2 =
# corrupted copies). The data owner encodes party 1 (with --ids). The
# attacker knows a plaintext list: party 1 itself (overlap 100%) or its
# first half plus N/2 people who are not in it (overlap 50%). Every method
# runs on record-level CLKs and on the field-level layout. Linkage quality
# (party 2 corrupted with synth -l high, the hard profile):
# best F1 over thresholds (greedy 1:1, top 10 candidates) of party 1 vs
# party 2, and of FEBRL4 (data/febrl4 in the repository; BL_DATA overrides).
#
# Usage: bench/attacks.sh [BUILD_DIR]   env: N (default 2000), PROFILES
#   (space-separated, default below), OUT (default BUILD_DIR/attacks),
#   METHODS, OVERLAPS ("100 50"), LAYOUTS ("record fields")
# Writes OUT/attacks.csv, OUT/attacks.md (table), OUT/attacks.svg
# (re-identification against F1 loss). Figures are measured on whatever
# machine runs it; say how loaded it was when quoting them.
set -euo pipefail
BUILD=${1:-build}
BL=${BL:-$BUILD/blindlink}
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-2000}
OUT=${OUT:-$BUILD/attacks}
PROFILES=${PROFILES:-"none salt=state xor blip=0.05 balance diffuse=3 blip=0.05,balance recommended"}
METHODS=${METHODS:-"graph frequency pattern"}
OVERLAPS=${OVERLAPS:-"100 50"}
LAYOUTS=${LAYOUTS:-"record fields"}
SCHEMA=$SRC/bench/schemas/synth.json
FEBRL=${BL_DATA:-$SRC/data}/febrl4   # BL_DATA: a folder laid out like data/ (as for make demo)
export BL_NO_PROGRESS=1
[ -x "$BL" ] || { echo "attacks: $BL not built (run make build)" >&2; exit 1; }
mkdir -p "$OUT"
SECRET=$OUT/secret.txt
[ -s "$SECRET" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET"
chmod 600 "$SECRET"

# data: party 1 and 2, and an outside population for the 50% overlap list
"$BL" synth -n "$N" -p 2 --overlap 1 --seed 11 -l high -o "$OUT/s" >/dev/null
"$BL" synth -n "$N" -p 2 --overlap 1 --seed 12 -o "$OUT/x" >/dev/null
half=$((N / 2))
cp "$OUT/s-1.csv" "$OUT/known100.csv"
{ sed -n "1,$((half + 1))p" "$OUT/s-1.csv"; sed -n "2,$((half + 1))p" "$OUT/x-1.csv" | sed 's/^rec-/out-/'; } > "$OUT/known50.csv"

best_f1() { # CAND.csv DATA_A DATA_B -> best F1 over thresholds
  "$BL" eval --json --truth febrl --data "$2" --data "$3" --sweep --thresholds 0.3:0.99:0.01 "$1" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.4f" % max((r["f1"] or 0) for r in d["sweep"]))'
}
f1_of() { # PROFILE SCHEMA A B TAG [encode flags]
  local h=$1 sc=$2 a=$3 b=$4 tag=$5; shift 5
  "$BL" encode --quiet --secret-file "$SECRET" "$@" --format bin --ids rec_id --harden "$h" "$a" "$sc" "$OUT/$tag-a.clk"
  "$BL" encode --quiet --secret-file "$SECRET" "$@" --format bin --ids rec_id --harden "$h" "$b" "$sc" "$OUT/$tag-b.clk"
  "$BL" match -t 0.3 -k 10 -s none -f candidates -o "$OUT/$tag-cand.csv" "$OUT/$tag-a.clk" "$OUT/$tag-b.clk"
  best_f1 "$OUT/$tag-cand.csv" "$a" "$b"
}

CSV=$OUT/attacks.csv
echo "profile,layout,overlap,method,encoded,guesses,correct,reidentified,seconds,f1_synth,f1_febrl" > "$CSV"
for h in $PROFILES; do
  f1s=$(f1_of "$h" "$SCHEMA" "$OUT/s-1.csv" "$OUT/s-2.csv" f1s)
  f1f=NA
  if [ -f "$FEBRL/dataset4a.csv" ]; then
    f1f=$(f1_of "$h" "$SRC/examples/febrl-schema.json" "$FEBRL/dataset4a.csv" "$FEBRL/dataset4b.csv" f1f \
          --legacy-strip --check-header false)
  fi
  for lay in $LAYOUTS; do
    enc=$OUT/enc-$lay.clk
    if [ "$lay" = record ]; then
      "$BL" encode --quiet --secret-file "$SECRET" --format bin --ids rec_id --harden "$h" "$OUT/s-1.csv" "$SCHEMA" "$enc"
    else
      "$BL" attack --encode-fields "$enc" --schema "$SCHEMA" --ids rec_id --harden "$h" --secret-file "$SECRET" "$OUT/s-1.csv"
    fi
    for ov in $OVERLAPS; do
      for m in $METHODS; do
        r=$("$BL" attack --method "$m" --plain "$OUT/known$ov.csv" --schema "$SCHEMA" --ids rec_id --truth ids --json "$enc")
        line=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%d,%d,%d,%.4f,%.1f" % (d["encoded"], d["guesses"], d["correct"], d["reidentified"], d["seconds"]))' "$r")
        echo "${h//,/+},$lay,$ov,$m,$line,$f1s,$f1f" | tee -a "$CSV"
      done
    done
  done
done
python3 "$SRC/bench/attacks_report.py" "$CSV" "$OUT/attacks.md" "$OUT/attacks.svg"
echo "attacks: wrote $CSV, $OUT/attacks.md, $OUT/attacks.svg"
