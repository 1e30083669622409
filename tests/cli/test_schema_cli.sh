#!/usr/bin/env bash
# tests/cli/test_schema_cli.sh - `blindlink schema validate|convert|describe`
# and `blindlink convert`: JSON paths in errors, v2 -> v3 byte-identical to
# anonlink's converter, the converted schema encodes identically, describe's
# expected bits, CLK format round trips.
. "$(dirname "$0")/lib.sh"
F=$BL_FIXTURES/clkhash
SEC=$F/secret.txt

for s in "$F"/schemas/*.json; do
  expect_exit 0 "$BL" schema validate "$s"
  assert_contains "$T/out" "valid linkage schema"
done
expect_exit 0 "$BL" schema validate "$F/schemas/schema5-xorFolds-camelcase-ignored.json"
assert_contains "$T/err" "warning: \$.clkConfig.xorFolds"

# every error, with its path
cat > "$T/bad.json" <<'J'
{"version": 3, "clkConfig": {"l": 1000, "kdf": {"type": "HKDF", "hash": "SHA1"}},
 "features": [{"identifier": "a", "format": {"type": "string", "case": "title"},
               "hashing": {"comparison": {"type": "ngram"}, "strategy": {}, "hash": {"type": "blakeHash"}}},
              {"identifier": "b", "format": {"type": "date", "format": "%Y-%Q"},
               "hashing": {"comparison": {"type": "exact"}, "strategy": {"bitsPerToken": 5}, "extra": true}}]}
J
expect_exit 2 "$BL" schema validate "$T/bad.json"
assert_contains "$T/out" "error: \$.clkConfig.kdf: kdf hash 'SHA1' is not one of SHA256, SHA512"
assert_contains "$T/out" "error: \$.features[0].format: case 'title' is not one of upper, lower, mixed"
assert_contains "$T/out" "error: \$.features[0].hashing.comparison: missing required key 'n'"
assert_contains "$T/out" "error: \$.features[0].hashing.strategy: needs 'bitsPerToken' or 'bitsPerFeature'"
assert_contains "$T/out" "error: \$.features[1].format.format: 'Q' is a bad directive in format '%Y-%Q'"
assert_contains "$T/out" "error: \$.features[1].hashing: unknown key 'extra'"
assert_contains "$T/out" "error: \$.clkConfig.l: blakeHash needs l * 2^xor_folds to be a power of two"
assert_contains "$T/out" "invalid (7 errors)"
expect_exit 2 "$BL" schema validate "$T/nope.json"
expect_exit 2 "$BL" schema frobnicate "$T/bad.json"

# convert: v2 -> v3 equals anonlink convert-schema's output, and encodes the same
expect_exit 0 "$BL" schema convert "$F/schemas/schema1-blake-v2.json" "$T/v3.json"
assert_same "$T/v3.json" "$F/schemas/schema1-blake-v2-converted-to-v3.json"
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" "$F/data/people-b.csv" "$T/v3.json" "$T/o.json"
assert_same "$T/o.json" "$F/clks/people-b.schema1-blake-v2.json"
expect_exit 0 "$BL" schema convert "$F/schemas/schema1-blake-v2.json" -
assert_contains "$T/out" '"version": 3'
expect_exit 2 "$BL" schema convert "$T/bad.json" "$T/never.json"
assert_missing "$T/never.json"

# describe
expect_exit 0 "$BL" schema describe "$F/schemas/schema3-mixed-folded.json"
assert_contains "$T/out" "hashed into 1024 bits then XOR-folded 1 time"
assert_contains "$T/out" "Expected bits set per record: about"
assert_contains "$T/out" "positional 2-grams"
expect_exit 0 "$BL" schema describe --avg-length 6 "$F/schemas/schema1-blake.json"
assert_contains "$T/out" "strings average 6 characters"
expect_exit 2 "$BL" schema describe --avg-length x "$F/schemas/schema1-blake.json"

# the estimate is in the right range for the vectors' data (mean popcount of people-a)
if command -v python3 >/dev/null 2>&1; then
  est=$("$BL" schema describe --avg-length 9 "$F/schemas/schema1-blake.json" | sed -n 's/.*about \([0-9]*\) of.*/\1/p')
  mean=$(python3 -c "
import base64, json
c = json.load(open('$F/clks/people-a.schema1-blake.json'))['clks']
print(round(sum(bin(int.from_bytes(base64.b64decode(x), 'big')).count('1') for x in c) / len(c)))")
  python3 -c "import sys; e, m = $est, $mean; sys.exit(0 if 0.6 * m < e < 1.4 * m else 1)" && pass || fail "estimate $est vs mean popcount $mean"
fi

# convert between CLK formats
expect_exit 0 "$BL" convert --format bin "$F/clks/people-a.schema2-doublehash.json" "$T/a.bin"
expect_exit 0 "$BL" convert "$T/a.bin" "$T/a.json"
assert_same "$T/a.json" "$F/clks/people-a.schema2-doublehash.json"
expect_exit 2 "$BL" convert --format xml "$T/a.bin" "$T/x"
expect_exit 2 "$BL" convert "$T/missing.bin" "$T/x"
assert_missing "$T/x"
expect_exit 2 "$BL" convert --ids --format json "$T/a.bin" "$T/x"
# messages name the file, not "schema"; a byte order mark is skipped
printf '{"a": 1} x' > "$T/trail.json"
expect_exit 2 "$BL" schema validate "$T/trail.json"
assert_contains "$T/err" "$T/trail.json:1:"
{ printf '\xef\xbb\xbf'; cat "$F/schemas/schema1-blake.json"; } > "$T/bom.json"
expect_exit 0 "$BL" schema validate "$T/bom.json"
expect_exit 0 "$BL" schema compare "$T/bom.json" "$F/schemas/schema1-blake.json"
# the output of convert is not its input
cp "$F/schemas/schema1-blake.json" "$T/s1.json"
expect_exit 2 "$BL" schema convert "$T/s1.json" "$T/s1.json"
assert_same "$T/s1.json" "$F/schemas/schema1-blake.json"
finish
