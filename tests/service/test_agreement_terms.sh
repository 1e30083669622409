#!/usr/bin/env bash
# The agreement's terms bind every run and every approval (issue 10, findings
# 9 and 11): the project's threshold is a floor no run may go below, and an
# approval must quote the registered document's hash without being told it.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
start_server || { fail "server start"; finish; }

# ---- finding 9: the threshold fixed by the agreement is a floor ---------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"floor","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"threshold":0.9}')"
expect_code 201 "create project at threshold 0.9"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"
api POST "/projects/$P/runs" "$KEY_A" '{"name":"loose","threshold":0.01}'
expect_problem 403 "below the threshold 0.900 fixed by the project's agreement" "run below the floor refused"
expect_audit run.create refused "below the threshold"
api GET "/projects/$P/runs" "$KEY_A"
assert_eq "$(jqb '.runs|length')" 0 "no run was queued below the floor"
api POST "/projects/$P/runs" "$KEY_A" '{"name":"stricter","threshold":0.95}'
expect_code 201 "a stricter run is allowed"
assert_eq "$(jqb .threshold)" 0.95 "stricter threshold kept"
api POST "/projects/$P/runs" "$KEY_A" '{"name":"default"}'
expect_code 201 "a run without threshold takes the floor"
assert_eq "$(jqb .threshold)" 0.9 "default = the agreement's threshold"

# ---- finding 11: approval proves knowledge of the signed document --------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"ext","purpose":"research","parties":["hospital","bank"],"scopes":["name","date_of_birth"]}')"
expect_code 201 "create extended project"
PE=$(jqb .id)
accept_invitations "$PE" "$KEY_H" "$KEY_B"
DOC=$(printf 'agreement text v1' | sha256sum | cut -d' ' -f1)
api POST "/projects/$PE/agreement" "$KEY_A" "{\"contract_ref\":\"DPA-1\",\"document_sha256\":\"$DOC\"}"
expect_code 200 "register agreement"
WRONG=$(printf '%064d' 7)
api POST "/projects/$PE/approve" "$KEY_H" "{\"document_sha256\":\"$WRONG\"}"
expect_problem 403 "does not match the registered agreement" "wrong hash refused"
assert_not_contains "$T/body" "$DOC"
api POST "/projects/$PE/approve" "$KEY_H" '{}'
expect_problem 403 "does not match the registered agreement" "missing hash refused"
assert_not_contains "$T/body" "$DOC"
assert_not_contains "$D/audit.log" "$DOC"
api POST "/projects/$PE/approve" "$KEY_H" "{\"document_sha256\":\"$DOC\"}"
expect_code 200 "right hash approves"

stop_server
finish
