#!/usr/bin/env bash
# Hostile and broken input: malformed JSON, wrong types, unknown fields,
# bad ids, bad base64, unknown routes and methods, garbage binary uploads ->
# 4xx problem+json, never a crash. A valid streamed binary upload works.
# Tampering with the audit log (edit, delete, reorder, truncate) is detected.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
start_server || { fail "server start"; finish; }
api POST /projects "$KEY_A" "$(with_schema '{"name":"m","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}')"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"

bad() { # bad METHOD PATH KEY BODY WANT_CODE TEXT LABEL
  api "$1" "$2" "$3" "$4"
  expect_problem "$5" "$6" "$7"
  if [ "$(head -c 300 "$T/body" | jq -r .type 2>/dev/null)" = null ]; then fail "$7: no problem type"; fi
}
bad POST /projects "$KEY_A" '{"name": "x",' 400 "malformed JSON" "truncated JSON"
bad POST /projects "$KEY_A" '[1,2,3]' 400 "JSON object" "array body"
bad POST /projects "$KEY_A" '"str"' 400 "malformed JSON" "string body"
bad POST /projects "$KEY_A" '{"name":"x","name":"y"}' 400 "malformed JSON" "duplicate key"
bad POST /projects "$KEY_A" '{"name":5,"purpose":"research","parties":["hospital","bank"],"scopes":["name"]}' 400 "'name' must be a string" "name wrong type"
bad POST /projects "$KEY_A" '{"name":"x","purpose":"research","parties":"hospital","scopes":["name"]}' 400 "parties" "parties wrong type"
bad POST /projects "$KEY_A" "$(with_schema '{"name":"x","purpose":"research","parties":["hospital","hospital"],"scopes":["name"]}')" 400 "repeats" "repeated party"
# an unknown party name is not refused (that would reveal which names exist):
# it becomes an invitation nobody accepts (tests/service/test_invitations.sh)
bad POST /projects "$KEY_A" '{"name":"x","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"threshold":"high"}' 400 "'threshold' must be a number" "threshold type"
bad POST /projects "$KEY_A" '{"name":"x","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"threshold":1.5}' 400 "threshold" "threshold range"
bad POST /projects "$KEY_A" '{"name":"x","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"retention_days":1e300}' 400 "retention_days" "retention type"
bad POST /projects "$KEY_A" '{"name":"x","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"evil":true}' 400 "'evil' is not allowed" "unknown field"
bad POST /projects "$KEY_A" '{"name":"x\u0000y","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}' 400 "malformed JSON" "NUL in string"
bad POST /projects "$KEY_A" '' 400 "empty" "empty body"
bad POST /consent "$KEY_H" '{"subject":"a b","purposes":["research"]}' 400 "subject key" "bad subject"
bad POST /consent "$KEY_H" '{"subject":"a","purposes":[7]}' 400 "purpose name" "purpose wrong type"
bad POST /consent "$KEY_H" '{"subject":"a","purposes":["no_such_purpose"]}' 400 "controlled purpose list" "unknown purpose in consent"
bad POST /consent "$KEY_H" '{"subjects":[{"subject":"a","purposes":["research"],"x":1}]}' 400 "not allowed" "unknown item field"
bad POST /consent/withdraw "$KEY_H" '{"subject":{"a":1}}' 400 "subject" "withdraw wrong type"
bad POST /erasure "$KEY_H" '{"subject":""}' 400 "subject" "empty erasure subject"
bad POST "/projects/$P/runs" "$KEY_A" '{"threshold":-1}' 400 "threshold" "negative run threshold"
bad POST "/projects/$P/agreement" "$KEY_A" '{"contract_ref":"c","document_sha256":"xyz"}' 400 "exactly 64" "bad sha"
bad POST "/projects/$P/agreement" "$KEY_A" "{\"contract_ref\":\"c\",\"document_sha256\":\"$(printf 'z%.0s' $(seq 64))\"}" 400 "64 hex" "non-hex sha"
bad POST /projects "$KEY_A" '{"name":"\u0001","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}' 400 "control characters" "control char in string"
bad POST "/projects/$P/encodings" "$KEY_H" '{"encodings":[{"subject":"h001","clk":"!!!"}]}' 400 "base64" "bad base64"
bad POST "/projects/$P/encodings" "$KEY_H" "{$FPJ,\"encodings\":[{\"subject\":\"h001\",\"clk\":\"$(random_clk)\"},{\"subject\":\"h002\",\"clk\":\"AAAA\"}]}" 400 "bytes" "mixed lengths"
# the right fingerprint on records of the wrong length: refused, so the
# honest party's upload is not the one turned away later
bad POST "/projects/$P/encodings" "$KEY_H" "{$FPJ,\"encodings\":[{\"subject\":\"h001\",\"clk\":\"AAAA\"}]}" 400 "bits but the schema registered for project" "short records, right fingerprint"
bad POST "/projects/$P/encodings" "$KEY_H" '{"encodings":[]}' 400 "non-empty" "no encodings"
# a registered variant that changes the length (harden=xor halves it): the
# right half-length upload passes the length check (here it then stops at
# consent, which nobody gave)
api POST /projects "$KEY_A" "$(with_schema '{"name":"hx","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}' | jq -c '. + {schema_variant: "harden=xor"}')"
PX=$(jqb .id)
accept_invitations "$PX" "$KEY_H" "$KEY_B"
printf 'subject,token\nhx1,abcdef\nhx2,ghijkl\n' > "$T/hx.csv"
printf 'hx-secret' > "$T/hx.sec"
"$BL" encode -q --secret-file "$T/hx.sec" --format bin --ids subject --harden xor "$T/hx.csv" "$SCHEMA_FILE" "$T/hx.clk"
upload_bin "/projects/$PX/encodings" "$KEY_H" "$T/hx.clk"
assert_eq "$CODE" 403 "hardened upload reaches the consent check"
assert_contains "$T/body" "has consent"
# refusals are audited, and their reasons carry no request text: a broken
# erasure request must not put the subject key in the append-only log
bad POST /erasure "$KEY_H" '{"subject":"p-8817}' 400 "malformed JSON at line 1" "truncated erasure"
bad POST /consent/withdraw "$KEY_H" '{"subject":"p-88' 400 "malformed JSON" "truncated withdrawal"
bad POST "/projects/$P/encodings" "$KEY_H" "{$FPJ,\"encodings\":[{\"subject\":\"h-x991\",\"clk\":}]}" 400 "malformed JSON" "broken element"
if grep -q 'p-88\|h-x991' "$D/audit.log"; then fail "request text in the audit log"; else pass; fi
bad GET /nowhere "$KEY_A" '' 404 "no endpoint" "unknown route"
bad GET "/projects/$P/runs/$(printf '%032d' 0)/status" "$KEY_A" '' 404 "no run" "unknown run"
bad GET "/projects/../../etc/passwd" "$KEY_A" '' 404 "" "path traversal"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $KEY_A" "$URL/projects")
expect_problem 405 "not supported" "unsupported method"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY_H" \
  -H 'Content-Type: text/csv' --data-binary 'a,b' "$URL/projects/$P/encodings")
