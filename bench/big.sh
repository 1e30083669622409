#!/usr/bin/env bash
# bench/big.sh [BUILD] - N x N corrupted duplicates end to end at scale
# (issue 15): `blindlink synth` makes two parties of N records in which
# every record of party 2 is a corrupted copy of one in party 1, both are
# encoded (binary CLK, ids kept for the truth), then matched with keyed LSH
# blocking by `blindlink match` (one process, all cores) and by
# `mpirun -n R blindlink-mpi match` (R local ranks, cores / R threads each).
# The runs write the candidates that a 1:1 run (the default pairs output)
# plans for: `-f candidates --lsh-keep best`, the plan that keeps 99% of
# each record's best pair (BIG_KEEP_PAIRS=all: of every pair >= threshold).
# Reports for each: wall time, the compare step's time, pairs compared,
# peak RSS (per rank under MPI, from /usr/bin/time -v around each rank),
# and checks that both candidate outputs are byte-identical. Quality: pair
# completeness of the blocking on a sample of party 1 (its exhaustive
# candidates against all of party 2 at the threshold, and the share of them
# the blocked run found: of the true pairs, of each sample record's best
# pair, and of all pairs) and precision/recall of the blocked candidates
# against the synth truth (`blindlink eval --truth febrl`). Last, a
# projection for a cluster from the per-rank phases of the MPI run.
#
# Environment (defaults in brackets):
#   BIG_N        records per party                    [10000000]
#   BIG_RANKS    MPI ranks on this machine            [2]
#   BIG_T        match threshold                      [0.8]
#   BIG_LEVEL    synth corruption level               [low]
#   BIG_SAMPLE   party-1 records in the quality sample [10000]
#   BIG_DIR      work directory (needs ~2.2 KB per record) [/tmp/blindlink-big-N]
#   BIG_NODES    cluster nodes of the projection      [16]
#   BIG_NODE_CORES  cores per node of the projection  [32]
#   BIG_KEEP     1: keep the work directory
#   BIG_KEEP_PAIRS  the LSH plan's pairs: best or all  [best]
# Memory: about 2 x 1.3 GB of filters at N = 10M per process (one process
# holds both parties); see docs/scale.md for the per-rank figures.
set -u
BUILD=${1:-build}
BL=$BUILD/blindlink
MPI=$BUILD/blindlink-mpi
N=${BIG_N:-10000000}
RANKS=${BIG_RANKS:-2}
TH=${BIG_T:-0.8}
LEVEL=${BIG_LEVEL:-low}
SAMPLE=${BIG_SAMPLE:-10000}
W=${BIG_DIR:-/tmp/blindlink-big-$N}
NODES=${BIG_NODES:-16}
NODE_CORES=${BIG_NODE_CORES:-32}
KEEPP=${BIG_KEEP_PAIRS:-best}
CORES=$(nproc)
RT=$(( CORES / RANKS )); [ "$RT" -ge 1 ] || RT=1
SCHEMA=$(dirname "$0")/schemas/synth.json
for x in "$BL" "$MPI" /usr/bin/time; do
  [ -x "$x" ] || { echo "bench/big.sh: $x not found (build with Open MPI; apt install time)" >&2; exit 2; }
