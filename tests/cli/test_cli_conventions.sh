#!/usr/bin/env bash
# tests/cli/test_cli_conventions.sh - what every subcommand shares (issue 11):
# -V/--version, `blindlink help CMD`, '-' for stdin and stdout (match, encode
# binary, convert, describe, eval, schema), --json summaries that parse and
# carry the right figures, the schema-fingerprint and metadata checks of
# match (exit 2, both files named, no output), synth's deprecated -t, and
# that errors leave no output behind.
. "$(dirname "$0")/lib.sh"
F=$BL_FIXTURES/clkhash
M=$BL_FIXTURES/matching
SEC=$F/secret.txt
A=$M/people-a.schema1-blake.json
B=$M/people-b.schema1-blake.json
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"; }

# --- version and help on every command ---------------------------------------
ver=$("$BL" --version)
cmds=$("$BL" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}')
for c in $cmds; do
  expect_exit 0 "$BL" "$c" -V
  assert_eq "$(cat "$T/out")" "$ver" "$c -V"
  expect_exit 0 "$BL" "$c" --version
  assert_eq "$(cat "$T/out")" "$ver" "$c --version"
  expect_exit 0 "$BL" help "$c"
  "$BL" "$c" --help > "$T/h2" 2>&1
  assert_same "$T/out" "$T/h2"
done
expect_exit 0 "$BL" -V
assert_eq "$(cat "$T/out")" "$ver" "blindlink -V"

# --- the common options, on every command `blindlink --help` lists ---------------
# Which of -o/--output, -j/--threads and --json each command takes (where it
# writes a file, works in parallel, prints figures or a summary). A command
# missing from the table fails: whoever adds one decides here.
declare -A takes=(
  [encode]="o j json" [schema]="o json" [convert]="o" [synth]="o j json"
  [describe]="o json" [match]="o j json" [train]="o j" [explain]="o json"
  [eval]="o json" [psi]="o j json" [keygen]="o" [serve]="j" [admin]="o json"
  [audit]="o json" [relay]="" [bank]="j" [chat]="" [attack]="o j json")
for c in $cmds; do
  if [ -z "${takes[$c]+set}" ]; then
    fail "$c: not in the common-option table of $0"; continue
  fi
  "$BL" "$c" --help > "$T/help"
  # -q, -v, -V and their long forms: documented, and accepted by the
  # command's own parser (the version is printed after them)
  for o in "-q, --quiet" "-v, --verbose" "-V, --version" "-h, --help"; do
    assert_contains "$T/help" "$o"
  done
  for f in "-q -V" "--quiet --version" "-v -V" "--verbose --version" "-q -v -V"; do
    expect_exit 0 "$BL" "$c" $f
    assert_eq "$(cat "$T/out")" "$ver" "$c $f"
  done
  expect_exit 2 "$BL" "$c" --no-such-option -V
  assert_contains "$T/err" "unknown option '--no-such-option'"
  for k in o j json; do
    case " ${takes[$c]} " in *" $k "*) has=1 ;; *) has=0 ;; esac
    case $k in
      o) opt="-o, --output" long=--output ;;
      j) opt="-j, --threads" long=--threads ;;
      json) opt="--json" long=--json ;;
    esac
    if [ $has = 0 ]; then
      # an option the table does not list must not be in the help either
      grep -qE -- "(^|[ ,])$long([ =]|$)" "$T/help" && fail "$c documents $long: add '$k' to the table"
      continue
    fi
    assert_contains "$T/help" "$opt"
    case $k in
      o) expect_exit 2 "$BL" "$c" -o
         assert_contains "$T/err" "option '-o' needs a value"
         expect_exit 2 "$BL" "$c" --output
         assert_contains "$T/err" "option '--output' needs a value" ;;
      j) expect_exit 0 "$BL" "$c" -j 2 -V
         expect_exit 0 "$BL" "$c" --threads auto -V
         expect_exit 2 "$BL" "$c" -j many -V
         assert_contains "$T/err" "--threads must be 1..1024 or 'auto'" ;;
      json) expect_exit 0 "$BL" "$c" --json -V ;;
    esac
  done
done
expect_exit 2 "$BL" help frobnicate
assert_contains "$T/err" "unknown command 'frobnicate'"
# an option missing its value names it (shared parser)
expect_exit 2 "$BL" match "$A" "$B" -t
assert_contains "$T/err" "option '-t' needs a value"
expect_exit 2 "$BL" eval --bins
assert_contains "$T/err" "option '--bins' needs a value"

