#!/usr/bin/env bash
# tests/cli/test_encode.sh - `blindlink encode`: every clkhash vector through
# the CLI (1 and several threads, JSON and binary + convert), secrets from
# file/env/argv, header modes, --no-validate, --legacy-strip, --ids, input
# order with many batches, and every error case: message, exit 2, no output.
. "$(dirname "$0")/lib.sh"
F=$BL_FIXTURES/clkhash
SEC=$F/secret.txt

# --- vectors, byte for byte -------------------------------------------------
for s in schema1-blake schema1-blake-v2 schema2-doublehash schema3-mixed-folded \
         schema4-doublehash-singularity schema5-xorFolds-camelcase-ignored; do
  for c in people-a people-b; do
    for t in 1 3; do
      expect_exit 0 "$BL" encode --quiet --threads $t --secret-file "$SEC" "$F/data/$c.csv" "$F/schemas/$s.json" "$T/o.json"
      assert_same "$T/o.json" "$F/clks/$c.$s.json"
    done
    # binary, then back to JSON
    expect_exit 0 "$BL" encode --quiet --format bin --secret-file "$SEC" "$F/data/$c.csv" "$F/schemas/$s.json" "$T/o.bin"
    expect_exit 0 "$BL" convert --format json "$T/o.bin" "$T/back.json"
    assert_same "$T/back.json" "$F/clks/$c.$s.json"
  done
done

# schema5's camelCase xorFolds: clkhash ignores it, we do too, with a warning
expect_exit 0 "$BL" encode --secret-file "$SEC" "$F/data/people-a.csv" "$F/schemas/schema5-xorFolds-camelcase-ignored.json" "$T/o.json"
assert_contains "$T/err" "xorFolds: ignored"

# --- secrets ----------------------------------------------------------------
BLINDLINK_SECRET="$(cat "$SEC")" expect_exit 0 "$BL" encode --quiet "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/env.json"
assert_same "$T/env.json" "$F/clks/people-a.schema1-blake.json"
expect_exit 0 "$BL" encode --quiet --secret-argv "$(cat "$SEC")" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/argv.json"
assert_same "$T/argv.json" "$F/clks/people-a.schema1-blake.json"
assert_contains "$T/err" "warning: --secret-argv exposes the secret"
assert_not_contains "$T/err" "correct horse"
unset BLINDLINK_SECRET
expect_exit 2 "$BL" encode "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/nosecret.json"
assert_contains "$T/err" "no secret: use --secret-file FILE or set BLINDLINK_SECRET"
assert_missing "$T/nosecret.json"
expect_exit 2 "$BL" encode --secret-file "$T/does-not-exist" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/nosecret.json"
assert_contains "$T/err" "does-not-exist"
assert_missing "$T/nosecret.json"

# --- header modes -------------------------------------------------------------
tail -n +2 "$F/data/people-a.csv" > "$T/nohdr.csv"
expect_exit 0 "$BL" encode --quiet --no-header --secret-file "$SEC" "$T/nohdr.csv" "$F/schemas/schema1-blake.json" "$T/o.json"
assert_same "$T/o.json" "$F/clks/people-a.schema1-blake.json"
sed '1s/dob/birth/' "$F/data/people-a.csv" > "$T/badhdr.csv"
expect_exit 2 "$BL" encode --secret-file "$SEC" "$T/badhdr.csv" "$F/schemas/schema1-blake.json" "$T/o2.json"
assert_contains "$T/err" "badhdr.csv:1: header column 4 is 'birth' but the schema expects 'dob'"
assert_missing "$T/o2.json"
expect_exit 0 "$BL" encode --quiet --check-header false --secret-file "$SEC" "$T/badhdr.csv" "$F/schemas/schema1-blake.json" "$T/o2.json"
assert_same "$T/o2.json" "$F/clks/people-a.schema1-blake.json"
# a UTF-8 BOM is dropped before the header check
printf '\xef\xbb\xbf' | cat - "$F/data/people-a.csv" > "$T/bom.csv"
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" "$T/bom.csv" "$F/schemas/schema1-blake.json" "$T/o3.json"
assert_same "$T/o3.json" "$F/clks/people-a.schema1-blake.json"
# CRLF line endings and no final newline give the same encodings
sed 's/$/\r/' "$F/data/people-a.csv" | head -c -2 > "$T/crlf.csv"
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" "$T/crlf.csv" "$F/schemas/schema1-blake.json" "$T/o4.json"
assert_same "$T/o4.json" "$F/clks/people-a.schema1-blake.json"

