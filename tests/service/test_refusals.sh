#!/usr/bin/env bash
# Every refusal the service must make, each checked over HTTP and in the audit
# log: wrong/malformed key, a valid key of an organisation that is not a party,
# wrong role, extended scopes without approval and agreement, advertising
# without consent, withdrawn consent, revoked and expired keys, an expired
# grant after 91 days (and re-approval), retention purge, oversized bodies and
# the per-key rate limit.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
KEY_SHORT=$(new_key hospital data_owner --expires-days 1)
start_server || { fail "server start"; finish; }

api POST /projects "$KEY_A" "$(with_schema '{"name":"p1","purpose":"research","parties":["hospital","bank"],"scopes":["name","email","profile_photo"],"retention_days":400}')"
expect_code 201 "create project"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"

# ---- keys -----------------------------------------------------------------
api GET "/projects/$P" "blk_0123456789abcdef_$(printf '%064d' 0)"
expect_problem 401 "unknown API key" "wrong key"
expect_audit project.read refused "unknown API key"
api GET "/projects/$P" "not-a-key"
expect_problem 401 "malformed" "malformed key"
api GET "/projects/$P" ""
expect_problem 401 "no API key" "missing key"
# a valid key whose organisation is not a party
api GET "/projects/$P" "$KEY_X"
expect_problem 404 "is visible to organisation othercorp" "key from another organisation"
expect_audit project.read refused "not a party"
api POST "/projects/$P/runs" "$KEY_XA" '{}'
expect_problem 404 "is visible to organisation othercorp" "analyst of another organisation"
# wrong role inside the project
api POST "/projects/$P/runs" "$KEY_H" '{}'
expect_problem 403 "analyst" "data owner cannot start runs"
api POST /projects "$KEY_H" "$(with_schema '{"name":"x","purpose":"research","parties":["bank","othercorp"],"scopes":["name"]}')"
expect_problem 403 "analyst" "data owner cannot create projects"
api POST /orgs "$KEY_A" '{"name":"rogue"}'
expect_problem 403 "role admin" "analyst cannot add organisations"

# ---- purpose control ----------------------------------------------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"x","purpose":"selling_data","parties":["hospital","bank"],"scopes":["name"]}')"
expect_problem 400 "controlled list" "unknown purpose"
api POST /projects "$KEY_A" "$(with_schema '{"name":"x","purpose":"research","parties":["hospital","bank"],"scopes":["shoe_size"]}')"
expect_problem 400 "not a known scope" "unknown scope"
api POST /purposes "$ADMIN" '{"name":"insurance_pricing","description":"pricing insurance products"}'
expect_code 201 "admin extends the purpose list"
api GET /purposes "$KEY_A"
assert_eq "$(jqb '[.purposes[].name]|index("insurance_pricing") != null')" true "new purpose listed"

# ---- extended scopes need approval from every owner and a signed agreement ---
api POST /projects "$KEY_A" "$(with_schema '{"name":"ext","purpose":"research","parties":["hospital","bank"],"scopes":["name","date_of_birth","posts"]}')"
expect_code 201 "create extended project"
PE=$(jqb .id)
accept_invitations "$PE" "$KEY_H" "$KEY_B"
assert_eq "$(jqb .extended_scopes)" true "extended flagged"
consent_all "$KEY_H" h 5 research
consent_all "$KEY_B" b 5 research
make_encodings "$T/h5.json" h 5
make_encodings "$T/b5.json" b 5
api POST "/projects/$PE/encodings" "$KEY_H" "@$T/h5.json"
expect_problem 403 "approve it first" "upload before approval"
expect_audit encodings.upload refused "approve it first"
api POST "/projects/$PE/approve" "$KEY_H" '{}'
expect_problem 409 "no registered agreement" "approval without agreement"
api POST "/projects/$PE/runs" "$KEY_A" '{}'
expect_problem 403 "no signed agreement" "run without agreement"
expect_audit run.create refused "no signed agreement"
DOC=$(printf 'signed data sharing agreement v1' | sha256sum | cut -d' ' -f1)
api POST "/projects/$PE/agreement" "$KEY_A" "{\"contract_ref\":\"DSA-2026-17\",\"document_sha256\":\"$DOC\"}"
expect_code 200 "register agreement"
api POST "/projects/$PE/approve" "$KEY_H" "{\"document_sha256\":\"$(printf '%064d' 7)\"}"
expect_problem 403 "does not match the registered agreement" "approval of another document"
api POST "/projects/$PE/approve" "$KEY_H" "{\"document_sha256\":\"$DOC\"}"
expect_code 200 "hospital approves"
api POST "/projects/$PE/encodings" "$KEY_H" "@$T/h5.json"
expect_problem 403 "bank has not approved" "upload before every owner approved"
api POST "/projects/$PE/approve" "$KEY_B" "{\"document_sha256\":\"$DOC\"}"
expect_code 200 "bank approves"
api POST "/projects/$PE/encodings" "$KEY_H" "@$T/h5.json"
expect_code 201 "upload after approvals and agreement"

