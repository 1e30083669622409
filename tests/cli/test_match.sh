#!/usr/bin/env bash
# tests/cli/test_match.sh - `blindlink match` and `blindlink eval` end to end:
# anonlink find-similarity outputs reproduced (exhaustive and with block
# files), every kernel via BL_KERNEL, output formats, blocking report, eval
# figures, and clean failures (exit 2, no output file) on bad input.
. "$(dirname "$0")/lib.sh"
F=$BL_FIXTURES/matching
A=$F/people-a.schema1-blake.json
B=$F/people-b.schema1-blake.json

# sorted group blocks of a find-similarity file (group order is a hash order upstream)
groups_norm() { python3 -c 'import json,sys; print(sorted(json.load(open(sys.argv[1]))))' "$1"; }

for k in scalar avx2 avx512 avx2-full avx512-full; do
  expect_exit 0 env BL_KERNEL=$k "$BL" match -t 0.8 -f groups -o "$T/g.json" "$A" "$B"
  assert_eq "$(groups_norm "$T/g.json")" "$(groups_norm "$F/people-a-vs-b.schema1-blake.find-similarity-t0.8.json")" "groups ($k)"
  # every scored candidate, at a low and a high threshold: the same bytes
  # from every kernel (the early exit of avx2/avx512 skips work, never a
  # candidate; the -full kernels go without it)
  for t in 0.5 0.95; do
    expect_exit 0 env BL_KERNEL=$k "$BL" match -t $t -f candidates -o "$T/c-$t-$k.json" "$A" "$B"
    assert_eq "$(cmp "$T/c-$t-scalar.json" "$T/c-$t-$k.json" && echo same)" "same" "candidates at $t byte-identical ($k vs scalar)"
  done
done
expect_exit 0 "$BL" match -t 0.8 -f groups -o "$T/g2.json" "$F/people-a.schema2-doublehash.json" "$F/people-b.schema2-doublehash.json"
assert_eq "$(groups_norm "$T/g2.json")" "$(groups_norm "$F/people-a-vs-b.schema2-doublehash.find-similarity-t0.8.json")" "schema2 groups"
for kind in psig-blocks schema1-blake.lambdafold-blocks; do
  tag=${kind%%-blocks}; tag=${tag#schema1-blake.}
  expect_exit 0 "$BL" match -t 0.8 -f groups -o "$T/gb.json" --blocks "$F/people-a.$kind.json" --blocks "$F/people-b.$kind.json" --blocking-report "$A" "$B"
  assert_contains "$T/err" "pair completeness"
  assert_eq "$(groups_norm "$T/gb.json")" "$(groups_norm "$F/people-a-vs-b.schema1-blake.find-similarity-t0.8.$tag-blocked.json")" "$tag blocked groups"
done

# block files as CSV (record,block): same result as the JSON ones
for x in a b; do
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))["blocks"]
print("record,block")
for r,ks in d.items():
    for k in ks: print("%s,\"%s\"" % (r,k))' "$F/people-$x.psig-blocks.json" > "$T/$x-blocks.csv"
done
expect_exit 0 "$BL" match -t 0.8 -f groups -o "$T/gc.json" --blocks "$T/a-blocks.csv" --blocks "$T/b-blocks.csv" "$A" "$B"
assert_eq "$(groups_norm "$T/gc.json")" "$(groups_norm "$F/people-a-vs-b.schema1-blake.find-similarity-t0.8.psig-blocked.json")" "csv blocks"