# --- admin and audit: --json, -o, -q (only where the service is built) -----------
if "$BL" admin --help > /dev/null 2>&1; then
  S=$T/svc
  mkdir -m 700 "$S"
  expect_exit 0 "$BL" admin --data-dir "$S" --json bootstrap ops
  json "$T/out" 'assert d["key"].startswith("blk_") and d["key_id"] in d["key"] and d["org"] == "ops" and d["role"] == "admin"' && pass || fail "admin bootstrap --json: $(cat "$T/out")"
  # -o: the new key goes to a file (mode 0600), nothing to stdout
  expect_exit 0 "$BL" admin -q --data-dir "$S" -o "$T/key.txt" key add ops analyst
  assert_eq "$(wc -c < "$T/out")" 0 "admin -o: bytes on stdout"
  assert_eq "$(stat -c %a "$T/key.txt")" 600 "admin -o: mode of the key file"
  kid=$(sed -n 's/^key_id=//p' "$T/key.txt")
  assert_eq "${#kid}" 16 "admin -o: key id in the file"
  expect_exit 0 "$BL" admin --data-dir "$S" org add --json hosp --kind hospital
  json "$T/out" 'assert len(d["id"]) == 32 and d["name"] == "hosp" and d["kind"] == "hospital"' && pass || fail "admin org add --json"
  expect_exit 0 "$BL" admin --data-dir "$S" --json key revoke "$kid"
  json "$T/out" "assert d == {'revoked': '$kid'}" && pass || fail "admin key revoke --json"
  expect_exit 0 "$BL" admin --data-dir "$S" --json purpose add audit_test "a purpose for the test"
  json "$T/out" 'assert d == {"purpose": "audit_test"}' && pass || fail "admin purpose add --json"
  expect_exit 0 "$BL" admin --data-dir "$S" list --json
  json "$T/out" "k = {x['id']: x for x in d['keys']}; assert sorted(o['name'] for o in d['organisations']) == ['hosp', 'ops'] and k['$kid']['state'] == 'revoked' and k['$kid']['role'] == 'analyst' and 'audit_test' in [p['name'] for p in d['purposes']]" && pass || fail "admin list --json: $(cat "$T/out")"
  # a failing action leaves no output file
  expect_exit 2 "$BL" admin --data-dir "$S" -o "$T/nokey.txt" key add ops wizard
  assert_missing "$T/nokey.txt"
  # audit verify: --json report, -q silence, -o FILE; tampering reported in JSON too
  expect_exit 0 "$BL" audit verify --json "$S"
  json "$T/out" 'assert d["intact"] and d["entries"] >= 6 and d["pin"] == "%d:%s" % (d["entries"], d["head"]) and d["first_bad"] is None and d["error"] is None and not d["independent"]' && pass || fail "audit verify --json: $(cat "$T/out")"
  pin=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pin"])' "$T/out")
  expect_exit 0 "$BL" audit -q verify --head "$pin" "$S"
  assert_eq "$(wc -c < "$T/out")" 0 "audit -q verify: bytes on stdout"
  assert_eq "$(wc -c < "$T/err")" 0 "audit -q verify: bytes on stderr"
  expect_exit 0 "$BL" audit verify --json -o "$T/report.json" "$S"
  json "$T/report.json" 'assert d["intact"]' && pass || fail "audit verify --json -o"
  expect_exit 2 "$BL" audit verify -o "$T/report2.json" "$S"
  assert_contains "$T/err" "--output FILE is for the --json report"
  sed -i '2s/"key.create"/"key.crea7e"/' "$S/audit.log"
  expect_exit 2 "$BL" audit verify --json "$S"
  json "$T/out" 'assert not d["intact"] and d["first_bad"] == 2 and d["error"] and d["pin"] is None' && pass || fail "audit verify --json on a tampered log: $(cat "$T/out")"
  assert_contains "$T/err" "TAMPERED"
fi