# ---- advertising without consent ----------------------------------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"ads","purpose":"advertising","parties":["hospital","bank"],"scopes":["email"]}')"
PA=$(jqb .id)
accept_invitations "$PA" "$KEY_H" "$KEY_B"
api POST "/projects/$PA/encodings" "$KEY_H" "@$T/h5.json"
expect_problem 403 "consent for purpose 'advertising'" "advertising refused without opt-in"
expect_audit encodings.upload refused "none of the 5 records has consent for purpose 'advertising'"
api POST /consent "$KEY_B" '{"subject":"b002","purposes":["advertising"]}'
api POST "/projects/$PA/encodings" "$KEY_B" "@$T/b5.json"
expect_code 201 "advertising upload keeps only the opted-in subject"
assert_eq "$(jqb .stored)" 1 "one advertising opt-in stored"
assert_eq "$(jqb .excluded_without_consent)" 4 "four excluded"

# ---- withdrawn consent -------------------------------------------------------------
api POST /consent/withdraw "$KEY_H" '{"subject":"h002"}'
expect_code 200 "withdraw all purposes"
api POST "/projects/$P/encodings" "$KEY_H" "@$T/h5.json"
expect_code 201 "upload after withdrawal"
assert_eq "$(jqb .excluded_without_consent)" 1 "withdrawn subject excluded"
# withdrawal between upload and run: the run excludes the subject too
api POST "/projects/$P/encodings" "$KEY_B" "@$T/b5.json"
api POST /consent/withdraw "$KEY_B" '{"subject":"b004","purposes":["research"]}'
api POST "/projects/$P/runs" "$KEY_A" '{"threshold":0.99}'
R=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R" "$KEY_A")" completed "run after withdrawal"
assert_eq "$(jqb '.records.used|join(",")')" "4,4" "withdrawn subjects not matched"

# ---- result shapes follow the agreement ----------------------------------------------
api GET "/projects/$P/runs/$R/result" "$KEY_A"
expect_code 200 "analyst result (groups allowed)"
assert_eq "$(jqb 'has("scores")')" false "no scores unless the agreement reveals them"
api GET "/projects/$P/runs/$R/result" "$KEY_H"
assert_eq "$(jqb '[.matches[]|has("score") or has("group")]|any')" false "owner rows carry no score or group"
api POST /projects "$KEY_A" "$(with_schema '{"name":"rows only","purpose":"research","parties":["hospital","bank"],"scopes":["email"],"result_type":"owner_rows"}')"
PO=$(jqb .id)
accept_invitations "$PO" "$KEY_H" "$KEY_B"
api POST "/projects/$PO/encodings" "$KEY_H" "@$T/h5.json"
api POST "/projects/$PO/encodings" "$KEY_B" "@$T/b5.json"
api POST "/projects/$PO/runs" "$KEY_A" '{}'
RO=$(jqb .run_id)
assert_eq "$(wait_run "$PO" "$RO" "$KEY_A")" completed "owner_rows run"
api GET "/projects/$PO/runs/$RO/result" "$KEY_A"
expect_problem 403 "does not let the analyst see matched groups" "analyst refused groups under owner_rows"
expect_audit run.result refused "does not let the analyst"
api GET "/projects/$PO/runs/$RO/result" "$KEY_B"
expect_code 200 "owner still gets its rows under owner_rows"

# ---- withdrawing every stored subject removes the whole upload ------------------------------
api POST /consent/withdraw "$KEY_B" '{"subject":"b002","purposes":["advertising"]}'
expect_code 200 "withdraw the only advertising subject"
assert_eq "$(jqb .encoding_files_updated)" 1 "upload file removed"
api GET "/projects/$PA/encodings" "$KEY_B"
expect_problem 404 "has not uploaded" "emptied upload is gone"