expect_problem 415 "octet-stream" "unsupported upload type"
head -c 5000 /dev/urandom >"$T/garbage"
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/garbage"
expect_problem 400 "not a valid blindlink binary CLK file" "garbage binary upload"
ls "$D/encodings" | grep -q spool && fail "spool file left behind" || pass

# ---- a subject key twice in one upload: refused whole, named, logged by tag only --------
printf '{%s,"encodings":[' "$FPJ" >"$T/dup.json"
for s in dupkey-a dupkey-b dupkey-c dupkey-b dupkey-c dupkey-a; do
  printf '{"subject":"%s","clk":"%s"},' "$s" "$(random_clk)"
done >>"$T/dup.json"
printf '{"subject":"dupkey-z","clk":"%s"}]}' "$(random_clk)" >>"$T/dup.json"
api POST "/projects/$P/encodings" "$KEY_H" "@$T/dup.json"
expect_problem 400 "duplicate subject key 'dupkey-b': records 2 and 4" "duplicate subject key (JSON)"
assert_eq "$(jqb '.duplicate.subject + " " + (.duplicate.records|map(tostring)|join(","))')" "dupkey-b 2,4" "problem names the key and positions"
expect_audit encodings.upload refused "duplicate subject key (tag "
grep -q 'dupkey-' "$D/audit.log" && fail "subject key written to the audit log" || pass
api GET "/projects/$P/encodings" "$KEY_H"
expect_code 404 "nothing stored after a duplicate"
assert_missing "$D/encodings/$P/$ORG_H.clk"
make_bin_ids "$T/dup.clk" bin-1 bin-2 bin-3 bin-4 bin-5 bin-3
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/dup.clk"
expect_problem 400 "duplicate subject key 'bin-3': records 3 and 6" "duplicate subject key (binary)"
ls "$D/encodings" | grep -q spool && fail "spool file left after a duplicate" || pass

# a valid streamed binary upload
consent_all "$KEY_H" h 50 research h050
make_bin "$T/h.clk" h 50
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/h.clk"
expect_code 201 "binary upload"
assert_eq "$(jqb .stored)" 49 "binary upload stored consented records"
assert_eq "$(jqb .excluded_without_consent)" 1 "binary upload excluded one"
server_alive && pass || fail "server survived hostile input"
stop_server

# ---- audit log tampering ------------------------------------------------------------
"$BL" audit verify "$D" >/dev/null 2>&1
assert_eq "$?" 0 "intact log verifies"
cp "$D/audit.log" "$T/audit.orig"
sed -i '5s/"decision":"allowed"/"decision":"refused"/; 5s/"decision":"refused"/"decision":"allowed"/' "$D/audit.log"
sed -i '7s/"reason":"[^"]*"/"reason":"nothing happened"/' "$D/audit.log"
expect_exit 2 "$BL" audit verify "$D"
assert_contains "$T/err" "audit.log:7: entry seq 7 was modified"
cp "$T/audit.orig" "$D/audit.log"; sed -i '10d' "$D/audit.log"
expect_exit 2 "$BL" audit verify "$D"
assert_contains "$T/err" "deleted"
cp "$T/audit.orig" "$D/audit.log"; { sed -n '1,9p' "$T/audit.orig"; sed -n '11p' "$T/audit.orig"; sed -n '10p' "$T/audit.orig"; sed -n '12,$p' "$T/audit.orig"; } >"$D/audit.log"
expect_exit 2 "$BL" audit verify "$D"
assert_contains "$T/err" "reordered"
cp "$T/audit.orig" "$D/audit.log"; sed -i '$d' "$D/audit.log"
expect_exit 2 "$BL" audit verify "$D"
assert_contains "$T/err" "deleted at the end"
cp "$T/audit.orig" "$D/audit.log"
expect_exit 0 "$BL" audit verify "$D"
expect_exit 2 "$BL" audit
finish