# --- stdin / stdout ------------------------------------------------------------
"$BL" match -t 0.8 -o "$T/m-files.csv" "$A" "$B"
expect_exit 0 "$BL" match -t 0.8 -o "$T/m-stdin.csv" - "$B" < "$A"
assert_same "$T/m-stdin.csv" "$T/m-files.csv"
expect_exit 0 "$BL" match -t 0.8 -o "$T/m-stdin2.csv" "$A" - < "$B"
assert_same "$T/m-stdin2.csv" "$T/m-files.csv"
expect_exit 2 "$BL" match -t 0.8 -o "$T/m-two.csv" - - < "$A"
assert_contains "$T/err" "'-' (stdin) can be only one"
assert_missing "$T/m-two.csv"
# binary encode to stdout: the same bytes as to a file
D=$F/data/people-a.csv
S=$F/schemas/schema1-blake.json
expect_exit 0 "$BL" encode -q --format bin --secret-file "$SEC" "$D" "$S" "$T/a.bin"
"$BL" encode -q --format bin --secret-file "$SEC" "$D" "$S" - > "$T/a-stdout.bin"
assert_same "$T/a-stdout.bin" "$T/a.bin"
# ... and from stdin, with -o instead of the third argument
"$BL" encode -q --format bin --secret-file "$SEC" -o - - "$S" < "$D" > "$T/a-pipe.bin"
assert_same "$T/a-pipe.bin" "$T/a.bin"
# a failing binary encode writes nothing to stdout
printf 'id,given_name\n1,x\n' > "$T/bad.csv"
"$BL" encode -q --format bin --secret-file "$SEC" "$T/bad.csv" "$S" - > "$T/bad-stdout.bin" 2> "$T/err"
assert_eq "$?" 2 "exit of a failing binary encode to stdout"
assert_eq "$(wc -c < "$T/bad-stdout.bin")" 0 "bytes written by a failing encode"
# convert: stdin -> stdout in both directions
"$BL" convert --format json - - < "$T/a.bin" > "$T/a-back.json"
assert_same "$T/a-back.json" "$F/clks/people-a.schema1-blake.json"
"$BL" convert --format bin - - < "$T/a-back.json" > "$T/a-rt.bin"
"$BL" convert --format json "$T/a-rt.bin" "$T/a-rt.json"
assert_same "$T/a-rt.json" "$F/clks/people-a.schema1-blake.json"
expect_exit 0 "$BL" convert -o "$T/a-o.json" "$T/a.bin"
assert_same "$T/a-o.json" "$F/clks/people-a.schema1-blake.json"
# schema from stdin
expect_exit 0 "$BL" schema validate - < "$S"
assert_contains "$T/out" "valid linkage schema v3"

# --- --json summaries -------------------------------------------------------------
expect_exit 0 "$BL" encode --json --format bin --secret-file "$SEC" "$D" "$S" "$T/j.bin"
json "$T/out" 'assert d["records"] == 20 and d["bits"] == 1024 and d["format"] == "bin" and len(d["fingerprint"]) == 64' && pass || fail "encode --json: $(cat "$T/out")"
expect_exit 2 "$BL" encode --json --secret-file "$SEC" "$D" "$S" -
assert_contains "$T/err" "--json prints the summary on stdout"
expect_exit 0 "$BL" match -t 0.8 --json -o "$T/mj.csv" "$A" "$B"
json "$T/out" 'assert d["candidates"] == 17 and d["groups"] == 17 and d["group_sizes"] == {"2": 17} and d["records"] == [20, 20] and d["threshold"] == 0.8' && pass || fail "match --json: $(cat "$T/out")"
assert_same "$T/mj.csv" "$T/m-files.csv"
expect_exit 2 "$BL" match -t 0.8 --json "$A" "$B"
assert_contains "$T/err" "give -o FILE"
expect_exit 0 "$BL" synth -n 20 -p 3 --json -o "$T/sy"
json "$T/out" 'assert d["written"] and len(d["files"]) == 3 and d["files"][0]["records"] == 20 and d["true_pairs_per_party_pair"] == 10' && pass || fail "synth --json: $(cat "$T/out")"
assert_eq "$(wc -l < "$T/sy-2.csv")" 21 "synth --json still writes the data"
expect_exit 0 "$BL" synth -n 20 --dry-run --json -o "$T/dry"
json "$T/out" 'assert not d["written"] and d["probabilities"]["ocr"] >= 0' && pass || fail "synth --dry-run --json"
assert_missing "$T/dry-1.csv"
expect_exit 0 "$BL" schema describe --json "$S"
json "$T/out" 'assert d["bits"] == 1024 and d["columns"] == 9 and d["features"][1]["identifier"] == "given_name" and d["features"][1]["hashing"]["strategy"]["bitsPerToken"] == 20 and d["expected_bits_set"] > 0' && pass || fail "schema describe --json"