# pairs CSV (default), candidates CSV, anonlink binary
expect_exit 0 "$BL" match -t 0.8 -o "$T/p.csv" "$A" "$B"
assert_eq "$(head -1 "$T/p.csv")" "a_index,b_index,score" "pairs header"
assert_eq "$(sed -n 2p "$T/p.csv")" "3,3,0.9817671809256662" "best pair"
assert_eq "$(wc -l < "$T/p.csv")" "18" "17 pairs + header"
expect_exit 0 "$BL" match -t 0.5 -f candidates -o "$T/c.csv" "$A" "$B"
assert_eq "$(wc -l < "$T/c.csv")" "194" "candidates at 0.5"
expect_exit 0 "$BL" match -t 0.5 -f anonlink -o "$T/c.bin" "$A" "$B"
assert_eq "$(stat -c %s "$T/c.bin")" "$((4 + 193 * 24))" "anonlink binary size"
expect_exit 0 "$BL" match -t 0.5 -k 1 -s none -o "$T/k.csv" "$A" "$B"
assert_eq "$(cut -d, -f1 "$T/k.csv" | sort | uniq -d | wc -l)" "0" "top-k 1: each a once"
# three inputs: dataset columns, probabilistic solver
cp "$B" "$T/b-again.json" # a third party: the same records under another name
expect_exit 0 "$BL" match -t 0.8 -s probabilistic -o "$T/p3.csv" "$A" "$B" "$T/b-again.json"
assert_eq "$(head -1 "$T/p3.csv")" "a_dataset,a_index,b_dataset,b_index,score" "3-party header"
expect_exit 0 "$BL" match -t 0.8 -s probabilistic -f groups -o "$T/g3.json" "$A" "$B" "$T/b-again.json"
assert_contains "$T/g3.json" "            2,"
# keyed LSH blocking (key from env or file) and its report
expect_exit 2 "$BL" match -t 0.8 --blocking lsh -o "$T/x.csv" "$A" "$B"
assert_contains "$T/err" "blocking key"
assert_missing "$T/x.csv"
printf 'lsh-secret\n' > "$T/key"
expect_exit 0 "$BL" match -t 0.8 --blocking lsh --lsh-tables 30 --lsh-bits 10 --blocking-key-file "$T/key" --blocking-report -o "$T/l.csv" "$A" "$B"
assert_contains "$T/err" "reduction ratio"
assert_contains "$T/err" "of the records' best pairs"
# -v with --blocking-report (as the demo runs it): the blocking line once
expect_exit 0 "$BL" match -v -t 0.8 --blocking lsh --lsh-tables 30 --lsh-bits 10 --blocking-key-file "$T/key" --blocking-report -o "$T/l.csv" "$A" "$B"
assert_eq "$(grep -c 'blocking compared' "$T/err")" "1" "blocking line printed once"
# automatic LSH parameters that cannot keep 99% of the matches for fewer
# comparisons than all pairs: a message, and the exhaustive result
"$BL" match -t 0.5 -s none -o "$T/e5.csv" "$A" "$B" 2>/dev/null
expect_exit 0 "$BL" match -t 0.5 -s none --blocking lsh --blocking-key-file "$T/key" --blocking-report -o "$T/l5.csv" "$A" "$B"
assert_contains "$T/err" "comparing exhaustively"
assert_contains "$T/err" "no blocking used"
assert_same "$T/l5.csv" "$T/e5.csv"
expect_exit 0 env BL_BLOCKING_KEY=abc "$BL" match -t 0.8 --blocking lsh --lsh-tables 8 --lsh-bits 12 -v -o "$T/l2.csv" "$A" "$B"
assert_contains "$T/err" "candidate pairs"
assert_contains "$T/err" "(keeping best pairs)"
# -v on a blocked run reports the pairs compared and the reduction ratio,
# without the exhaustive run (only --blocking-report does that)
assert_contains "$T/err" "blocking compared "
assert_not_contains "$T/err" "pair completeness"
# --lsh-keep: the plan's pairs; default all for candidate lists
expect_exit 0 env BL_BLOCKING_KEY=abc "$BL" match -t 0.8 --blocking lsh --lsh-tables 8 --lsh-bits 12 -f candidates -v -o "$T/l4.csv" "$A" "$B"
assert_contains "$T/err" "(keeping all pairs)"
expect_exit 0 env BL_BLOCKING_KEY=abc "$BL" match -t 0.8 --blocking lsh --lsh-tables 8 --lsh-bits 12 --lsh-keep all -v -o "$T/l4.csv" "$A" "$B"
assert_contains "$T/err" "(keeping all pairs)"
expect_exit 2 env BL_BLOCKING_KEY=abc "$BL" match -t 0.8 --blocking lsh --lsh-keep most -o "$T/x.csv" "$A" "$B"
assert_contains "$T/err" "--lsh-keep must be all or best"
expect_exit 2 "$BL" match -t 0.8 --lsh-keep best -o "$T/x.csv" "$A" "$B"
assert_contains "$T/err" "--lsh-keep goes with --blocking lsh"
assert_missing "$T/x.csv"
expect_exit 0 "$BL" match -t 0.8 -v --blocks "$F/people-a.psig-blocks.json" --blocks "$F/people-b.psig-blocks.json" -o "$T/l3.csv" "$A" "$B"
n=$(sed -nE 's/.*blocking compared ([0-9]+) of ([0-9]+) pairs \(reduction ratio (0|0?\.[0-9]+|1\.0+); [0-9]+ comparisons counting repeats\).*/\1/p' "$T/err")
[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -le 400 ] && pass || fail "-v blocked line: $(cat "$T/err")"
assert_not_contains "$T/err" "pair completeness"