done
command -v mpirun >/dev/null || { echo "bench/big.sh: mpirun not found" >&2; exit 2; }
mkdir -p "$W" || exit 1
[ "${BIG_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
# --bind-to none: Open MPI binds 2 local ranks to a core each, and rank 0's
# LSH plan sample (all cores, the other ranks waiting idle) then ran on one
MPIRUN=(mpirun -n "$RANKS" --oversubscribe --bind-to none -x BL_MPI_TIMES=1)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# peak RSS in MiB from a /usr/bin/time -v report
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
# CPU seconds (user + system) from a /usr/bin/time -v report
cpu() { awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' "$@"; }
say() { printf '%s\n' "$*" | tee -a "$W/report.txt"; }

printf 'blindlink big benchmark secret' >"$W/secret"
export BL_BLOCKING_KEY=0123456789abcdef0123456789abcdef
: >"$W/report.txt"
say "== bench/big.sh: $N x $N, threshold $TH, synth level $LEVEL, $CORES cores, load $(cut -d' ' -f1-3 /proc/loadavg)"

k=$(( N / SAMPLE )); [ "$k" -ge 1 ] || k=1
if [ "${BIG_KEEP:-0}" = 1 ] && [ -s "$W/p2.clk" ] && [ -s "$W/sample.clk" ]; then
  say "reusing the encodings in $W (BIG_KEEP=1)"
else
  t=$(now)
  "$BL" synth -n "$N" --overlap 1 --level "$LEVEL" --seed 15 --out-dir "$W" || exit 1
  say "synth: $(since "$t") s"
  t=$(now)
  for p in 1 2; do
    "$BL" encode --quiet --format bin --ids rec_id --secret-file "$W/secret" \
      "$W/party-$p.csv" "$SCHEMA" "$W/p$p.clk" || exit 1
  done
  say "encode (2 x $N): $(since "$t") s"
  # the quality sample: every k-th record of party 1
  awk -v k="$k" 'NR == 1 || (NR - 2) % k == 0' "$W/party-1.csv" >"$W/sample.csv"
  "$BL" encode --quiet --format bin --ids rec_id --secret-file "$W/secret" \
    "$W/sample.csv" "$SCHEMA" "$W/sample.clk" || exit 1
  rm -f "$W/party-1.csv" "$W/party-2.csv" "$W/sample.csv"
fi

# The timed runs go without -v: -v also counts the distinct pairs the
# blocking compared, which costs more than the matching at this scale.
# The LSH setting the run picks is read from a -v run stopped after its
# plan line; pairs compared are counted on the sample below.
"$BL" match -v -t "$TH" --blocking lsh -f candidates --lsh-keep "$KEEPP" -o /dev/null "$W/p1.clk" "$W/p2.clk" 2>"$W/plan.log" &
plan_pid=$!
for _ in $(seq 1 600); do grep -q 'keyed LSH blocking with' "$W/plan.log" && break; sleep 0.1; done
kill "$plan_pid" 2>/dev/null; wait "$plan_pid" 2>/dev/null
lshline=$(grep -o 'keyed LSH blocking with [0-9]* tables of [0-9]* bits' "$W/plan.log")
tables=$(echo "$lshline" | awk '{ print $5 }'); bits=$(echo "$lshline" | awk '{ print $8 }')
[ -n "$tables" ] || { echo "bench/big.sh: no LSH plan line (LSH not chosen?)"; cat "$W/plan.log"; exit 1; }

# one process, all cores
t=$(now)
/usr/bin/time -v -o "$W/single.time" "$BL" match -t "$TH" --blocking lsh -f candidates --lsh-keep "$KEEPP" \
  -o "$W/single.csv" "$W/p1.clk" "$W/p2.clk" 2>"$W/single.log" || { cat "$W/single.log"; exit 1; }
single_s=$(since "$t")
say "single process ($CORES threads): ${single_s} s wall, LSH $tables tables x $bits bits, $(( $(wc -l <"$W/single.csv") - 1 )) candidates, peak RSS $(rss "$W/single.time") MiB, $(cpu "$W/single.time") CPU s"

# R ranks on this machine; each rank under /usr/bin/time for its own peak RSS
printf '%s\n' '#!/usr/bin/env bash' \
  "exec /usr/bin/time -v -o \"$W/rank.\${OMPI_COMM_WORLD_RANK:-\${PMI_RANK:-0}}.time\" \"\$@\"" >"$W/rank.sh"
chmod +x "$W/rank.sh"
t=$(now)
"${MPIRUN[@]}" "$W/rank.sh" "$MPI" match -t "$TH" --blocking lsh -f candidates --lsh-keep "$KEEPP" --threads "$RT" \
  -o "$W/mpi.csv" "$W/p1.clk" "$W/p2.clk" 2>"$W/mpi.log" || { cat "$W/mpi.log"; exit 1; }
mpi_s=$(since "$t")
ranks_rss=""
for r in $(seq 0 $((RANKS - 1))); do ranks_rss="$ranks_rss rank $r $(rss "$W/rank.$r.time") MiB, $(cpu "$W/rank.$r.time") CPU s;"; done
same=differ; cmp -s "$W/single.csv" "$W/mpi.csv" && same=byte-identical
say "mpirun -n $RANKS ($RT threads each): ${mpi_s} s wall, peak RSS:${ranks_rss} output $same to the single process"
say "overhead of distribution: $(awk -v a="$mpi_s" -v b="$single_s" 'BEGIN { printf "%.3f", a / b }') x the single-process wall time, $(awk -v a="$(cpu "$W"/rank.*.time)" -v b="$(cpu "$W/single.time")" 'BEGIN { printf "%.3f", a / b }') x its CPU seconds"

# quality: the sample's exhaustive candidates (every k-th record of party 1
# against all of party 2) that the blocked run found (by record ids), and
# the blocked candidates against the synth truth (every candidate counted)
"$BL" match -t "$TH" -f candidates -o "$W/sample.exh.csv" "$W/sample.clk" "$W/p2.clk" || exit 1
# true pairs: synth ids rec-N-org / rec-N-dup-0 share N; a record's best
# pair: its highest score (the first listed of equal ones)
say "blocking on the sample ($(( N / k )) x $N, exhaustive at $TH): $(awk -F, '
  FNR == 1 { next }
  NR == FNR { seen[$4 "," $5] = 1; next }
  { p = $4 "," $5; tot++; if (p in seen) hit++
    split($4, a, "-"); split($5, b, "-")
    if (a[2] == b[2]) { tt++; if (p in seen) th++ }
    if (!($4 in bs) || $3 + 0 > bs[$4]) { bs[$4] = $3 + 0; bp[$4] = p } }
  END { for (r in bp) { nb++; if (bp[r] in seen) hb++ }
    printf "pair completeness: true pairs %.6f (%d of %d), best pair per record %.6f (%d of %d), all pairs %.6f (%d of %d exhaustive candidates found by LSH)",
      tt ? th / tt : 1, th, tt, nb ? hb / nb : 1, hb, nb, tot ? hit / tot : 1, hit, tot }' \
  "$W/single.csv" "$W/sample.exh.csv")"
# pairs the blocking compares, counted on the sample with the same tables
/usr/bin/time -v -o "$W/sample.time" "$BL" match -v -t "$TH" --blocking lsh --lsh-tables "$tables" \
  --lsh-bits "$bits" -f candidates -o "$W/sample.lsh.csv" "$W/sample.clk" "$W/p2.clk" 2>"$W/sample.log" || exit 1
scomp=$(sed -nE 's/.*blocking compared ([0-9]+) of ([0-9]+) pairs.*/\1/p' "$W/sample.log" | head -1)
srows=$(sed -nE 's/.*blocking compared [0-9]+ of ([0-9]+) pairs.*/\1/p' "$W/sample.log" | head -1)
srows=$(awk -v p="$srows" -v n="$N" 'BEGIN { printf "%.0f", p / n }')
compared=$(awk -v c="$scomp" -v n="$N" -v s="$srows" 'BEGIN { printf "%.0f", c * n / s }')
say "pairs compared: $scomp for the sample's $srows records, so about $compared for all $N (reduction ratio $(awk -v c="$compared" -v n="$N" 'BEGIN { printf "%.6f", 1 - c / (n * n) }'))"
"$BL" eval --truth febrl --true-pairs "$N" -t "$TH" "$W/single.csv" >"$W/eval.txt" 2>&1
say "the blocked candidates at $TH against the synth truth ($N true pairs): $(grep -iE 'precision|recall|f1' "$W/eval.txt" | tr '\n' ' ' | tr -s ' ')"

# projection to NODES nodes of NODE_CORES cores (one rank per node, every
# core a thread) from the MPI run's per-rank phases (BL_MPI_TIMES=1):
#   read: rank 0's (it reads and checks every file whole, as every node
#         would read its copy; a shared file system may be slower)
#   plan: rank 0's CPU seconds over the node's cores (the sample is
#         threaded and cache-blocked)
#   share: the CPU seconds per LSH table, summed over the ranks, times the
#         tables of the busiest node, over its cores
#   merge: rank 0's merge
#   rest: what the run's wall time had beyond the slowest rank's read +
#         plan + share and the merge (start-up, gathering the shares,
#         writing the output on rank 0), taken as is
# It assumes threads scale over a node's cores as the kernels do here.
grep 'blindlink-mpi: rank' "$W/mpi.log" | tee -a "$W/report.txt"
awk -v wall="$mpi_s" -v L="$tables" -v nodes="$NODES" -v nc="$NODE_CORES" '
  /blindlink-mpi: rank/ {
    r = $3 + 0
    for (i = 1; i <= NF; i++) {
      if ($i == "read") { rw[r] = $(i + 1); }
      if ($i == "plan") { pw[r] = $(i + 1); pc[r] = substr($(i + 3), 2) }
      if ($i == "share") { sw[r] = $(i + 1); sc += substr($(i + 3), 2) }
      if ($i == "merge") { mw[r] = $(i + 1) }
    }
    n++
  }
  END {
    slow = 0
    for (r = 0; r < n; r++) if (rw[r] + pw[r] + sw[r] > slow) slow = rw[r] + pw[r] + sw[r]
    rest = wall - slow - mw[0]; if (rest < 0) rest = 0
    per = sc / L; busy = int((L + nodes - 1) / nodes)
    t = rw[0] + pc[0] / nc + busy * per / nc + mw[0] + rest
    printf "projection for %d nodes x %d cores: %.1f s = read %.1f + plan %.1f + share %.1f (%d of %d tables on the busiest node, %.2f CPU s per table) + merge %.1f + rest %.1f (start-up, gather, writing the output)\n",
      nodes, nc, t, rw[0], pc[0] / nc, busy * per / nc, busy, L, per, mw[0], rest }' "$W/mpi.log" | tee -a "$W/report.txt"
cp "$W/report.txt" "${BIG_REPORT:-/tmp/blindlink-big-$N.txt}"