# ---- administration over the API ------------------------------------------------------------
api POST /orgs "$ADMIN" '{"name":"newclinic","kind":"clinic"}'
expect_code 201 "admin adds an organisation over the API"
api POST /orgs/newclinic/keys "$ADMIN" '{"role":"data_owner","expires_in_days":30}'
expect_code 201 "admin issues a key over the API"
KEY_NEW=$(jqb .key)
api GET /whoami "$KEY_NEW"
assert_eq "$(jqb .org_name)" newclinic "API-issued key works"
api GET /keys "$ADMIN"
assert_not_contains "$T/body" "${KEY_NEW##*_}"
api GET /orgs "$KEY_NEW"
assert_eq "$(jqb '.orgs|length')" 1 "non-admin sees only its own organisation"

# ---- revoked key ----------------------------------------------------------------------
KEY_TMP_LINE=$(admin key add bank data_owner)
KEY_TMP=$(echo "$KEY_TMP_LINE" | head -1)
KID_TMP=$(echo "$KEY_TMP_LINE" | sed -n 's/^key_id=//p')
api GET /whoami "$KEY_TMP"
expect_code 200 "new key works"
api DELETE "/keys/$KID_TMP" "$ADMIN"
expect_code 200 "admin revokes key over the API"
api GET "/projects/$P" "$KEY_TMP"
expect_problem 401 "revoked" "revoked key refused"
expect_audit project.read refused "has been revoked"
api GET /whoami "$KEY_SHORT"
expect_code 200 "short-lived key works today"

# ---- 91 days later: grants expired, short key expired -------------------------------------
stop_server
start_server --clock-offset 91d || { fail "restart +91d"; finish; }
expect_audit grant.expire refused "unused for more than 90 days"
api GET /whoami "$KEY_SHORT"
expect_problem 401 "expired" "expired key refused"
api GET "/projects/$P" "$KEY_A"
expect_problem 403 "unused for more than 90 days" "analyst grant expired"
expect_audit project.read refused "unused for more than 90 days"
api GET "/projects/$P/runs/$R/result" "$KEY_H"
expect_problem 403 "re-approve" "owner grant expired"
api POST "/projects/$P/approve" "$KEY_H" '{}'
expect_code 200 "hospital re-approves"
api GET "/projects/$P" "$KEY_A"
expect_problem 403 "expired" "analyst still expired until every owner re-approved"
api POST "/projects/$P/approve" "$KEY_B" '{}'
expect_code 200 "bank re-approves"
expect_audit project.approve allowed "analyst access re-activated"
api GET "/projects/$P" "$KEY_A"
expect_code 200 "analyst access back after re-approval"

# ---- retention: a 1-day project is purged --------------------------------------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"short","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"retention_days":1}')"
PS=$(jqb .id)
accept_invitations "$PS" "$KEY_H" "$KEY_B"
api POST "/projects/$PS/encodings" "$KEY_H" "@$T/h5.json"
expect_code 201 "upload to short-lived project"
assert_exists "$D/encodings/$PS"
stop_server
start_server --clock-offset 93d || { fail "restart +93d"; finish; }
api GET "/projects/$PS" "$KEY_A"
expect_problem 410 "retention" "project past retention is gone"
assert_missing "$D/encodings/$PS"
expect_audit project.purge allowed "retention period ended"

# ---- body caps --------------------------------------------------------------------------------
head -c 2000000 /dev/zero | tr '\0' 'a' >"$T/big"
api POST /consent "$KEY_H" "@$T/big"
expect_problem 413 "exceeds the cap" "oversized body (declared length)"
expect_audit consent.opt_in refused "exceeds the cap"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY_H" \
  -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$T/big" "$URL/consent")
expect_problem 413 "exceeds the cap" "oversized body (chunked)"
server_alive && pass || fail "server survived oversized bodies"

# ---- rate limit ----------------------------------------------------------------------------------
stop_server
start_server --clock-offset 93d --rate-limit 1 || { fail "restart rate-limited"; finish; }
n429=0
for i in $(seq 1 30); do
  api GET /whoami "$KEY_A"
  [ "$CODE" = 429 ] && n429=$((n429 + 1))
done
[ "$n429" -gt 0 ] && pass || fail "rate limit never answered 429"
expect_audit whoami refused "rate limit"
stop_server

"$BL" audit verify "$D" >/dev/null 2>&1
assert_eq "$?" 0 "audit chain verifies after all refusals"
finish
