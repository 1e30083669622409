#!/usr/bin/env bash
# Full flow on a real server: two data owners and an analyst, consent,
# uploads (JSON and streamed binary), a run, results per role, withdrawal
# after the run, GDPR erasure, listing isolation, audit chain verification.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
start_server || { fail "server start"; finish; }

api GET /status ""
expect_code 200 "public status"
api GET /whoami "$KEY_H"
expect_code 200 whoami
assert_eq "$(jqb .role)" data_owner "whoami role"

# ---- project (minimal scopes: no agreement needed) -------------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"readmissions","purpose":"research","parties":["hospital","bank"],"scopes":["name","email"],"result_type":"groups","reveal_scores":true,"threshold":0.9}')"
expect_code 201 "create project"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"
assert_eq "$(jqb .extended_scopes)" false "minimal scopes"

# shared filters: hospital h001..h010 and bank b001..b010 are the same people
for i in $(seq 1 10); do random_clk; echo; done >"$T/shared"
make_encodings "$T/h.json" h 20 "$T/shared"
make_encodings "$T/b.json" b 15 "$T/shared"

# consent: hospital's h020 did not opt in; bank's b015 opted in to advertising only
consent_all "$KEY_H" h 20 research h020
expect_code 200 "hospital consent"
assert_eq "$(jqb .opt_ins)" 19 "hospital opt-ins"
consent_all "$KEY_B" b 14 research
expect_code 200 "bank consent"
api POST /consent "$KEY_B" '{"subject":"b015","purposes":["advertising"]}'
expect_code 200 "bank b015 advertising"

api POST "/projects/$P/encodings" "$KEY_H" "@$T/h.json"
expect_code 201 "hospital upload"
assert_eq "$(jqb .stored)" 19 "hospital stored"
assert_eq "$(jqb .excluded_without_consent)" 1 "hospital excluded"
expect_audit encodings.upload allowed "1 excluded without consent"

api POST "/projects/$P/encodings" "$KEY_H" "@$T/h.json"
expect_problem 409 "already uploaded" "second upload refused"

# the run can be created before the last upload: it waits (queued)
api POST "/projects/$P/runs" "$KEY_A" '{"name":"first"}'
expect_code 201 "create run"
R=$(jqb .run_id)
assert_eq "$(jqb .state)" queued "run waits for uploads"
assert_eq "$(jqb '.current_stage.progress|"\(.absolute)/\(.relative)"')" "1/0.5" "stage 1 counts parties uploaded"

api POST "/projects/$P/encodings" "$KEY_B" "@$T/b.json"
expect_code 201 "bank upload"
assert_eq "$(jqb .stored)" 14 "bank stored"

assert_eq "$(wait_run "$P" "$R" "$KEY_A")" completed "run completes"
assert_eq "$(jqb .groups)" 10 "groups found"
assert_eq "$(jqb .stages)" 3 "stages"
assert_eq "$(jqb '.records.used|join(",")')" "19,14" "records used"
assert_eq "$(jqb '.progress // .current_stage.progress.relative')" 1 "progress complete"

# ---- results per role -------------------------------------------------------
api GET "/projects/$P/runs/$R/result" "$KEY_A"
expect_code 200 "analyst result"
assert_eq "$(jqb '.groups|length')" 10 "analyst sees 10 groups"
assert_eq "$(jqb '[.groups[][]|.[0]]|unique|join(",")')" "0,1" "groups are [party,row]"
assert_eq "$(jqb '[.scores[]|select(.>=0.999)]|length')" 10 "scores shown where allowed"
assert_not_contains "$T/body" "h001"
api GET "/projects/$P/runs/$R/result" "$KEY_H"
expect_code 200 "hospital result"
assert_eq "$(jqb '.matches|length')" 10 "hospital sees its 10 rows"
assert_eq "$(jqb '[.matches[].subject]|sort|join(",")')" \
  "h001,h002,h003,h004,h005,h006,h007,h008,h009,h010" "hospital sees only its own subjects"
assert_not_contains "$T/body" "b00"
assert_eq "$(jqb '[.matches[]|select(.subject=="h007")|.row]|join(",")')" 6 "row = position in the owner's upload"
api GET "/projects/$P/runs/$R/result" "$KEY_B"
assert_eq "$(jqb '[.matches[].subject]|sort|.[0]')" b001 "bank sees its own subjects"
assert_not_contains "$T/body" "h00"
api GET "/projects/$P/encodings" "$KEY_H"
expect_code 200 "upload summary"
assert_not_contains "$T/body" "$(head -1 "$T/shared")"

# ---- listing shows only the caller's projects ----------------------------------
api GET /projects "$KEY_H"
assert_eq "$(jqb '.projects|length')" 1 "hospital lists its project"
api GET /projects "$KEY_X"
assert_eq "$(jqb '.projects|length')" 0 "othercorp lists nothing"