# --- error cases: clear message, exit 2, no output ------------------------------
err_case() { # name expected-message file-args...
  local name=$1 msg=$2; shift 2
  rm -f "$T/bad.json"
  expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$@" "$T/bad.json"
  assert_contains "$T/err" "$msg"
  assert_missing "$T/bad.json"
  ls "$T" | grep -q '\.tmp' && fail "$name: temporary file left behind" || pass
}
awk 'NR==12{$0="a11,Aroha,Te Whata,1985-13-01,F,aroha.tewhata@example.nz,0800,21,168.4"}1' "$F/data/people-a.csv" > "$T/baddate.csv"
err_case date "baddate.csv:12: row 11, column 4 (dob): '1985-13-01' does not match %Y-%m-%d" "$T/baddate.csv" "$F/schemas/schema1-blake.json"
awk 'NR==3{$0="a02,Anne,Smith,1972-02-30,F,a@b.c,3052,52,165"}1' "$F/data/people-a.csv" > "$T/feb30.csv"
err_case feb30 "feb30.csv:3: row 2, column 4 (dob): '1972-02-30' is not a valid %Y-%m-%d date: day is out of range for month" "$T/feb30.csv" "$F/schemas/schema1-blake.json"
awk 'NR==5{$0="a04,Mei,Chen,1988-07-19,Q,mei.chen@example.com,2600,36,158.0"}1' "$F/data/people-a.csv" > "$T/enum.csv"
err_case enum "enum.csv:5: row 4, column 5 (gender): 'Q' is not one of 'F', 'M', 'X'" "$T/enum.csv" "$F/schemas/schema1-blake.json"
awk 'NR==5{$0="a04,Mei,Chen,1988-07-19,F,mei.chen@example.com,26000,36,158.0"}1' "$F/data/people-a.csv" > "$T/pat.csv"
err_case pattern "pat.csv:5: row 4, column 7 (postcode): '26000' does not match pattern '[0-9]{4}'" "$T/pat.csv" "$F/schemas/schema2-doublehash.json"
awk 'NR==6{$0="a05,Oliver,Nguyen,2001-12-25,M,o@e.org,6000,222,175.3"}1' "$F/data/people-a.csv" > "$T/int.csv"
err_case integer "int.csv:6: row 5, column 8 (age): '222' is greater than the maximum 130" "$T/int.csv" "$F/schemas/schema3-mixed-folded.json"
awk 'NR==6{$0="a05,Oliver,Nguyen,2001-12-25,M,o@e.org,6000,22"}1' "$F/data/people-a.csv" > "$T/cols.csv"
err_case columns "cols.csv:6: row 5 has 8 columns, the schema has 9" "$T/cols.csv" "$F/schemas/schema1-blake.json"
{ head -3 "$F/data/people-a.csv"; printf 'a03,"Se\xe1n",x,1990-01-30,M,s@e.net,4000,34,182\n'; } > "$T/latin1.csv"
err_case utf8 "latin1.csv:4: row 3, column 2 (given_name): invalid UTF-8" "$T/latin1.csv" "$F/schemas/schema1-blake.json"
{ head -3 "$F/data/people-a.csv"; printf 'a03,"Sean,x,1990-01-30,M,s@e.net,4000,34,182\n'; } > "$T/quote.csv"
err_case malformed "quote.csv" "$T/quote.csv" "$F/schemas/schema1-blake.json"
assert_contains "$T/err" "unterminated quoted field"
sed 's/"bitsPerToken": 20}/"bitsPerToken": 20, "bitsPerTokn": 3}/' "$F/schemas/schema1-blake.json" > "$T/unk.json"
err_case unknown-key "unk.json: \$.features[1].hashing.strategy: unknown key 'bitsPerTokn'" "$F/data/people-a.csv" "$T/unk.json"
sed 's/"version": 3/"version": 4/' "$F/schemas/schema1-blake.json" > "$T/v4.json"
err_case version "v4.json: \$.version: schema version given is not supported (1, 2 or 3)" "$F/data/people-a.csv" "$T/v4.json"
echo '{"version": 3, ' > "$T/broken.json"
err_case badjson "broken.json:" "$F/data/people-a.csv" "$T/broken.json"
assert_contains "$T/err" "not valid JSON"
err_case missing-data "cannot read" "$T/nope.csv" "$F/schemas/schema1-blake.json"
# unwritable output directory
mkdir -p "$T/ro" && chmod 555 "$T/ro"
if [ "$(id -u)" -ne 0 ]; then
  expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/ro/o.json"
  assert_contains "$T/err" "cannot write"
  assert_missing "$T/ro/o.json"
