#!/usr/bin/env bash
# bench/attacks.sh - every attack against every hardening profile, and what
# each profile costs in linkage quality (docs/attacks.md).
#
# Data: `blindlink synth` persons (N records; party 1 = originals, party 2 =
# corrupted copies, synth -l high). The data owner encodes party 1 (with
# --ids) with `blindlink encode`, record-level and `--layout fields`. The
# attacker knows a plaintext list: party 1 itself (overlap 100%) or its
# first half plus N/2 people who are not in it (overlap 50%), and the
# hardening profile (from the file's metadata), never the secret.
# ATTACKERS: "model" (default: models the hardening, undoes balancing) and/or
# "naive" (BL_ATTACK_NAIVE=1: the attacker before that model).
# Linkage quality per profile (F1=0 skips it): best F1 over thresholds
# (greedy 1:1, top 10 candidates) of record-level CLKs, party 1 vs party 2
# of synth -l high and FEBRL4 (data/febrl4; BL_DATA overrides); and F1 of
# `match --model auto` on field-level files: synth -n 10000 -l hard with
# examples/model-schema.json (--normalize=names), FEBRL4 with
# bench/schemas/febrl.json.
#
# Usage: bench/attacks.sh [BUILD_DIR]   env: N (default 2000), PROFILES
#   (space-separated, default below), OUT (default BUILD_DIR/attacks),
#   METHODS, OVERLAPS ("100 50"), LAYOUTS ("record fields"), ATTACKERS,
#   F1 (1), APPEND (1: add rows to an existing OUT/attacks.csv)
# The graph attack alone at 100K on record-level CLKs, full overlap:
#   N=100000 METHODS=graph LAYOUTS=record OVERLAPS=100 F1=0 \
#     PROFILES="none recommended" bench/attacks.sh build
# (its sparse graphs are built from all pairs: budget CPU-hours at 100K)
# Writes OUT/attacks.csv, OUT/attacks.md (tables), OUT/attacks.svg
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
ATTACKERS=${ATTACKERS:-model}
F1=${F1:-1}
SCHEMA=$SRC/bench/schemas/synth.json
FEBRL=${BL_DATA:-$SRC/data}/febrl4   # BL_DATA: a folder laid out like data/ (as for make demo)
export BL_NO_PROGRESS=1
[ -x "$BL" ] || { echo "attacks: $BL not built (run make build)" >&2; exit 1; }
mkdir -p "$OUT"
SECRET=$OUT/secret.txt
[ -s "$SECRET" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET"
chmod 600 "$SECRET"

# data: party 1 and 2, and an outside population for the 50% overlap list
D=$OUT/n$N
mkdir -p "$D"
"$BL" synth -n "$N" -p 2 --overlap 1 --seed 11 -l high -o "$D/s" >/dev/null
"$BL" synth -n "$N" -p 2 --overlap 1 --seed 12 -o "$D/x" >/dev/null
half=$((N / 2))
cp "$D/s-1.csv" "$D/known100.csv"
{ sed -n "1,$((half + 1))p" "$D/s-1.csv"; sed -n "2,$((half + 1))p" "$D/x-1.csv" | sed 's/^rec-/out-/'; } > "$D/known50.csv"
[ "$F1" = 1 ] && "$BL" synth -n 10000 -p 2 --level hard --seed 7 -o "$OUT/hard" >/dev/null

f1_json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print("%.4f" % (max((r["f1"] or 0) for r in d["sweep"]) if "sweep" in d else d["f1"]))'; }
f1_of() { # PROFILE SCHEMA A B TAG [encode flags]: best F1 over thresholds, record level
  local h=$1 sc=$2 a=$3 b=$4 tag=$5; shift 5
  "$BL" encode --quiet --secret-file "$SECRET" "$@" --format bin --ids rec_id --harden "$h" "$a" "$sc" "$OUT/$tag-a.clk"
  "$BL" encode --quiet --secret-file "$SECRET" "$@" --format bin --ids rec_id --harden "$h" "$b" "$sc" "$OUT/$tag-b.clk"
  "$BL" match -t 0.3 -k 10 -s none -f candidates -o "$OUT/$tag-cand.csv" "$OUT/$tag-a.clk" "$OUT/$tag-b.clk"
  "$BL" eval --json --truth febrl --data "$a" --data "$b" --sweep --thresholds 0.3:0.99:0.01 "$OUT/$tag-cand.csv" | f1_json
}
f1_model() { # PROFILE SCHEMA A B TAG [encode flags]: F1 of match --model auto, field level
  local h=$1 sc=$2 a=$3 b=$4 tag=$5; shift 5
  "$BL" encode --quiet --secret-file "$SECRET" "$@" --layout fields --format bin --ids rec_id --harden "$h" "$a" "$sc" "$OUT/$tag-a.clk"
  "$BL" encode --quiet --secret-file "$SECRET" "$@" --layout fields --format bin --ids rec_id --harden "$h" "$b" "$sc" "$OUT/$tag-b.clk"
  "$BL" match --model auto -o "$OUT/$tag-m.csv" "$OUT/$tag-a.clk" "$OUT/$tag-b.clk" 2>/dev/null
  "$BL" eval --json --truth febrl --data "$a" --data "$b" "$OUT/$tag-m.csv" | f1_json
}

CSV=$OUT/attacks.csv
[ "${APPEND:-0}" = 1 ] && [ -s "$CSV" ] ||
  echo "profile,attacker,n,layout,overlap,method,encoded,guesses,correct,reidentified,seconds,f1_synth,f1_febrl,f1_model_synth,f1_model_febrl" > "$CSV"
for h in $PROFILES; do
  f1s=NA f1f=NA f1ms=NA f1mf=NA
  if [ "$F1" = 1 ]; then
    f1s=$(f1_of "$h" "$SCHEMA" "$D/s-1.csv" "$D/s-2.csv" f1s)
    f1ms=$(f1_model "$h" "$SRC/examples/model-schema.json" "$OUT/hard-1.csv" "$OUT/hard-2.csv" f1ms --normalize=names)
    if [ -f "$FEBRL/dataset4a.csv" ]; then
      f1f=$(f1_of "$h" "$SRC/examples/febrl-schema.json" "$FEBRL/dataset4a.csv" "$FEBRL/dataset4b.csv" f1f \
            --legacy-strip --check-header false)
      f1mf=$(f1_model "$h" "$SRC/bench/schemas/febrl.json" "$FEBRL/dataset4a.csv" "$FEBRL/dataset4b.csv" f1mf \
            --legacy-strip --check-header false)
    fi
  fi
  for lay in $LAYOUTS; do
    enc=$D/enc-$lay.clk
    "$BL" encode --quiet --secret-file "$SECRET" --format bin --ids rec_id --layout "$lay" --harden "$h" "$D/s-1.csv" "$SCHEMA" "$enc"
    for ov in $OVERLAPS; do
      for m in $METHODS; do
        for who in $ATTACKERS; do
          naive=0; [ "$who" = naive ] && naive=1
          r=$(BL_ATTACK_NAIVE=$naive "$BL" attack --method "$m" --plain "$D/known$ov.csv" --schema "$SCHEMA" --ids rec_id --truth ids --json "$enc")
          line=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print("%d,%d,%d,%.4f,%.1f" % (d["encoded"], d["guesses"], d["correct"], d["reidentified"], d["seconds"]))' "$r")
          echo "${h//,/+},$who,$N,$lay,$ov,$m,$line,$f1s,$f1f,$f1ms,$f1mf" | tee -a "$CSV"
        done
      done
    done
  done
done
python3 "$SRC/bench/attacks_report.py" "$CSV" "$OUT/attacks.md" "$OUT/attacks.svg"
echo "attacks: wrote $CSV, $OUT/attacks.md, $OUT/attacks.svg"