# ---- withdrawal after the run removes the subject everywhere --------------------
api POST /consent/withdraw "$KEY_H" '{"subject":"h003","purposes":["research"]}'
expect_code 200 "withdraw h003"
assert_eq "$(jqb .withdrawn)" 1 "one consent withdrawn"
assert_eq "$(jqb .result_rows_removed)" 1 "result row removed"
api GET "/projects/$P/runs/$R/result" "$KEY_H"
assert_eq "$(jqb '[.matches[].subject]|index("h003")')" null "h003 gone from results"
assert_eq "$(jqb '.matches|length')" 9 "9 rows left"
api GET "/projects/$P/runs/$R/result" "$KEY_A"
assert_eq "$(jqb '.groups|length')" 9 "group of h003 dissolved"
api GET "/projects/$P/encodings" "$KEY_H"
assert_eq "$(jqb .stored)" 18 "h003 removed from stored encodings"
api GET /consent/h003 "$KEY_H"
assert_eq "$(jqb '.history|map(.action)|join(",")')" "opt_in,withdraw" "consent history"
expect_audit consent.withdraw.removal allowed "removed from 1 encoding file(s) and 1 result row(s)"

# a new run no longer sees h003
api POST "/projects/$P/runs" "$KEY_A" '{"name":"second","threshold":0.95}'
R2=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R2" "$KEY_A")" completed "second run"
assert_eq "$(jqb .groups)" 9 "second run: 9 groups"
api GET "/projects/$P/runs/$R2/result" "$KEY_H"
assert_eq "$(jqb '[.matches[]|select(.subject=="h007")|.row]|join(",")')" 6 "upload rows stable after a withdrawal"

# ---- GDPR erasure ---------------------------------------------------------------
api POST /erasure "$KEY_B" '{"subject":"b001"}'
expect_code 200 "erasure"
assert_eq "$(jqb .consent_records_removed)" 1 "erasure removed consent"
api GET /consent/b001 "$KEY_B"
assert_eq "$(jqb '.consent|length')" 0 "no consent left after erasure"
assert_eq "$(jqb '.history|length')" 0 "no history left after erasure"
api GET "/projects/$P/runs/$R2/result" "$KEY_B"
assert_eq "$(jqb '[.matches[].subject]|index("b001")')" null "b001 erased from results"
expect_audit subject.erasure allowed "GDPR erasure"
assert_not_contains "$D/audit.log" '"b001"'

# ---- a data owner leaves: its upload and its rows in results go ------------------------
api DELETE "/projects/$P/encodings" "$KEY_B"
expect_code 200 "bank withdraws its upload"
assert_eq "$(jqb .encodings_deleted)" true "upload deleted"
assert_missing "$D/encodings/$P/$ORG_B.clk"
api GET "/projects/$P/runs/$R2/result" "$KEY_A"
assert_eq "$(jqb '.groups|length')" 0 "no groups left without the bank"
api GET "/projects/$P/encodings" "$KEY_B"
expect_problem 404 "has not uploaded" "upload gone"
api DELETE "/projects/$P/encodings" "$KEY_B"
expect_problem 404 "has not uploaded" "nothing left to delete"

# ---- auditor reads the log; others cannot -----------------------------------------
api GET "/audit?limit=5" "$KEY_R"
expect_code 200 "auditor reads log"
assert_eq "$(jqb '.entries|length')" 5 "five entries"
api GET /audit "$KEY_A"
expect_problem 403 "role auditor" "analyst cannot read the audit log"

# ---- three data owners: N-party groups ----------------------------------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"three","purpose":"treatment_planning","parties":["hospital","bank","othercorp"],"scopes":["name"],"threshold":0.9}')"
expect_code 201 "3-party project"
P3=$(jqb .id)
accept_invitations "$P3" "$KEY_H" "$KEY_B" "$KEY_X"
for i in $(seq 1 5); do random_clk; echo; done >"$T/shared3"
for who in "h:$KEY_H" "b:$KEY_B" "x:$KEY_X"; do
  pre=${who%%:*}; key=${who#*:}
  make_encodings "$T/$pre.3.json" "$pre" 8 "$T/shared3"
  consent_all "$key" "$pre" 8 treatment_planning
  api POST "/projects/$P3/encodings" "$key" "@$T/$pre.3.json"
  expect_code 201 "3-party upload $pre"
done
api POST "/projects/$P3/runs" "$KEY_A" '{}'
R3=$(jqb .run_id)
assert_eq "$(wait_run "$P3" "$R3" "$KEY_A")" completed "3-party run"
api GET "/projects/$P3/runs/$R3/result" "$KEY_A"
assert_eq "$(jqb '[.groups[]|length]|join(",")')" "3,3,3,3,3" "five groups spanning all three parties"
api GET "/projects/$P3/runs/$R3/result" "$KEY_X"
assert_eq "$(jqb '[.matches[].subject]|sort|join(",")')" "x001,x002,x003,x004,x005" "third owner sees its own rows"

stop_server
"$BL" audit verify "$D" >"$T/verify.out" 2>&1
assert_eq "$?" 0 "audit chain verifies"
assert_contains "$T/verify.out" "intact"
[ -n "${KEEP:-}" ] && cp -r "$D" "$KEEP"
finish