fi
expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/no/such/dir/o.json"
assert_contains "$T/err" "cannot write '$T/no/such/dir/o.json'"
expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T"
assert_contains "$T/err" "is a directory"
# an existing output is left untouched by a failed run
echo keep > "$T/keep.json"
expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$T/baddate.csv" "$F/schemas/schema1-blake.json" "$T/keep.json"
assert_eq "$(cat "$T/keep.json")" "keep" "existing output after failure"
# usage errors
expect_exit 2 "$BL" encode --format xml "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/o.json"
expect_exit 2 "$BL" encode --threads 0x "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/o.json"
expect_exit 2 "$BL" encode "$F/data/people-a.csv"
expect_exit 0 "$BL" encode --help
assert_contains "$T/out" "--secret-file"

# --- --no-validate: validation rules off, formatting still applies ------------------
expect_exit 0 "$BL" encode --quiet --no-validate --secret-file "$SEC" "$T/enum.csv" "$F/schemas/schema1-blake.json" "$T/nv.json"
expect_exit 2 "$BL" encode --quiet --no-validate --secret-file "$SEC" "$T/baddate.csv" "$F/schemas/schema1-blake.json" "$T/nv2.json"
assert_contains "$T/err" "does not match %Y-%m-%d"

# --- --legacy-strip: clkhash <= 0.18.1 stripped every cell --------------------------
sed '2s/,José,Müller,/, José ,Müller  ,/' "$F/data/people-a.csv" > "$T/spaces.csv"
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" "$T/spaces.csv" "$F/schemas/schema1-blake.json" "$T/sp.json"
if cmp -s "$T/sp.json" "$F/clks/people-a.schema1-blake.json"; then fail "spaces must change 0.18.3 encodings"; else pass; fi
expect_exit 0 "$BL" encode --quiet --legacy-strip --secret-file "$SEC" "$T/spaces.csv" "$F/schemas/schema1-blake.json" "$T/sp2.json"
assert_same "$T/sp2.json" "$F/clks/people-a.schema1-blake.json"

# --- --normalize: NFD "José", NFC "José", "JOSE" agree with the names profile only ------
cat > "$T/n.json" <<'J'
{"version": 3, "clkConfig": {"l": 256, "kdf": {"type": "HKDF"}}, "features": [
 {"identifier": "name", "format": {"type": "string"}, "hashing": {"comparison": {"type": "ngram", "n": 2}, "strategy": {"bitsPerToken": 10}}}]}
J
printf 'name\nJose\xcc\x81\nJos\xc3\xa9\nJOSE\n' > "$T/n.csv"
expect_exit 0 "$BL" encode --quiet --normalize=names --secret-file "$SEC" "$T/n.csv" "$T/n.json" "$T/norm.json"
n=$(tr -d '[]{}' < "$T/norm.json" | sed 's/"clks": //' | tr ',' '\n' | tr -d ' ' | sort -u | wc -l)
assert_eq "$n" "1" "distinct CLKs with --normalize=names"
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" "$T/n.csv" "$T/n.json" "$T/plain.json"
n=$(tr -d '[]{}' < "$T/plain.json" | sed 's/"clks": //' | tr ',' '\n' | tr -d ' ' | sort -u | wc -l)
assert_eq "$n" "3" "distinct CLKs without --normalize"
expect_exit 2 "$BL" encode --quiet --normalize=bogus --secret-file "$SEC" "$T/n.csv" "$T/n.json" "$T/x.json"
assert_contains "$T/err" "unknown --normalize profile 'bogus'"

# --- --ids: record ids carried in the binary output ------------------------------
expect_exit 0 "$BL" encode --quiet --format bin --ids id --secret-file "$SEC" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/ids.bin"
expect_exit 0 "$BL" convert --format bin --ids "$T/ids.bin" "$T/ids2.bin"
assert_same "$T/ids.bin" "$T/ids2.bin"
expect_exit 0 "$BL" convert --format json "$T/ids.bin" "$T/ids.json"
assert_same "$T/ids.json" "$F/clks/people-a.schema1-blake.json"
grep -q a20 "$T/ids.bin" && pass || fail "ids missing from binary output"
expect_exit 2 "$BL" encode --quiet --ids id --secret-file "$SEC" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/ids.json2"
assert_contains "$T/err" "binary format"
expect_exit 2 "$BL" encode --quiet --format bin --ids nosuch --secret-file "$SEC" "$F/data/people-a.csv" "$F/schemas/schema1-blake.json" "$T/ids3.bin"
assert_contains "$T/err" "no header column named 'nosuch'"
assert_missing "$T/ids3.bin"

