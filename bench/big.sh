#!/usr/bin/env bash
# bench/big.sh [BUILD] - N x N corrupted duplicates end to end at scale
# (issue 15): `blindlink synth` makes two parties of N records in which
# every record of party 2 is a corrupted copy of one in party 1, both are
# encoded (binary CLK, ids kept for the truth), then matched with keyed LSH
# blocking by `blindlink match` (one process, all cores) and by
# `mpirun -n R blindlink-mpi match` (R local ranks, cores / R threads each).
# Reports for each: wall time, the compare step's time, pairs compared,
# peak RSS (per rank under MPI, from /usr/bin/time -v around each rank),
# and checks that both outputs are byte-identical. Quality: pair
# completeness of the blocking on a sample of party 1 against all of party
# 2 (the same LSH tables, `--blocking-report`: blocked candidates / exhaustive
# candidates at the threshold) and recall/precision of the matched pairs
# against the synth truth (`blindlink eval --truth febrl`). Last, a
# projection for a cluster from the per-rank throughput measured here.
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
CORES=$(nproc)
RT=$(( CORES / RANKS )); [ "$RT" -ge 1 ] || RT=1
SCHEMA=$(dirname "$0")/schemas/synth.json
for x in "$BL" "$MPI" /usr/bin/time; do
  [ -x "$x" ] || { echo "bench/big.sh: $x not found (build with Open MPI; apt install time)" >&2; exit 2; }
done
command -v mpirun >/dev/null || { echo "bench/big.sh: mpirun not found" >&2; exit 2; }
mkdir -p "$W" || exit 1
[ "${BIG_KEEP:-0}" = 1 ] || trap 'rm -rf "$W"' EXIT
MPIRUN=(mpirun -n "$RANKS" --oversubscribe)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# peak RSS in MiB from a /usr/bin/time -v report
rss() { awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$1"; }
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

# one process, all cores
t=$(now)
/usr/bin/time -v -o "$W/single.time" "$BL" match -v -t "$TH" --blocking lsh \
  -o "$W/single.csv" "$W/p1.clk" "$W/p2.clk" 2>"$W/single.log" || { cat "$W/single.log"; exit 1; }
single_s=$(since "$t")
lshline=$(grep -o 'keyed LSH blocking with [0-9]* tables of [0-9]* bits' "$W/single.log")
tables=$(echo "$lshline" | awk '{ print $5 }'); bits=$(echo "$lshline" | awk '{ print $8 }')
compared=$(sed -nE 's/.*blocking compared ([0-9]+) of ([0-9]+) pairs.*/\1/p' "$W/single.log" | head -1)
cmp1=$(sed -nE 's/.*compare ([0-9.]+)s.*/\1/p' "$W/single.log" | head -1)
say "single process ($CORES threads): ${single_s} s wall, compare step ${cmp1} s, LSH $tables tables x $bits bits, $compared pairs compared, peak RSS $(rss "$W/single.time") MiB"

# R ranks on this machine; each rank under /usr/bin/time for its own peak RSS
cat >"$W/rank.sh" <<EOF
#!/usr/bin/env bash
exec /usr/bin/time -v -o "$W/rank.\${OMPI_COMM_WORLD_RANK:-\${PMI_RANK:-0}}.time" "\$@"
EOF
chmod +x "$W/rank.sh"
t=$(now)
"${MPIRUN[@]}" "$W/rank.sh" "$MPI" match -v -t "$TH" --blocking lsh --threads "$RT" \
  -o "$W/mpi.csv" "$W/p1.clk" "$W/p2.clk" 2>"$W/mpi.log" || { cat "$W/mpi.log"; exit 1; }
mpi_s=$(since "$t")
cmpm=$(sed -nE 's/.*compare ([0-9.]+)s.*/\1/p' "$W/mpi.log" | head -1)
ranks_rss=""
for r in $(seq 0 $((RANKS - 1))); do ranks_rss="$ranks_rss rank $r $(rss "$W/rank.$r.time") MiB;"; done
same=differ; cmp -s "$W/single.csv" "$W/mpi.csv" && same=byte-identical
say "mpirun -n $RANKS ($RT threads each): ${mpi_s} s wall, compare step ${cmpm} s, peak RSS:${ranks_rss} output $same to the single process"
say "overhead of distribution: $(awk -v a="$mpi_s" -v b="$single_s" 'BEGIN { printf "%.3f", a / b }') x the single-process wall time"

# quality: blocking completeness on the sample (same tables), truth recall
"$BL" match -t "$TH" --blocking lsh --lsh-tables "$tables" --lsh-bits "$bits" --blocking-report \
  -f candidates -o "$W/sample.cand.csv" "$W/sample.clk" "$W/p2.clk" 2>"$W/sample.log"
say "blocking on the sample ($(( N / k )) x $N): $(grep -o 'pair completeness [0-9.]* ([0-9]* of [0-9]* exhaustive candidates)' "$W/sample.log")"
"$BL" eval --truth febrl --true-pairs "$N" -t "$TH" "$W/single.csv" >"$W/eval.txt" 2>&1
say "pairs against the synth truth ($N true pairs): $(grep -iE 'precision|recall|f1' "$W/eval.txt" | tr '\n' ' ' | tr -s ' ')"

# projection: the compare step's pairs per second per core (MPI run: R ranks x RT threads)
awk -v c="$compared" -v s="$cmpm" -v r="$RANKS" -v rt="$RT" -v nodes="$NODES" -v nc="$NODE_CORES" \
    -v n="$N" 'BEGIN {
  per_core = c / (s * r * rt)
  printf "projection: %.2fM pairs compared/s per core in the MPI run (LSH keys included); on %d nodes x %d cores this %d x %d candidate step would take %.2f s; 10M x 10M, if the blocked pairs grew as N^2 from here (%.3g pairs, an upper bound: the LSH plan adds bits as N grows), %.1f s, plus reading 2.6 GB of filters on each node\n",
    per_core / 1e6, nodes, nc, n, n, c / (per_core * nodes * nc),
    c * (1e7 / n) ^ 2, c * (1e7 / n) ^ 2 / (per_core * nodes * nc) }' | tee -a "$W/report.txt"
cp "$W/report.txt" "${BIG_REPORT:-/tmp/blindlink-big-$N.txt}"
