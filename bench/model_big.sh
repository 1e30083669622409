#!/usr/bin/env bash
# bench/model_big.sh [BUILD] - the model match at scale against the
# record-level match of the same data (issue 12: "the 1M x 1M synthetic run
# within 2x of today's time").
#
# `blindlink synth` makes two parties of N records (half of each party's
# people in both, as bench/quality.sh), both are encoded twice - record-level
# CLKs (bench/schemas/synth.json, the record-level rows of quality.sh) and
# field-level encodings (--layout fields, examples/model-schema.json, the
# model rows) - and then, in this one script:
#   record  `blindlink match -t T --blocking lsh` (keyed LSH, greedy 1:1)
#   model   `blindlink match --model auto` (field blocks, EM, posterior >= 0.5)
# For each: wall time, CPU seconds (user + system), peak RSS (/usr/bin/time),
# F1 / precision / recall of the pairs against the synth truth, and with
# MB_PC=1 the pair completeness (the true pairs among all candidates, from
# a second run with -f candidates). The ratio model / record of wall and CPU
# time is the figure the issue's target is about.
#
# Environment (defaults in brackets):
#   MB_N       records per party                      [100000]
#   MB_LEVEL   synth corruption level (medium = default profile, hard) [medium]
#   MB_T       record-level threshold                 [0.8]
#   MB_PC      1: also the pair completeness runs     [1 when N <= 100000, else 0]
#   MB_THREADS threads of every step                  [all cores]
#   MB_DIR     work directory (~3.5 KB per record)    [/tmp/blindlink-model-big-N-LEVEL]
#   MB_KEEP    1: keep the work directory (and reuse its encodings)
#   MB_ONLY    record or model: run only that match
set -u
BUILD=${1:-build}
BL=$BUILD/blindlink
SRC=$(cd "$(dirname "$0")/.." && pwd)
N=${MB_N:-100000}
LEVEL=${MB_LEVEL:-medium}
TH=${MB_T:-0.8}
PC=${MB_PC:-$([ "$N" -le 100000 ] && echo 1 || echo 0)}
THREADS=${MB_THREADS:-$(nproc)}
W=${MB_DIR:-/tmp/blindlink-model-big-$N-$LEVEL}
ONLY=${MB_ONLY:-}
for x in "$BL" /usr/bin/time; do
  [ -x "$x" ] || { echo "bench/model_big.sh: $x not found (build first; apt install time)" >&2; exit 2; }
done
mkdir -p "$W" || exit 1
[ "${MB_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$@"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0
  for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' "$1"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
say() { printf '%s\n' "$*" | tee -a "$W/report.txt"; }
# F1 / precision / recall of a pairs or candidates file
quality() {
  "$BL" eval --truth febrl --data "$W/s-1.csv" --data "$W/s-2.csv" --json -o "$W/eval.json" "$1" >/dev/null 2>&1 &&
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); d = d.get("metrics", d)
g = lambda k: d.get(k, float("nan"))
print("F1 %.4f, precision %.4f, recall %.4f" % (g("f1"), g("precision"), g("recall")))' "$W/eval.json"
}

printf 'blindlink model benchmark secret' >"$W/secret"
[ -f "$W/report.txt" ] || : >"$W/report.txt"
say "== bench/model_big.sh: $N x $N, synth level $LEVEL, $THREADS threads, $(nproc) cores, load $(load)"
if [ "${MB_KEEP:-0}" = 1 ] && [ -s "$W/rec-2.clk" ] && [ -s "$W/fld-2.clk" ]; then
  say "reusing the encodings in $W"
else
  t=$(now)
  "$BL" synth -n "$N" --level "$LEVEL" --overlap 0.5 --seed 1 -j "$THREADS" -o "$W/s" || exit 1
  say "synth: $(since "$t") s"
  t=$(now)
  for p in 1 2; do
    "$BL" encode --quiet --threads "$THREADS" --format bin --normalize=names --secret-file "$W/secret" \
      "$W/s-$p.csv" "$SRC/bench/schemas/synth.json" "$W/rec-$p.clk" || exit 1
    "$BL" encode --quiet --threads "$THREADS" --layout fields --format bin --normalize=names \
      --secret-file "$W/secret" "$W/s-$p.csv" "$SRC/examples/model-schema.json" "$W/fld-$p.clk" || exit 1
  done
  say "encode (2 layouts x 2 x $N): $(since "$t") s"
fi

# run NAME ARGS... - one timed match, then its quality. The record-level
# runs go without -v: it also counts the distinct pairs the LSH compared,
# which costs about as much as the matching (bench/big.sh); the model's -v
# only prints the times of its steps.
run() {
  local name=$1 v=
  shift
  case $name in model*) v=-v ;; esac
  /usr/bin/time -v -o "$W/$name.time" "$BL" match $v -j "$THREADS" "$@" -o "$W/$name.csv" \
    2>"$W/$name.log" || { cat "$W/$name.log"; exit 1; }
  say "$name: $(wall "$W/$name.time") s wall, $(cpu "$W/$name.time") CPU s, peak RSS $(rss "$W/$name.time") MiB, $(quality "$W/$name.csv") (load after: $(load))"
  grep -E 'blocking|candidate pairs|compared' "$W/$name.log" | head -4 | sed 's/^/    /' | tee -a "$W/report.txt"
}

export BL_BLOCKING_KEY=0123456789abcdef0123456789abcdef
if [ "$ONLY" != model ]; then
  run record -t "$TH" --blocking lsh "$W/rec-1.clk" "$W/rec-2.clk"
  [ "$PC" = 1 ] && run record-cand -t "$TH" --blocking lsh -f candidates "$W/rec-1.clk" "$W/rec-2.clk" &&
    say "    (record-cand recall = pair completeness of the LSH candidates at $TH)"
fi
if [ "$ONLY" != record ]; then
  run model --model auto "$W/fld-1.clk" "$W/fld-2.clk"
  [ "$PC" = 1 ] && run model-cand --model auto -f candidates "$W/fld-1.clk" "$W/fld-2.clk" &&
    say "    (model-cand recall = pair completeness of the model's candidates)"
fi
if [ -z "$ONLY" ]; then
  say "model / record: $(awk -v a="$(wall "$W/model.time")" -v b="$(wall "$W/record.time")" 'BEGIN { printf "%.2f", a / b }') x wall, $(awk -v a="$(cpu "$W/model.time")" -v b="$(cpu "$W/record.time")" 'BEGIN { printf "%.2f", a / b }') x CPU"
fi
cp "$W/report.txt" "${MB_REPORT:-/tmp/blindlink-model-big-$N-$LEVEL.txt}"
