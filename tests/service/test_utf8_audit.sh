#!/usr/bin/env bash
# Issue 10, findings 2, 3 and 8: what reaches the audit log.
#  2. bytes that are not UTF-8 (in the path, in record ids) are escaped before
#     they reach a JSON reply or the audit log; one such request never blocks
#     anyone else's writes;
#  3. a state change and its audit entry commit together or not at all (an
#     append that fails rolls the change back), and cutting a long value for
#     the log never splits a character;
#  8. record ids and subject keys never reach the audit log; refusals logged
#     before routing keep the full request path.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

PROJECT='{"name":"u","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}'
setup_world
start_server || { fail "server start"; finish; }
api POST /projects "$KEY_A" "$(with_schema "$PROJECT")"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"

# ---- 2: invalid UTF-8 from an anonymous client ---------------------------------------
CODE=$(curl -s -m 10 -o "$T/body" -w '%{http_code}' "$URL/%ff%fe")
expect_code 404 "GET /%ff answers 404"
jq -e '.detail|contains("\\xff")' "$T/body" >/dev/null && pass || fail "404 detail does not escape the invalid byte: $(head -c 200 "$T/body")"
CODE=$(curl -s -m 10 -o "$T/body" -w '%{http_code}' -H 'Authorization: Bearer nope' "$URL/projects/%c3%28/runs")
expect_code 401 "invalid UTF-8 in an unauthenticated path"
api POST /projects "$KEY_A" "$(with_schema "$PROJECT")"
expect_code 201 "writes from others still work after invalid UTF-8 requests"
api POST /consent "$KEY_H" '{"subject":"h001","purposes":["research"]}'
expect_code 200 "consent still recorded"
# record ids that are not UTF-8 in a binary upload
make_bin_ids "$T/bad.clk" "h001" $'h\xff02' "h003"
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/bad.clk"
expect_problem 400 "not valid UTF-8" "binary upload with an id that is not UTF-8"
api POST /projects "$KEY_A" "$(with_schema "$PROJECT")"
expect_code 201 "writes still work after a binary upload with bad ids"
n_bad=0
while IFS= read -r line; do
  printf '%s' "$line" | jq -e . >/dev/null 2>&1 || n_bad=$((n_bad + 1))
done <"$D/audit.log"
assert_eq "$n_bad" 0 "every audit line is valid JSON"
grep -q '/%ff\|\\\\xff\|\\xff' "$D/audit.log" && pass || fail "the escaped path is not in the audit log"

# ---- 3: the '%.100s' cut and one transaction ----------------------------------------
REF="$(printf 'a%.0s' $(seq 1 99))é"
SHA=$(printf 'contract' | sha256sum | cut -d' ' -f1)
api POST "/projects/$P/agreement" "$KEY_A" "{\"contract_ref\":\"$REF\",\"document_sha256\":\"$SHA\"}"
expect_code 200 "a contract_ref whose 100th byte is inside a character"
api GET "/projects/$P" "$KEY_A"
assert_eq "$(jqb .agreement.contract_ref)" "$REF" "agreement recorded"
expect_audit project.agreement allowed "agreement '$(printf 'a%.0s' $(seq 1 99))'"
grep -q 'agreement .a*\\\\x' "$D/audit.log" && fail "the cut split a character (escaped byte in the entry)" || pass
expect_exit 0 "$BL" audit verify "$D"
stop_server
# an append that fails after the change was made rolls the change back
BLINDLINK_FAULT_AUDIT_FAIL=project.agreement start_server || { fail "restart"; finish; }
SHA2=$(printf 'other' | sha256sum | cut -d' ' -f1)
api POST "/projects/$P/agreement" "$KEY_A" "{\"contract_ref\":\"changed\",\"document_sha256\":\"$SHA2\"}"
expect_problem 503 "audit log cannot be written" "a change whose audit entry fails"
stop_server
start_server || { fail "restart"; finish; }
api GET "/projects/$P" "$KEY_A"
assert_eq "$(jqb .agreement.contract_ref)" "$REF" "the change without an audit entry was rolled back"
assert_eq "$(jqb .agreement.document_sha256)" "$SHA" "the hash without an audit entry was rolled back"
expect_exit 0 "$BL" audit verify "$D"

# ---- 8: no subject identifiers in the log; full paths ----------------------------------
P2_BODY='{"name":"u2","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}'
printf '{%s,"encodings":[{"subject":"h001","clk":"%s"},{"subject":"alice.smith@example.com","clk":"%s"}]}' "$FPJ" \
  "$(random_clk)" "$(random_clk)" >"$T/pii.json"
api POST "/projects/$P/encodings" "$KEY_H" "@$T/pii.json"
expect_problem 400 "encodings[1].subject" "an email address as record id"
make_bin_ids "$T/pii.clk" "h001" "bob.jones@example.org"
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/pii.clk"
expect_problem 400 "record 2" "an email address as binary record id"
api POST /consent "$KEY_H" '{"subject":"carol@example.net","purposes":["research"]}'
expect_code 400 "an email address as consent subject"
api GET "/consent/dave@example.com" "$KEY_H"
expect_code 400 "an email address in the consent path"
for pii in alice.smith bob.jones carol@ dave@; do
  grep -q "$pii" "$D/audit.log" && fail "'$pii' reached the audit log" || pass
done
CODE=$(curl -s -m 10 -o "$T/body" -w '%{http_code}' -H 'Authorization: Bearer nope' "$URL/projects/deep/path/here")
expect_code 404 "refused before routing"
jq -e -s 'map(select(.status==404 and (.resource|contains("/api/v1/projects/deep/path/here")))) | length > 0' "$D/audit.log" >/dev/null \
  && pass || fail "a refusal before routing lost its full path: $(tail -1 "$D/audit.log")"
stop_server
expect_exit 0 "$BL" audit verify "$D"
finish