# eval
expect_exit 0 "$BL" eval --truth "$F/people-truth.csv" "$T/p.csv"
assert_contains "$T/out" "precision        1.000000"
assert_contains "$T/out" "recall           0.944444"
# id-based truth file (a_id,b_id): ids from --data files, or from the
# a_id/b_id columns of the matches; same figures as the index-based truth
{ echo id; for i in $(seq 0 19); do echo "pa$i"; done; } > "$T/da.csv"
{ echo id; for i in $(seq 0 19); do echo "pb$i"; done; } > "$T/db.csv"
awk -F, 'NR == 1 { print "b_id,a_id"; next } { print "pb" $2 ",pa" $1 }' "$F/people-truth.csv" > "$T/truth-ids.csv"
expect_exit 0 "$BL" eval --truth "$T/truth-ids.csv" --data "$T/da.csv" --data "$T/db.csv" "$T/p.csv"
assert_contains "$T/out" "precision        1.000000"
assert_contains "$T/out" "recall           0.944444"
awk -F, 'NR == 1 { print $0 ",a_id,b_id"; next } { print $0 ",pa" $1 ",pb" $2 }' "$T/p.csv" > "$T/p-ids.csv"
expect_exit 0 "$BL" eval --truth "$T/truth-ids.csv" "$T/p-ids.csv"
assert_contains "$T/out" "recall           0.944444"
{ cat "$T/truth-ids.csv"; echo "pb3,nobody"; } > "$T/truth-bad.csv"
expect_exit 2 "$BL" eval --truth "$T/truth-bad.csv" --data "$T/da.csv" --data "$T/db.csv" "$T/p.csv"
assert_contains "$T/err" "truth-bad.csv:$(wc -l < "$T/truth-bad.csv"):2 (a_id): unknown id 'nobody'"
printf 'left,right\n1,2\n' > "$T/truth-cols.csv"
expect_exit 2 "$BL" eval --truth "$T/truth-cols.csv" --data "$T/da.csv" --data "$T/db.csv" "$T/p.csv"
assert_contains "$T/err" "truth-cols.csv:1: a truth file needs a_index,b_index or a_id,b_id"
printf 'a_id,b_id\n' > "$T/truth-noid.csv"
expect_exit 2 "$BL" eval --truth "$T/truth-noid.csv" "$T/p.csv"
assert_contains "$T/err" "needs record ids"
expect_exit 0 "$BL" eval --json --truth "$F/people-truth.csv" --sweep --histogram --svg "$T/h.svg" "$T/c.csv"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["true_pairs"]==18 and len(d["sweep"])==21' "$T/out" && pass || fail "eval json"
# the text report's counts are in the JSON too
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["false_positives"]==d["predicted"]-d["true_positives"] and d["false_negatives"]==d["true_pairs"]-d["true_positives"], d' "$T/out" && pass || fail "eval json false positives/negatives"
assert_contains "$T/h.svg" "<svg"
expect_exit 0 "$BL" eval --truth "$F/people-truth.csv" -t 0.9 "$T/c.csv"
assert_contains "$T/out" "predicted pairs  12"
printf 'a_index,b_index,score,a_id,b_id\n0,0,0.9,rec-1-org,rec-1-dup-0\n1,1,0.8,rec-2-org,rec-3-dup-0\n' > "$T/f.csv"
expect_exit 0 "$BL" eval --true-pairs 4 "$T/f.csv"
assert_contains "$T/out" "precision        0.500000"
assert_contains "$T/out" "recall           0.250000"
expect_exit 2 "$BL" eval --truth febrl --data "$T/f.csv" "$T/f.csv"
# an id that is not FEBRL's is named with its dataset, not a record number
# that means nothing (the records of a pairs file without --data are
# numbered by its rows)
printf 'a_index,b_index,score,a_id,b_id\n7,3,0.9,smith,rec-2-dup-0\n' > "$T/f-notfebrl.csv"
expect_exit 2 "$BL" eval --truth febrl "$T/f-notfebrl.csv"
assert_contains "$T/err" "dataset 0: id 'smith' does not follow FEBRL's"
assert_not_contains "$T/err" "record"
# an index-based truth file is checked against the --data row counts: a
# record or dataset that does not exist, or a pair inside one dataset, was
# counted as a true pair no match could find
printf 'a_index,b_index\n1,2\n20,0\n' > "$T/truth-range.csv"
expect_exit 2 "$BL" eval --truth "$T/truth-range.csv" --data "$T/da.csv" --data "$T/db.csv" "$T/p.csv"
assert_contains "$T/err" "truth-range.csv: truth pair 2: record 20 of dataset 0 is beyond its 20 records"
printf 'a_dataset,a_index,b_dataset,b_index\n0,1,5,2\n' > "$T/truth-ds.csv"
expect_exit 2 "$BL" eval --truth "$T/truth-ds.csv" --data "$T/da.csv" --data "$T/db.csv" "$T/p.csv"
assert_contains "$T/err" "truth-ds.csv: truth pair 1: dataset 5, but there are 2 datasets"
printf 'a_dataset,a_index,b_dataset,b_index\n1,1,1,2\n' > "$T/truth-same.csv"
expect_exit 2 "$BL" eval --truth "$T/truth-same.csv" --data "$T/da.csv" --data "$T/db.csv" "$T/p.csv"
assert_contains "$T/err" "truth-same.csv: truth pair 1: both records are in dataset 1"
# ids of the matches that are not those of the --data rows: a warning
awk -F, 'NR == 1 { print $0 ",a_id,b_id"; next } { print $0 ",qa" $1 ",pb" $2 }' "$T/p.csv" > "$T/p-other.csv"
expect_exit 0 "$BL" eval --data "$T/da.csv" --data "$T/db.csv" "$T/p-other.csv"
assert_contains "$T/err" "warning: $(($(wc -l < "$T/p.csv") - 1)) ids of $T/p-other.csv differ from the ids of the --data rows"
assert_not_contains "$T/err" "qa"
# without --data, memory follows the rows, not the largest record index
printf 'a_index,b_index,score,a_id,b_id\n0,4000000000,0.9,rec-1-org,rec-1-dup-0\n1,1,0.8,rec-2-org,rec-3-dup-0\n' > "$T/f-big.csv"
expect_exit 0 "$BL" eval --true-pairs 4 "$T/f-big.csv"
assert_contains "$T/out" "precision        0.500000"

