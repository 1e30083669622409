#!/usr/bin/env bash
# A party joins a project only by accepting an invitation (issue 10, finding
# 10): creating a project tells the analyst nothing about which organisations
# exist (an unknown name and a real one answer alike); invited owners cannot
# upload until they accept; a party may decline; operators and auditors are
# never enrolled as data parties; projects awaiting acceptance are not shown
# as active.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
KEY_RD=$(new_key regulator data_owner)   # an auditor organisation with a data-owner key too
start_server || { fail "server start"; finish; }

# ---- no probing by name ----------------------------------------------------------
shape() { jq -c '{code: .status, parties: [.parties[] | del(.invited_as, .last_used)], state, keys: (keys)}' "$T/body"; }
api POST /projects "$KEY_A" "$(with_schema '{"name":"real","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}')"
expect_code 201 "project naming two real organisations"
P=$(jqb .id)
REAL=$(shape)
api POST /projects "$KEY_A" "$(with_schema '{"name":"probe","purpose":"research","parties":["hospital","no-such-org"],"scopes":["name"]}')"
expect_code 201 "an unknown organisation name is not revealed"
PU=$(jqb .id)
assert_eq "$(shape)" "$REAL" "unknown and real names answer alike"
assert_not_contains "$T/body" "$ORG_H"
api POST /projects "$KEY_A" "$(with_schema '{"name":"rogue","purpose":"research","parties":["operator","regulator"],"scopes":["name"]}')"
expect_code 201 "operators and auditors named: answered alike"
PO=$(jqb .id)
assert_eq "$(shape)" "$REAL" "operator/auditor names answer alike"
api GET "/projects/$P" "$KEY_A"
assert_eq "$(jqb .state)" awaiting_acceptance "analyst sees the project awaiting acceptance"
assert_eq "$(jqb '[.parties[]|select(.role=="owner")|.grant]|join(",")')" "invited,invited" "owners invited"
assert_eq "$(jqb '[.parties[]|select(.role=="owner")|.org]|map(select(.!=null))|length')" 0 "no organisation id before acceptance"

# ---- invited, not enrolled -----------------------------------------------------
api GET /projects "$KEY_H"
assert_eq "$(jqb '[.projects[]|select(.id=="'"$P"'")|.state]|join(",")')" awaiting_acceptance "invitee's list: not active"
assert_eq "$(jqb '[.projects[]|select(.id=="'"$P"'")|.your_grant]|join(",")')" invited "invitee's grant is an invitation"
api GET "/projects/$P" "$KEY_H"
expect_code 200 "an invitee may read what it is invited to"
make_encodings "$T/h.json" h 3
consent_all "$KEY_H" h 3 research
api POST "/projects/$P/encodings" "$KEY_H" "@$T/h.json"
expect_problem 403 "has not accepted the invitation" "no upload before acceptance"
expect_audit encodings.upload refused "has not accepted the invitation"
api POST "/projects/$P/accept" "$KEY_A" '{}'
expect_problem 403 "data owner" "the analyst cannot accept for an owner"
api POST "/projects/$P/accept" "$KEY_H" '{}'
expect_code 200 "hospital accepts"
expect_audit project.accept allowed "invitation accepted"
api POST "/projects/$P/accept" "$KEY_H" '{}'
expect_problem 409 "already" "accepting twice"
api GET "/projects/$P" "$KEY_A"
assert_eq "$(jqb .state)" awaiting_acceptance "still waiting for the bank"
assert_eq "$(jqb '[.parties[]|select(.grant=="active" and .role=="owner")|.name]|join(",")')" hospital "accepted party shown by name"
api POST "/projects/$P/runs" "$KEY_A" '{}'
expect_problem 403 "has not accepted its invitation" "no run while an invitation is open"
api POST "/projects/$P/decline" "$KEY_B" '{}'
expect_code 200 "bank declines"
expect_audit project.decline allowed "invitation declined"
api GET "/projects/$P" "$KEY_B"
expect_problem 404 "is visible to organisation bank" "a declining party is not a party"
api GET "/projects/$P" "$KEY_A"
assert_eq "$(jqb .state)" declined "analyst sees the decline"

# ---- operators and auditors are never data parties ---------------------------------
api GET "/projects/$PO" "$KEY_RD"
expect_problem 404 "is visible" "auditor organisation is not enrolled"
api POST "/projects/$PO/accept" "$KEY_RD" '{}'
expect_problem 404 "is visible" "auditor organisation cannot accept"
api GET /projects "$KEY_RD"
assert_eq "$(jqb '.projects|length')" 0 "auditor organisation lists nothing"
api GET "/projects/$PO" "$KEY_A"
assert_eq "$(jqb .state)" awaiting_acceptance "the operator/auditor project never becomes active"

# ---- registering an agreement does not enrol anyone ----------------------------------
api POST /projects "$KEY_A" "$(with_schema '{"name":"ext","purpose":"research","parties":["hospital","bank"],"scopes":["name","date_of_birth"]}')"
PX=$(jqb .id)
api POST "/projects/$PX/agreement" "$KEY_A" "{\"contract_ref\":\"DPA\",\"document_sha256\":\"$(printf '%064d' 3)\"}"
expect_code 200 "agreement registered before anyone accepted"
assert_eq "$(jqb '[.parties[]|select(.role=="owner")|.grant]|join(",")')" "invited,invited" "owners still only invited"
api POST "/projects/$PX/approve" "$KEY_H" "{\"document_sha256\":\"$(printf '%064d' 3)\"}"
expect_problem 403 "has not accepted the invitation" "approval needs acceptance first"
accept_invitations "$PX" "$KEY_H"
api GET "/projects/$PX" "$KEY_H"
assert_eq "$(jqb '[.parties[]|select(.name=="hospital")|.grant]|join(",")')" pending "accepted, approval of the agreement pending"

# ---- both accept: active, and the flow proceeds ---------------------------------------
accept_invitations "$PU" "$KEY_H"
api GET "/projects/$PU" "$KEY_A"
assert_eq "$(jqb .state)" awaiting_acceptance "an unknown name never accepts"
api POST /projects "$KEY_A" "$(with_schema '{"name":"ok","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}')"
P2=$(jqb .id)
accept_invitations "$P2" "$KEY_H" "$KEY_B"
api GET "/projects/$P2" "$KEY_A"
assert_eq "$(jqb .state)" active "active once every party accepted"
api POST "/projects/$P2/encodings" "$KEY_H" "@$T/h.json"
expect_code 201 "upload after acceptance"

stop_server
"$BL" audit verify "$D" >/dev/null 2>&1
assert_eq "$?" 0 "audit chain verifies"
finish