# --- synth: -t (threads) is deprecated, -j is the option -----------------------------
expect_exit 0 "$BL" synth -n 30 -p 2 -s 4 -t 2 -o "$T/old"
assert_contains "$T/err" "'-t N' for threads is deprecated, use -j N"
expect_exit 0 "$BL" synth -n 30 -p 2 -s 4 -j 2 -o "$T/new"
assert_not_contains "$T/err" "deprecated"
assert_same "$T/old-1.csv" "$T/new-1.csv"

# --- match refuses inputs encoded differently ---------------------------------------
"$BL" encode -q --format bin --secret-file "$SEC" "$F/data/people-b.csv" "$S" "$T/b.bin"
"$BL" encode -q --format bin --secret-file "$SEC" "$F/data/people-b.csv" "$F/schemas/schema2-doublehash.json" "$T/b2.bin"
expect_exit 0 "$BL" match -t 0.8 -o "$T/bb.csv" "$T/a.bin" "$T/b.bin"
assert_same "$T/bb.csv" "$T/m-files.csv"
expect_exit 2 "$BL" match -t 0.8 -o "$T/diff.csv" "$T/a.bin" "$T/b2.bin"
assert_contains "$T/err" "$T/a.bin (schema fingerprint"
assert_contains "$T/err" "and $T/b2.bin ("
assert_contains "$T/err" "different schemas or encoding options"
assert_missing "$T/diff.csv"
# a clkhash JSON input has no fingerprint: matched, with a warning (not with -q)
expect_exit 0 "$BL" match -t 0.8 -o "$T/mix.csv" "$T/a.bin" "$B"
assert_contains "$T/err" "warning: $B carries no schema fingerprint"
assert_same "$T/mix.csv" "$T/m-files.csv"
expect_exit 0 "$BL" match -q -t 0.8 -o "$T/mix.csv" "$T/a.bin" "$B"
assert_not_contains "$T/err" "warning"
# encoding metadata (docs/formats.md flag bit 2) that differs: refused, key named
with_meta() { # IN OUT JSON: add a metadata block to a binary CLK file
  python3 - "$1" "$2" "$3" <<'PY'
import hashlib, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
flags = struct.unpack_from("<I", b, 28)[0]
assert not flags & 4
body = b[:-32] if flags & 2 else b
meta = sys.argv[3].encode()
body += struct.pack("<I", len(meta)) + meta
struct.pack_into("<I", body, 28, flags | 4)
if flags & 2:
    body += hashlib.blake2b(bytes(body), digest_size=32).digest()
open(sys.argv[2], "wb").write(body)
PY
}
with_meta "$T/b.bin" "$T/b-names.bin" '{"normalize":"names"}'
with_meta "$T/a.bin" "$T/a-none.bin" '{"normalize":"none"}'
expect_exit 0 "$BL" describe "$T/b-names.bin"
assert_contains "$T/out" '{"normalize":"names"}'
expect_exit 2 "$BL" match -t 0.8 -o "$T/meta.csv" "$T/a.bin" "$T/b-names.bin"
assert_contains "$T/err" "$T/a.bin and $T/b-names.bin were encoded differently: metadata \"normalize\""
assert_missing "$T/meta.csv"
# an absent key means its default ("none"): no refusal
expect_exit 0 "$BL" match -t 0.8 -o "$T/meta2.csv" "$T/a-none.bin" "$T/b.bin"
assert_same "$T/meta2.csv" "$T/m-files.csv"

