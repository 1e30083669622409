#!/usr/bin/env bash
# tests/cli/test_mpi.sh - blindlink-mpi gives byte for byte what blindlink
# match gives, for 1, 2 and 3 local ranks: exhaustive and LSH-blocked, pairs,
# candidates and groups outputs, greedy and probabilistic solvers, 2 and 3
# parties; a rank that dies fails the run with no output file.
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
check binthree -t 0.6 -k 3 -f candidates "$T/a.clk" "$T/b.clk" "$T/a.clk"
check binmixed -t 0.7 "$A" "$T/c.clk" "$T/c.json"
# a rank that fails alone before the others (here: no blocking key in its
# environment) ends the job instead of leaving them waiting; no output
printf '%s\n' '#!/usr/bin/env bash' \
  '[ "${OMPI_COMM_WORLD_RANK:-0}" = 1 ] && unset BL_BLOCKING_KEY' 'exec "$@"' >"$T/nokey.sh"
rm -f "$T/nokey.out"
timeout 120 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS -n 2 bash "$T/nokey.sh" \
  "$MPI" match -t 0.8 --blocking lsh -o "$T/nokey.out" "$T/a.clk" "$T/b.clk" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && pass || fail "a rank without the key: exit $rc (124 = hung)"
assert_contains "$T/err" "blocking key"
assert_missing "$T/nokey.out"
# stdin cannot be shared by the ranks: refused on every rank
rm -f "$T/stdin.out"
run_mpi 2 -t 0.8 -o "$T/stdin.out" - "$T/b.clk" <"$T/a.clk" >"$T/out" 2>"$T/err"
[ "$?" -ne 0 ] && pass || fail "stdin input accepted under MPI"
assert_contains "$T/err" "not '-' (stdin)"
assert_missing "$T/stdin.out"
# what is not distributed is refused on every rank, with no output
run_mpi 2 -t 0.8 --model auto -o "$T/model.out" "$T/a.clk" "$T/b.clk" >"$T/out" 2>"$T/err"
assert_eq "$?" 2 "--model under MPI"
assert_contains "$T/err" "--model runs in one process"
printf 'record,block\n' >"$T/blk.csv"
for i in $(seq 0 19); do echo "$i,$((i % 4))"; done >>"$T/blk.csv"
run_mpi 2 -t 0.5 --blocks "$T/blk.csv" --blocks "$T/blk.csv" -o "$T/blocks.out" "$T/a.clk" "$T/b.clk" >"$T/out" 2>"$T/err"
[ "$?" -ne 0 ] && pass || fail "--blocks accepted under MPI"
assert_contains "$T/err" "not supported in distributed matching"
assert_missing "$T/model.out"
assert_missing "$T/blocks.out"
# a rank that dies: the run fails and leaves no output
rm -f "$T/dead.out"
BL_MPI_TEST_KILL_RANK=1 timeout 120 mpirun --allow-run-as-root --oversubscribe -x ASAN_OPTIONS -n 2 \
  "$MPI" match -t 0.8 -o "$T/dead.out" "$A" "$B" >"$T/out" 2>"$T/err"
rc=$?
[ "$rc" -ne 0 ] && pass || fail "a killed rank did not fail the run"
assert_missing "$T/dead.out"
finish
