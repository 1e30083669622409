#!/usr/bin/env bash
# tests/cli/test_examples.sh - the shipped example and benchmark schemas:
# each is a valid linkage schema; the FEBRL ones leave soc_sec_id (a
# near-unique id that makes linkage trivially perfect) out of the encoding;
# a FEBRL-style ", "-separated file encodes with --legacy-strip exactly as
# the same rows written without the blanks.
. "$(dirname "$0")/lib.sh"
S=${BL_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}

for s in "$S"/examples/*.json "$S"/bench/schemas/*.json; do
  expect_exit 0 "$BL" schema validate "$s"
  assert_contains "$T/out" "valid linkage schema"
done

# soc_sec_id must be an ignored feature in both FEBRL schemas
for s in "$S/examples/febrl-schema.json" "$S/bench/schemas/febrl.json"; do
  tr -d ' \n' < "$s" > "$T/flat.json"
  assert_contains "$T/flat.json" '{"identifier":"soc_sec_id","ignored":true}'
  assert_contains "$T/flat.json" '"bitsPerFeature"'
done

# made-up rows in FEBRL's layout (", " separators, empty cells, CRLF)
printf 'rec_id, given_name, surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth, soc_sec_id\r\n' > "$T/a.csv"
printf 'rec-1-org, ann, lee, 12, high street, , hilltown, 0800, nt, 19700101, 1234567\r\n' >> "$T/a.csv"
printf 'rec-2-org, bo, kerr, , mill road, unit 3, dale, 2600, act, 19355004, 7654321\r\n' >> "$T/a.csv"
sed 's/, /,/g' "$T/a.csv" > "$T/b.csv"
SEC="$T/secret"; printf 'example test secret' > "$SEC"
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" --legacy-strip --check-header false \
  "$T/a.csv" "$S/examples/febrl-schema.json" "$T/a.json"
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" \
  "$T/b.csv" "$S/examples/febrl-schema.json" "$T/b.json"
assert_same "$T/a.json" "$T/b.json"
# without stripping, the leading blanks are hashed and the filters differ
expect_exit 0 "$BL" encode --quiet --secret-file "$SEC" --check-header false \
  "$T/a.csv" "$S/examples/febrl-schema.json" "$T/c.json"
if cmp -s "$T/a.json" "$T/c.json"; then fail "unstripped cells encoded like stripped ones"; else pass; fi
finish