# --- outputs checked before any work -----------------------------------------
# an output that is one of the inputs is refused and the input kept
cp "$D" "$T/d.csv"
expect_exit 2 "$BL" encode -q --secret-file "$SEC" "$T/d.csv" "$S" "$T/d.csv"
assert_contains "$T/err" "OUTPUT '$T/d.csv' is also an input"
assert_same "$T/d.csv" "$D"
# ... through another name of its folder as well
expect_exit 2 "$BL" encode -q --secret-file "$SEC" "$D" "$S" "$(dirname "$S")/../schemas/$(basename "$S")"
assert_contains "$T/err" "is also an input"
expect_exit 2 "$BL" convert "$T/a.bin" "$T/a.bin"
expect_exit 2 "$BL" eval --truth none -o "$T/m-files.csv" "$T/m-files.csv"
assert_contains "$T/err" "-o '$T/m-files.csv' is also an input"
# two outputs on one file, and an output whose folder is missing: refused
# before matching, so no pairs file is left behind
expect_exit 2 "$BL" match -t 0.8 --svg "$T/same.x" -o "$T/same.x" "$A" "$B"
assert_contains "$T/err" "-o and --svg name the same file"
expect_exit 2 "$BL" match -t 0.8 --svg "$T/nodir/c.svg" -o "$T/rl.csv" "$A" "$B"
assert_contains "$T/err" "cannot write --svg '$T/nodir/c.svg': its folder does not exist"
assert_missing "$T/rl.csv"
# clkhash JSON behind a UTF-8 byte order mark is read as the same CLKs
{ printf '\xef\xbb\xbf'; cat "$A"; } > "$T/a-bom.json"
expect_exit 0 "$BL" match -t 0.8 -o "$T/m-bom.csv" "$T/a-bom.json" "$B"
assert_same "$T/m-bom.csv" "$T/m-files.csv"
# devices are written in place and replace nothing: /dev/null twice is fine
expect_exit 0 "$BL" match -t 0.8 --svg /dev/null -o /dev/null "$A" "$B"
expect_exit 2 "$BL" match -t 0.8 -o "$T" "$A" "$B"
assert_contains "$T/err" "is a folder, not a file"
# a link at the output path is replaced, not its target: allowed
ln -s "$T/a.bin" "$T/link.bin"
expect_exit 0 "$BL" convert --format bin "$T/a.bin" "$T/link.bin"
# a file of the wrong kind is named as such
expect_exit 2 "$BL" encode -q --secret-file "$SEC" "$S" "$D" "$T/x.bin"
assert_contains "$T/err" "is CSV text, not a clkhash schema (JSON): is the order DATA.csv SCHEMA.json OUTPUT?"
expect_exit 2 "$BL" match -t 0.8 "$D" "$B"
assert_contains "$T/err" "$D is CSV text, not CLKs"
expect_exit 2 "$BL" match -t 0.8 --min-probability 0.9 "$A" "$B"
assert_contains "$T/err" "--min-probability is the decision of --model"

# an input that does not exist is an input error everywhere: exit 2, the
# file named (match, train and eval used to exit 1 as for a failing disk)
NO=$T/no-such-file
check_missing() { expect_exit 2 "$@"; assert_contains "$T/err" "$NO"; }
check_missing "$BL" encode -q --secret-file "$SEC" "$NO.csv" "$S" "$T/x.bin"
check_missing "$BL" match -t 0.8 -o "$T/x.csv" "$NO.clk" "$B"
check_missing "$BL" match --model auto -o "$T/x.csv" "$A" "$NO.clk"
check_missing "$BL" train -o "$T/x.json" "$NO.clk" "$B"
check_missing "$BL" eval --truth none "$NO.csv"
check_missing "$BL" eval --data "$NO.csv" --data "$D" "$T/m-files.csv"
check_missing "$BL" eval --truth "$NO.csv" "$T/m-files.csv"
check_missing "$BL" describe "$NO.clk"
check_missing "$BL" convert "$NO.clk" "$T/x.json"
check_missing "$BL" explain --model "$NO.json" "$A:0" "$B:0"
check_missing "$BL" attack --method frequency --plain "$D" --schema "$S" "$NO.clk"
check_missing "$BL" attack --encode-fields "$T/x.bin" --secret-file "$SEC" --schema "$S" "$NO.csv"
check_missing "$BL" schema validate "$NO.json"
assert_missing "$T/x.bin"; assert_missing "$T/x.csv"; assert_missing "$T/x.json"
# a copy of stdin that cannot be made is a runtime failure (exit 1), not
# the user's input error
expect_exit 1 env TMPDIR="$T/no-such-dir" "$BL" match -t 0.8 -o "$T/x.csv" - "$B" < "$A"
assert_contains "$T/err" "cannot create a temporary file"
# a folder as an input is named as one ("empty file" before); a file given
# twice to match or train (a typo in a script) is refused
mkdir -p "$T/adir"
for c in "describe $T/adir" "match -t 0.8 $T/adir $B" "eval $T/adir" "convert $T/adir $T/x.json"; do
  expect_exit 2 "$BL" $c
  assert_contains "$T/err" "'$T/adir' is a folder, not a file"
done
expect_exit 2 "$BL" match -t 0.8 -o "$T/x.csv" "$A" "$B" "$A"
assert_contains "$T/err" "'$A' is given twice (inputs 1 and 3)"
ln -s "$A" "$T/a-link.json"
expect_exit 2 "$BL" match -t 0.8 -o "$T/x.csv" "$A" "$T/a-link.json"
expect_exit 2 "$BL" train -o "$T/x.json" "$A" "$A"
assert_contains "$T/err" "is given twice"
assert_missing "$T/x.csv"; assert_missing "$T/x.json"

finish
