#!/usr/bin/env bash
# tests/cli/test_synth.sh - `blindlink synth` end to end: help lists every
# knob, same seed gives the same bytes (whatever --threads), file layout and
# FEBRL truth ids, non-ASCII share, atomic output, invalid options refused
# with exit 2 and a message naming the option.
. "$(dirname "$0")/lib.sh"

# --help documents every corruption knob and data set option
expect_exit 0 "$BL" synth --help
for k in typo typo-insert typo-delete typo-substitute typo-transpose ocr phonetic variant \
         nickname swap-names missing date-swap date-year email-change phone-change accent \
         level records parties overlap dedup dup-share max-dups dup-dist corrupt-originals \
         unicode-share output out-dir date-format explain seed threads dry-run; do
  assert_contains "$T/out" "--$k"
done

# determinism: same seed -> same bytes, any thread count; other seed differs
expect_exit 0 "$BL" synth -n 3000 -p 3 --level high --unicode-share 0.2 -s 9 -j 1 -o "$T/a"
expect_exit 0 "$BL" synth -n 3000 -p 3 --level high --unicode-share 0.2 -s 9 --threads 3 -o "$T/b"
expect_exit 0 "$BL" synth -n 3000 -p 3 --level high --unicode-share 0.2 -s 10 -o "$T/c"
for i in 1 2 3; do
  assert_same "$T/a-$i.csv" "$T/b-$i.csv"
  if cmp -s "$T/a-$i.csv" "$T/c-$i.csv"; then fail "seed 10 gave the bytes of seed 9"; else pass; fi
  assert_eq "$(wc -l < "$T/a-$i.csv")" 3001 "lines in a-$i.csv"
done
assert_eq "$(head -1 "$T/a-1.csv")" \
  "rec_id,given_name,surname,date_of_birth,sex,address,suburb,postcode,state,email,phone" header

# truth ids: party 1 all rec-N-org, party 2 rec-N-dup-0, party 3 rec-N-dup-1;
# persons shared by all parties = round(3000 * 0.5)
assert_eq "$(tail -n +2 "$T/a-1.csv" | grep -cv '^rec-[0-9]*-org,')" 0 "non-org ids in party 1"
assert_eq "$(tail -n +2 "$T/a-2.csv" | grep -cv '^rec-[0-9]*-dup-0,')" 0 "ids in party 2"
assert_eq "$(tail -n +2 "$T/a-3.csv" | grep -cv '^rec-[0-9]*-dup-1,')" 0 "ids in party 3"
ents() { tail -n +2 "$1" | cut -d, -f1 | sed -E 's/^rec-([0-9]+)-.*/\1/' | sort; }
ents "$T/a-1.csv" > "$T/e1"; ents "$T/a-2.csv" > "$T/e2"; ents "$T/a-3.csv" > "$T/e3"
assert_eq "$(uniq -d "$T/e1" | wc -l)" 0 "repeated person in party 1"
assert_eq "$(comm -12 "$T/e1" "$T/e2" | comm -12 - "$T/e3" | wc -l)" 1500 "persons in all parties"
assert_eq "$(comm -12 "$T/e1" "$T/e2" | wc -l)" 1500 "persons in parties 1 and 2"
expect_exit 0 "$BL" synth -n 3000 -p 3 -s 9 --dry-run -o "$T/plan"
assert_contains "$T/out" "true pairs per party pair 1500"
assert_missing "$T/plan-1.csv"

# dedup: every duplicate has its original in the same file, K < max-dups
expect_exit 0 "$BL" synth --dedup -n 2000 --max-dups 4 --dup-dist poisson --explain -o "$T/dd"
awk -F, 'NR > 1 { split($1, p, "-"); if ($1 ~ /-org$/) org[p[2]] = 1; else { dup[p[2]] = 1; if (p[4] + 0 >= 4) bad++ } }
         END { for (n in dup) if (!(n in org)) bad++; print bad + 0 }' "$T/dd.csv" > "$T/bad"
assert_eq "$(cat "$T/bad")" 0 "duplicates without original or K >= max-dups"
assert_eq "$(tail -n +2 "$T/dd.csv" | grep -c -- '-org,')" 2000 "originals"
assert_eq "$(head -1 "$T/dd.csv" | tr ',' '\n' | tail -1)" corruptions "explain column"
# stdout works for a single dedup set and equals the file
expect_exit 0 "$BL" synth --dedup -n 2000 --max-dups 4 --dup-dist poisson --explain -o -
assert_same "$T/out" "$T/dd.csv"