# --- order with many batches and threads; stdin input; the error row is the first bad one -----
awk 'NR==1{print;next}{a[NR]=$0} END{for(i=1;i<=1500;i++) for(j=2;j<=NR;j++){s=a[j]; sub(/^a/, "r" i "_", s); print s}}' "$F/data/people-a.csv" > "$T/big.csv"
expect_exit 0 "$BL" encode --quiet --threads 1 --secret-file "$SEC" "$T/big.csv" "$F/schemas/schema2-doublehash.json" "$T/big1.json"
expect_exit 0 "$BL" encode --quiet --threads 4 --secret-file "$SEC" - "$F/schemas/schema2-doublehash.json" "$T/big4.json" < "$T/big.csv"
expect_exit 0 "$BL" encode --quiet --threads 4 --secret-file "$SEC" "$T/big.csv" "$F/schemas/schema2-doublehash.json" "$T/big4.json"
assert_same "$T/big1.json" "$T/big4.json"
n=$(grep -o '", "' "$T/big4.json" | wc -l)
assert_eq "$n" "29999" "records in big output - 1"
# rows 1-20, 21-40, ... equal the vector file's CLKs for the same people
tr -d '[]{}' < "$T/big4.json" | sed 's/"clks": //' | tr ',' '\n' | tr -d ' "' | awk '{print}' > "$T/big.lines"
tr -d '[]{}' < "$F/clks/people-a.schema2-doublehash.json" | sed 's/"clks": //' | tr ',' '\n' | tr -d ' "' | awk '{print}' > "$T/ref.lines"
for blk in 0 97 1499; do
  sed -n "$((blk * 20 + 1)),$((blk * 20 + 20))p" "$T/big.lines" > "$T/blk.lines"
  assert_same "$T/blk.lines" "$T/ref.lines"
done
awk 'NR==25000{$0="r9_x,Bad,Date,1985-13-01,F,x@y.z,1234,1,1"} NR==29000{$0="r9_y,Bad,Cols"}1' "$T/big.csv" > "$T/bigbad.csv"
expect_exit 2 "$BL" encode --quiet --threads 4 --secret-file "$SEC" "$T/bigbad.csv" "$F/schemas/schema2-doublehash.json" "$T/bigbad.json"
assert_contains "$T/err" "bigbad.csv:25000: row 24999, column 4 (dob): '1985-13-01' does not match %Y-%m-%d"
assert_missing "$T/bigbad.json"

# a value quoted in a message is one printable line: control bytes and NUL
# as \xNN (a terminal escape in a cell reached the terminal, and "M\0X"
# was shown as 'M'), a long value cut at a character and marked "..."
H=$(head -1 "$F/data/people-a.csv")
{ echo "$H"; printf 'a01,Jose,M,1985-04-12,M,j@e.org,\033]0;x\a12,39,178\n'; } > "$T/esc1.csv"
expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$T/esc1.csv" "$F/schemas/schema2-doublehash.json" "$T/esc.json"
assert_contains "$T/err" "(postcode): '\x1b]0;x\x0712' does not match pattern"
{ echo "$H"; printf 'a01,Jose,M,1985-04-12,M\0X,j@e.org,2000,39,178\n'; } > "$T/esc2.csv"
expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$T/esc2.csv" "$F/schemas/schema2-doublehash.json" "$T/esc.json"
assert_contains "$T/err" "(gender): 'M\x00X' is not one of"
{ echo "$H"; printf 'a01,Jose,M,1985-04-12,M,j@e.org,%s,39,178\n' "$(printf '\303\251%.0s' $(seq 40))"; } > "$T/esc3.csv"
expect_exit 2 "$BL" encode --quiet --secret-file "$SEC" "$T/esc3.csv" "$F/schemas/schema2-doublehash.json" "$T/esc.json"
assert_contains "$T/err" "$(printf '\303\251%.0s' $(seq 30))...' does not match pattern"
python3 -c 'import sys; open(sys.argv[1], encoding="utf-8").read()' "$T/err" && pass || fail "a cut message is not UTF-8"
assert_missing "$T/esc.json"

# --ids that cannot tell records apart get a warning (no id in it), and the
# encodings are written all the same
{ head -3 "$F/data/people-a.csv"; sed -n 2p "$F/data/people-a.csv"; sed -n 3p "$F/data/people-a.csv" | sed 's/^[^,]*,/,/'; } > "$T/dupids.csv"
expect_exit 0 "$BL" encode --quiet --format bin --ids id --secret-file "$SEC" "$T/dupids.csv" "$F/schemas/schema2-doublehash.json" "$T/dup-q.bin"
assert_not_contains "$T/err" "warning"
expect_exit 0 "$BL" encode --format bin --ids id --secret-file "$SEC" "$T/dupids.csv" "$F/schemas/schema2-doublehash.json" "$T/dup.bin"
assert_contains "$T/err" "warning: 1 records repeat the --ids id of an earlier record (the first: row 3)"
assert_contains "$T/err" "warning: 1 records have an empty --ids id"
assert_not_contains "$T/err" "a01"
assert_same "$T/dup.bin" "$T/dup-q.bin"

finish
