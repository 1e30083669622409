#!/usr/bin/env bash
# Issue 10, findings 12 and 16: input the service refuses at the door.
# 12. JSON uploads are streamed to disk like binary ones and capped by
#     --max-body (no 64 MiB in-memory buffer); parse errors still name the
#     element;
# 16. JSON endpoints refuse other content types with 415; organisation names
#     with bidirectional overrides or other control characters are refused.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
start_server --max-body 65536 || { fail "server start"; finish; }
api POST /projects "$KEY_A" "$(with_schema '{"name":"i","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}')"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"
consent_all "$KEY_H" h 200 research

# ---- 12 -----------------------------------------------------------------------------
make_encodings "$T/big.json" h 400
size=$(stat -c %s "$T/big.json")
api POST "/projects/$P/encodings" "$KEY_H" "@$T/big.json"
expect_problem 413 "65536" "a $size-byte JSON upload over --max-body 65536"
ls "$D/encodings" | grep -q '^spool-' && fail "spool left after a refused JSON upload" || pass
# an upload in another key order, with white space, errors named by element
printf '{ %s, "encodings" : [ {"clk":"%s", "subject":"h001"} ,\n {"subject":"h002","clk":"!!"} ] }' "$FPJ" "$(random_clk)" >"$T/e.json"
api POST "/projects/$P/encodings" "$KEY_H" "@$T/e.json"
expect_problem 400 "encodings[1].clk" "bad element named in a streamed JSON upload"
printf '{%s,"encodings":[{"subject":"h001","clk":"%s"}], "extra":1}' "$FPJ" "$(random_clk)" >"$T/x.json"
api POST "/projects/$P/encodings" "$KEY_H" "@$T/x.json"
expect_problem 400 "extra" "unknown top-level field in a JSON upload"
printf '{%s,"encodings":[{"subject":"h001","clk":"%s"}' "$FPJ" "$(random_clk)" >"$T/t.json"
api POST "/projects/$P/encodings" "$KEY_H" "@$T/t.json"
expect_problem 400 "JSON" "truncated JSON upload"
make_encodings "$T/ok.json" h 150
api POST "/projects/$P/encodings" "$KEY_H" "@$T/ok.json"
expect_code 201 "a JSON upload under the cap"
assert_eq "$(jqb .stored)" 150 "all consented records stored"
ls "$D/encodings" | grep -q '^spool-' && fail "spool left after a JSON upload" || pass

# ---- 16 -----------------------------------------------------------------------------
BODY=$(with_schema '{"name":"t","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}')
CODE=$(curl -s -m 10 -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY_A" \
  -H 'Content-Type: text/plain' --data-binary "$BODY" "$URL/projects")
expect_problem 415 "application/json" "text/plain body on a JSON endpoint"
CODE=$(curl -s -m 10 -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY_H" \
  --data-binary '{"subject":"h001","purposes":["research"]}' "$URL/consent")
expect_problem 415 "application/json" "form-encoded body on a JSON endpoint"
CODE=$(curl -s -m 10 -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY_A" \
  -H 'Content-Type: application/json; charset=utf-8' --data-binary "$BODY" "$URL/projects")
expect_code 201 "application/json with a charset parameter"
api POST /orgs "$ADMIN" '{"name":"bank\u202Egnp.exe","kind":"bank"}'
expect_problem 400 "U+202E" "organisation name with a right-to-left override"
api POST /orgs "$ADMIN" '{"name":"a\u2066b","kind":"bank"}'
expect_problem 400 "U+2066" "organisation name with a bidi isolate"
api POST /orgs "$ADMIN" '{"name":"line\u2028break","kind":"bank"}'
expect_code 400 "organisation name with a line separator"
api POST /orgs "$ADMIN" '{"name":"Клиника Zürich","kind":"hospital"}'
expect_code 201 "organisation name in other scripts"
expect_exit 2 "$BL" admin --data-dir "$D" org add "$(printf 'x\u202ey')" --kind bank
assert_contains "$T/err" "U+202E"
stop_server
finish