# --out-dir naming, date formats
mkdir "$T/od"
expect_exit 0 "$BL" synth -n 50 --out-dir "$T/od" --date-format febrl
assert_exists "$T/od/party-1.csv"
assert_exists "$T/od/party-2.csv"
# a folder not there yet is made (docs/synth.md's example), an empty name refused
expect_exit 0 "$BL" synth -n 20 --out-dir "$T/od-new"
assert_exists "$T/od-new/party-1.csv"
expect_exit 2 "$BL" synth -n 10 -o ''
# ... only once the options pass
expect_exit 2 "$BL" synth --out-dir "$T/od-bad" --dedup -p 3
assert_missing "$T/od-bad"
assert_eq "$(sed -n 2p "$T/od/party-1.csv" | cut -d, -f4 | grep -cE '^[0-9]{8}$')" 1 "febrl date"
expect_exit 0 "$BL" synth -n 50 -o "$T/dmy" --date-format dmy --level none
assert_eq "$(tail -n +2 "$T/dmy-1.csv" | cut -d, -f4 | grep -cvE '^[0-9]{2}-[0-9]{2}-[0-9]{4}$')" 0 "dmy dates"
# level none: the copies equal the originals apart from the id
tail -n +2 "$T/dmy-1.csv" | sed -E 's/^rec-([0-9]+)-org/\1/' | sort > "$T/o1"
tail -n +2 "$T/dmy-2.csv" | sed -E 's/^rec-([0-9]+)-dup-0/\1/' | sort > "$T/o2"
assert_eq "$(comm -12 "$T/o1" "$T/o2" | wc -l)" 25 "identical copies at level none"

# --corrupt-originals: party 1 is corrupted too (ids unchanged), else clean
expect_exit 0 "$BL" synth -n 300 -o "$T/co" --level high --corrupt-originals
expect_exit 0 "$BL" synth -n 300 -o "$T/cc" --level high
assert_eq "$(cut -d, -f1 "$T/co-1.csv" | sort | md5sum)" "$(cut -d, -f1 "$T/cc-1.csv" | sort | md5sum)" "ids with --corrupt-originals"
if cmp -s "$T/co-1.csv" "$T/cc-1.csv"; then fail "--corrupt-originals changed nothing"; else pass; fi
expect_exit 0 "$BL" synth -n 300 -o "$T/cn" --level none
assert_eq "$(sort "$T/cc-1.csv" | md5sum)" "$(sort "$T/cn-1.csv" | md5sum)" "originals clean at any level"

# non-ASCII names: share 1 -> every name has a non-ASCII or a folded Latin form
expect_exit 0 "$BL" synth -n 400 --unicode-share 1 --level none -o "$T/u"
assert_eq "$(tail -n +2 "$T/u-1.csv" | cut -d, -f2,3 | LC_ALL=C grep -c '[^ -~]')" 400 "non-ASCII names"
expect_exit 0 "$BL" synth -n 400 --unicode-share 0 -o "$T/a0"
assert_eq "$(cat "$T/a0-1.csv" "$T/a0-2.csv" | LC_ALL=C grep -c '[^ -~]')" 0 "ASCII only at share 0"

# invalid options: exit 2, message names the option, no output left behind
bad() {
  local needle=$1; shift
  expect_exit 2 "$BL" synth "$@"
  assert_contains "$T/err" "$needle"
}
bad "--records" -n 0 -o "$T/x"
bad "--records" -n abc -o "$T/x"
bad "--records" -n -5 -o "$T/x"
bad "--parties" -p 1 -o "$T/x"
bad "--overlap" --overlap 1.5 -o "$T/x"
bad "--typo-insert" --typo-insert -0.1 -o "$T/x"
bad "--ocr" --ocr nan -o "$T/x"
bad "--typo" --typo 2 -o "$T/x"
bad "--level" --level extreme -o "$T/x"
bad "--max-dups" --dedup --max-dups 10 -o "$T/x"
bad "--dup-dist" --dedup --dup-dist normal -o "$T/x"
bad "--date-format" --date-format us -o "$T/x"
bad "--seed" --seed -1 -o "$T/x"
bad "--threads" --threads 0x -o "$T/x"
bad "unknown option" --frobnicate -o "$T/x"
bad "needs a value" -o "$T/x" --seed
bad "exactly one of" -n 5
bad "exactly one of" -o "$T/x" --out-dir "$T"
bad "cannot be combined" --dedup -p 3 -o "$T/x"
bad "need --dedup" --max-dups 3 -o "$T/x"
bad "stdout" -o -
bad "unexpected argument" -o "$T/x" extra
assert_missing "$T/x-1.csv"
assert_missing "$T/x.csv"

# a destination whose folder does not exist: refused before any work
# (exit 2, as for every command's outputs), nothing written
expect_exit 2 "$BL" synth -n 10 -o "$T/no/such/dir/p"
assert_contains "$T/err" "its folder does not exist"
assert_missing "$T/no"
# a folder that cannot be written: refused the same way (as root every
# folder can be written)
if [ "$(id -u)" -ne 0 ]; then
  mkdir "$T/ro" && chmod 0500 "$T/ro"
  expect_exit 2 "$BL" synth -n 10 -o "$T/ro/p"
  assert_contains "$T/err" "Permission denied"
  assert_missing "$T/ro/p-1.csv"
fi

finish