# bad input: exit 2, message, no output file
expect_exit 2 "$BL" match -t 0 "$A" "$B"
assert_contains "$T/err" "(0, 1]"
expect_exit 2 "$BL" match -t 1.5 "$A" "$B"
expect_exit 2 "$BL" match -t abc "$A" "$B"
expect_exit 2 "$BL" match "$A" "$B"
expect_exit 2 "$BL" match -t 0.8 "$A"
: > "$T/empty.json"
expect_exit 2 "$BL" match -t 0.8 -o "$T/o.csv" "$T/empty.json" "$B"
assert_missing "$T/o.csv"
printf '{"clks": ["@@not-base64@@"]}' > "$T/bad.json"
expect_exit 2 "$BL" match -t 0.8 -o "$T/o.csv" "$T/bad.json" "$B"
assert_missing "$T/o.csv"
expect_exit 2 "$BL" match -t 0.8 -o "$T/o.csv" "$A" "$F/people-b.schema2-doublehash.json"
assert_contains "$T/err" "1000"
assert_missing "$T/o.csv"
printf 'BLCLK\0\r\n\001\000' > "$T/trunc.clk"
expect_exit 2 "$BL" match -t 0.8 -o "$T/o.csv" "$T/trunc.clk" "$B"
assert_missing "$T/o.csv"
expect_exit 2 "$BL" match -t 0.5 --max-candidates 10 -o "$T/o.csv" "$A" "$B"
assert_contains "$T/err" "more than 10 candidate pairs"
assert_missing "$T/o.csv"
expect_exit 2 "$BL" match -t 0.8 --blocks "$F/people-a.psig-blocks.json" "$A" "$B"
expect_exit 2 "$BL" match -t 0.8 --blocks "$T/bad.json" --blocks "$T/bad.json" "$A" "$B"
expect_exit 2 "$BL" match -t 0.8 --solver magic "$A" "$B"
expect_exit 0 "$BL" match --help
assert_contains "$T/out" "--threshold"
expect_exit 0 "$BL" eval --help
expect_exit 2 "$BL" eval "$T/empty.json"
expect_exit 2 "$BL" eval --truth "$F/people-truth.csv" "$T/bad.json"
# 0 candidate pairs while both inputs have records: a warning (not with -q)
expect_exit 0 "$BL" match -t 1 -o "$T/zero.csv" "$A" "$F/people-b.schema1-blake.json"
if [ "$(wc -l < "$T/zero.csv")" -le 1 ]; then
  assert_contains "$T/err" "0 candidate pairs: were both files encoded with the same secret and schema?"
  expect_exit 0 "$BL" match -q -t 1 -o "$T/zero.csv" "$A" "$B"
  assert_not_contains "$T/err" "0 candidate pairs"
fi
expect_exit 0 "$BL" match -t 0.8 -o "$T/some.csv" "$A" "$B"
assert_not_contains "$T/err" "0 candidate pairs"

# make: an explicit -j1 (or MAKEFLAGS=-j1) wins over JOBS' all-cores default
if command -v make >/dev/null; then
  mkj() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "$@" make -s -C "$BL_SRC" --eval 'bl-print-jflag: ; @echo $(JFLAG)' bl-print-jflag; }
  assert_eq "$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j1 -C "$BL_SRC" --eval 'bl-print-jflag: ; @echo $(JFLAG)' bl-print-jflag)" "-j 1" "make -j1"
  assert_eq "$(mkj MAKEFLAGS=-j1)" "-j 1" "MAKEFLAGS=-j1"
  assert_eq "$(mkj JOBS=3)" "-j 3" "JOBS=3"
fi

finish
