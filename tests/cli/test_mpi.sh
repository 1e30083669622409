#!/usr/bin/env bash
# tests/cli/test_mpi.sh - blindlink-mpi gives byte for byte what blindlink
# match gives, for 1, 2 and 3 local ranks: exhaustive, LSH-blocked and with
# external blocks (--blocks), pairs, candidates, groups and anonlink outputs, greedy and probabilistic solvers, 2 and 3
# parties; a rank that dies fails the run with no output file; a failure
# is reported once (by rank 0, or by the one rank that failed, named), with
# the same exit status on every rank.
. "$(dirname "$0")/lib.sh"
MPI=${BL_MPI:-}
if [ -z "$MPI" ] || [ ! -x "$MPI" ] || ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIP: blindlink-mpi or mpirun not available (Open MPI not installed at build time)"
  pass; finish
fi
F="$BL_FIXTURES/matching"
A="$F/people-a.schema1-blake.json"; B="$F/people-b.schema1-blake.json"
# a third party: B's first half
python3 - "$B" "$T/c.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["clks"]
json.dump({"clks": c[: len(c) // 2]}, open(sys.argv[2], "w"))
PY
export BL_BLOCKING_KEY=0123456789abcdef0123456789abcdef
# Under ASan, Open MPI's own allocations (in components it dlopens and
# unloads, so no suppression can name them) are reported as leaks at exit:
# leak checking is off for the MPI processes only; every other ASan/UBSan
# check stays on, and the same match code runs leak-checked in test_match.sh.
if ldd "$MPI" 2>/dev/null | grep -q libasan; then
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
run_mpi() { local n=$1; shift; timeout 120 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS -n "$n" "$MPI" match "$@"; }
check() { # NAME OPTIONS... -- INPUTS...
  local name=$1; shift
  expect_exit 0 "$BL" match "$@" -o "$T/$name.ref"
  for n in 1 2 3; do
    rm -f "$T/$name.$n"
    expect_exit 0 run_mpi "$n" "$@" -o "$T/$name.$n"
    assert_same "$T/$name.ref" "$T/$name.$n"
  done
}
check pairs -t 0.8 "$A" "$B"
check cands -t 0.7 -f candidates "$A" "$B"
check topk -t 0.6 -k 2 "$A" "$B"
check lsh -t 0.8 --blocking lsh "$A" "$B"
check groups -t 0.8 -s probabilistic -f groups "$A" "$B" "$T/c.json"
check three -t 0.8 "$A" "$B" "$T/c.json"
# binary inputs (the other ranks read only the rows they compare): with
# record ids, metadata (--normalize) and checksums, as encode writes them
FX="$BL_FIXTURES/clkhash"
for p in a b; do
  expect_exit 0 "$BL" encode --quiet --format bin --ids id --normalize=basic \
    --secret-file "$FX/secret.txt" "$FX/data/people-$p.csv" "$FX/schemas/schema1-blake.json" "$T/$p.clk"
done
expect_exit 0 "$BL" convert "$B" "$T/c.clk" --format bin
check binpairs -t 0.8 "$T/a.clk" "$T/b.clk"
check binlsh -t 0.7 --blocking lsh -f candidates "$T/a.clk" "$T/b.clk"
check lshtopk -t 0.5 --blocking lsh --lsh-tables 40 --lsh-bits 12 -k 2 -f candidates "$A" "$B" "$T/c.json"
cp "$T/a.clk" "$T/a-again.clk" # a third party holding party a's records
check binthree -t 0.6 -k 3 -f candidates "$T/a.clk" "$T/b.clk" "$T/a-again.clk"
check binmixed -t 0.7 "$A" "$T/c.clk" "$T/c.json"
# BL_MPI_TIMES=1: every rank reports its phases once; the output is unchanged
expect_exit 0 env BL_MPI_TIMES=1 timeout 120 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS \
  -x BL_MPI_TIMES -n 2 "$MPI" match -t 0.7 --blocking lsh -f candidates -o "$T/times.2" "$T/a.clk" "$T/b.clk"
assert_same "$T/binlsh.ref" "$T/times.2"
for r in 0 1; do
  assert_eq "$(grep -cE "^blindlink-mpi: rank $r of 2: read [0-9.]+ s \([0-9.]+ CPU s\), plan [0-9.]+ s \([0-9.]+ CPU s\), share [0-9.]+ s \([0-9.]+ CPU s\), merge [0-9.]+ s \([0-9.]+ CPU s\)$" "$T/err")" 1 "BL_MPI_TIMES line of rank $r"
done
# external blocks (--blocks): shares are sets of whole blocks dealt by
# cost, a block dearer than a share cut into pieces of 256-row units.
# 1,200-record synth parties; per party one big block (every other record:
# 600 x 600, 78% of the 463,483 pairs the blocks compare, so it is split
# between ranks), 25 small ones, a third of the records also in one of 4
# others and every 7th in one of 5 more, written so that big and small
# blocks are interned in a mixed order: many pairs share 2 or 3 blocks,
# and the pair must come from the first one whichever rank holds it
expect_exit 0 "$BL" synth -q -n 1200 --overlap 0.5 --level medium --seed 3 -o "$T/s"
for p in 1 2; do
  expect_exit 0 "$BL" encode --quiet --format bin --secret-file "$FX/secret.txt" \
    "$T/s-$p.csv" "$BL_SRC/bench/schemas/synth.json" "$T/s$p.clk"
done
python3 - "$T" <<'PY'
import sys
for d, shift in ((1, 0), (2, 1), (3, 2)):
    with open("%s/blk%d.csv" % (sys.argv[1], d), "w") as f:
        f.write("record,block\n")
        for i in range(1200):
            b = []
            if (i + shift) % 7 == 0: b.append("t%d" % ((i + shift) % 5))
            if i % 2 == 0: b.append("big")
            b.append("s%d" % ((i + shift) % 25))
            if i % 3 == 0: b.append("u%d" % (i % 4))
            if i % 11 == 0: b.reverse()
            f.write("".join("%d,%s\n" % (i, k) for k in b))
PY
BK=(--blocks "$T/blk1.csv" --blocks "$T/blk2.csv")
check blkcands -t 0.6 -f candidates "${BK[@]}" "$T/s1.clk" "$T/s2.clk"
check blkpairs -t 0.7 "${BK[@]}" "$T/s1.clk" "$T/s2.clk"
check blktopk -t 0.5 -k 2 -f candidates "${BK[@]}" "$T/s1.clk" "$T/s2.clk"
check blkanon -t 0.6 -f anonlink "${BK[@]}" "$T/s1.clk" "$T/s2.clk"
cp "$T/s1.clk" "$T/s1-again.clk"; cp "$T/s2.clk" "$T/s2-again.clk" # third parties
check blkprob -t 0.6 -s probabilistic -f groups "${BK[@]}" --blocks "$T/blk3.csv" \
  "$T/s1.clk" "$T/s2.clk" "$T/s1-again.clk"
check blkthree -t 0.7 -k 3 "${BK[@]}" --blocks "$T/blk3.csv" "$T/s1.clk" "$T/s2.clk" "$T/s2-again.clk"
# blocks written by an LSH run (blocklib JSON, a key per table and
# record), read back: the same candidates as that run
expect_exit 0 "$BL" match -q -t 0.7 --blocking lsh --lsh-tables 20 --lsh-bits 10 -f candidates \
  --write-blocks "$T/wb" -o "$T/wb.out" "$T/s1.clk" "$T/s2.clk"
check blkjson -t 0.7 -f candidates --blocks "$T/wb-1.json" --blocks "$T/wb-2.json" "$T/s1.clk" "$T/s2.clk"
assert_same "$T/wb.out" "$T/blkjson.ref"
# a rank that fails alone before the others (here: no blocking key in its
# environment) ends the job instead of leaving them waiting (124 = hung):
# it alone reports, naming its rank, and every rank exits with match's
# status for it (2) and finalizes (no MPI_ABORT); no output
printf '%s\n' '#!/usr/bin/env bash' \
  '[ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ] && unset BL_BLOCKING_KEY' 'exec "$@"' >"$T/nokey.sh"
rm -f "$T/nokey.out"
timeout 120 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS -n 2 bash "$T/nokey.sh" \
  "$MPI" match -t 0.8 --blocking lsh -o "$T/nokey.out" "$T/a.clk" "$T/b.clk" >"$T/out" 2>"$T/err"
assert_eq "$?" 2 "a rank without the key"
assert_eq "$(grep -c "blocking key" "$T/err")" 1 "reports of the missing key"
assert_contains "$T/err" "blindlink match: MPI rank 1 of 2: blocking key: "
assert_not_contains "$T/err" "MPI_ABORT"
assert_missing "$T/nokey.out"
# a failure every rank hits is reported once, by rank 0, with match's
# exit status on every rank (rc.sh records each rank's), and every rank
# finalizes (no MPI_ABORT); no output. mpirun is told not to end the job
# when a rank exits non-zero (it would kill the others, maybe before rc.sh
# records their status, after a second: orte_abort_on_non_zero_status,
# ignored where unknown), so its own exit status is not checked here.
printf '%s\n' '#!/usr/bin/env bash' '"$@"; rc=$?' \
  "echo \$rc >\"$T/rc.\${OMPI_COMM_WORLD_RANK:-x}\"" 'exit $rc' >"$T/rc.sh"
run_rc() { # OPTIONS... : 2 ranks; $T/rc.0 and $T/rc.1 hold their exit status
  rm -f "$T/rc.0" "$T/rc.1"
  OMPI_MCA_orte_abort_on_non_zero_status=0 timeout 120 mpirun --allow-run-as-root --oversubscribe \
    -x ASAN_OPTIONS -n 2 bash "$T/rc.sh" "$MPI" match "$@"
}
ranks_rc() { echo $(cat "$T/rc.0" "$T/rc.1" 2>/dev/null); }
# mpi_fails STATUS TEXT NAME OPTIONS... : run with 2 ranks, TEXT once on stderr
mpi_fails() {
  local want=$1 text=$2 name=$3; shift 3
  rm -f "$T/fail.out"
  run_rc "$@" -o "$T/fail.out" >"$T/out" 2>"$T/err"
  assert_eq "$(ranks_rc)" "$want $want" "ranks' exit status: $name"
  assert_eq "$(grep -cF -- "$text" "$T/err")" 1 "reports of: $name"
  assert_not_contains "$T/err" "MPI_ABORT"
  assert_missing "$T/fail.out"
}
# the candidate cap: every share over it (exhaustive, LSH forced, LSH
# falling back to exhaustive, whose warning also comes once), then only
# the merged candidates on rank 0 (the cap one under the total)
CAP="more than 1 candidate pairs at threshold 0.5"
LSHF=(--blocking lsh --lsh-tables 40 --lsh-bits 12)
mpi_fails 2 "$CAP" "cap, exhaustive" -t 0.5 --max-candidates 1 "$A" "$B"
assert_not_contains "$T/err" "MPI rank"
mpi_fails 2 "$CAP" "cap, LSH" -t 0.5 "${LSHF[@]}" --max-candidates 1 "$A" "$B"
mpi_fails 2 "$CAP" "cap, LSH fallback" -t 0.5 --blocking lsh --max-candidates 1 "$A" "$B"
assert_eq "$(grep -c "comparing exhaustively" "$T/err")" 1 "exhaustive fallback warnings"
for b in "" "${LSHF[*]}"; do
  expect_exit 0 "$BL" match -t 0.5 $b -f candidates -o "$T/cap.ref" "$A" "$B"
  cap=$(($(wc -l <"$T/cap.ref") - 2)) # a header line; one under the total
  mpi_fails 2 "more than $cap candidate pairs" "cap at the merge ($b)" -t 0.5 $b \
    --max-candidates "$cap" "$A" "$B"
done
# options refused, inputs that fail the encoding check after reading
# (normalized and not), external blocks that cannot be read
expect_exit 0 "$BL" encode --quiet --format bin --ids id --secret-file "$FX/secret.txt" \
  "$FX/data/people-b.csv" "$FX/schemas/schema1-blake.json" "$T/bn.clk"
mpi_fails 2 "--threshold must be" "bad option" -t 2 "$A" "$B"
for b in "" "--blocking lsh"; do
  mpi_fails 2 "were encoded differently" "encoding check ($b)" -t 0.8 $b "$T/a.clk" "$T/bn.clk"
done
mpi_fails 1 "nosuch.csv: cannot open" "blocks file" -t 0.8 --blocks "$T/nosuch.csv" \
  --blocks "$T/blk2.csv" "$T/s1.clk" "$T/s2.clk"
# a candidate step that fails on one rank only (BL_MPI_TEST_FAIL_RANK: as
# if out of memory): that rank alone reports, naming itself; all exit 1
for r in 0 1; do
  for b in "" "${LSHF[*]}"; do
    rm -f "$T/fail.out"
    BL_MPI_TEST_FAIL_RANK=$r run_rc -t 0.5 $b -o "$T/fail.out" "$A" "$B" >"$T/out" 2>"$T/err"
    assert_eq "$(ranks_rc)" "1 1" "ranks' exit status, rank $r out of memory ($b)"
    assert_eq "$(grep -c "out of memory" "$T/err")" 1 "reports of rank $r out of memory ($b)"
    assert_contains "$T/err" "blindlink match: MPI rank $r of 2: out of memory"
    assert_not_contains "$T/err" "MPI_ABORT"
    assert_missing "$T/fail.out"
  done
done
# stdin cannot be shared by the ranks: refused on every rank
rm -f "$T/stdin.out"
run_mpi 2 -t 0.8 -o "$T/stdin.out" - "$T/b.clk" <"$T/a.clk" >"$T/out" 2>"$T/err"
[ "$?" -ne 0 ] && pass || fail "stdin input accepted under MPI"
assert_contains "$T/err" "not '-' (stdin)"
assert_missing "$T/stdin.out"
# a missing input (every rank fails to open it with LSH, as they all
# read every row): rank 0 alone reports it, once, with match's exit status
for b in "--blocking lsh" ""; do
  rm -f "$T/missing.out"
  run_mpi 2 -t 0.8 $b -o "$T/missing.out" "$T/nosuch.clk" "$T/b.clk" >"$T/out" 2>"$T/err"
  assert_eq "$?" 2 "missing input under MPI ($b)"
  assert_eq "$(grep -c "nosuch.clk: cannot open" "$T/err")" 1 "reports of the missing input ($b)"
  assert_not_contains "$T/err" "could not read"
  assert_missing "$T/missing.out"
done
# what is not distributed is refused on every rank, with no output
run_mpi 2 -t 0.8 --model auto -o "$T/model.out" "$T/a.clk" "$T/b.clk" >"$T/out" 2>"$T/err"
assert_eq "$?" 2 "--model under MPI"
assert_contains "$T/err" "--model runs in one process"
assert_missing "$T/model.out"
# a rank that dies: the run fails and leaves no output
rm -f "$T/dead.out"
BL_MPI_TEST_KILL_RANK=1 timeout 120 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS -n 2 \
  "$MPI" match -t 0.8 -o "$T/dead.out" "$A" "$B" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -ne 0 ] && pass || fail "a killed rank did not fail the run"
assert_missing "$T/dead.out"
finish
