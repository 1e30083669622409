#!/usr/bin/env bash
# A rolled-back request leaves no file behind (issue 10 c): when the audit
# entry of an upload, a withdrawal, an erasure, a party leaving or a project
# deletion cannot be written (fault hook BLINDLINK_FAULT_AUDIT_FAIL), the
# change is rolled back and so is its file change: no encodings file of a
# refused upload, the old file (byte for byte) after a refused rewrite or
# removal. A crash between a commit and its file change is repaired at the
# next start (the committed file put in place, orphans removed).
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 not installed"; exit 77; }

setup_world
start_server || { fail "server start"; finish; }
api POST /projects "$KEY_A" "$(with_schema '{"name":"rb","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}')"
expect_code 201 "project"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"
consent_all "$KEY_H" h 12 research
consent_all "$KEY_B" b 9 research
make_encodings "$T/h.json" h 12
make_encodings "$T/b.json" b 9
EDIR="$D/encodings/$P"
files() { (cd "$EDIR" 2>/dev/null && ls -A | sort | tr '\n' ' '); }
# with_fault ACTION : restart the server so that ACTION's audit append fails
with_fault() {
  stop_server
  BLINDLINK_FAULT_AUDIT_FAIL=$1 start_server || { fail "restart with fault $1"; finish; }
}

# ---- an upload whose entry fails stores nothing, on disk either ----------------------
with_fault encodings.upload
api POST "/projects/$P/encodings" "$KEY_H" "@$T/h.json"
expect_problem 503 "audit log cannot be written" "upload with a failing audit entry"
assert_eq "$(files)" "" "no encodings file (nor a pending one) after a rolled-back upload"
api GET "/projects/$P/encodings" "$KEY_H"
expect_code 404 "the rolled-back upload is not recorded"

# ---- the real uploads ------------------------------------------------------------------
stop_server
start_server || { fail "restart"; finish; }
api POST "/projects/$P/encodings" "$KEY_H" "@$T/h.json"
expect_code 201 "hospital upload"
api POST "/projects/$P/encodings" "$KEY_B" "@$T/b.json"
expect_code 201 "bank upload"
FILES=$(files)
assert_eq "$(echo "$FILES" | wc -w)" 2 "two encodings files"
FH=$(ls "$EDIR"/*.clk | head -1)
sums() { (cd "$EDIR" && sha256sum ./* | sort); }
SUMS=$(sums)

# ---- rewrites and removals whose entry fails leave the old files ------------------------
with_fault consent.withdraw
api POST /consent/withdraw "$KEY_H" '{"subject":"h001","purposes":["research"]}'
expect_problem 503 "audit log cannot be written" "withdrawal with a failing audit entry"
assert_eq "$(files)" "$FILES" "no pending file after a rolled-back withdrawal"
assert_eq "$(sums)" "$SUMS" "encodings unchanged after a rolled-back withdrawal"
with_fault subject.erasure
api POST /erasure "$KEY_H" '{"subject":"h002"}'
expect_problem 503 "audit log cannot be written" "erasure with a failing audit entry"
assert_eq "$(sums)" "$SUMS" "encodings unchanged after a rolled-back erasure"
with_fault encodings.delete
api DELETE "/projects/$P/encodings" "$KEY_H"
expect_problem 503 "audit log cannot be written" "leaving with a failing audit entry"
assert_eq "$(sums)" "$SUMS" "encodings kept after a rolled-back leave"
with_fault project.delete
api DELETE "/projects/$P" "$KEY_A"
expect_problem 503 "audit log cannot be written" "project deletion with a failing audit entry"
assert_eq "$(sums)" "$SUMS" "encodings kept after a rolled-back project deletion"

# ---- the same requests committed change the files, and runs still verify them -----------
stop_server
start_server || { fail "restart"; finish; }
api GET "/projects/$P/encodings" "$KEY_H"
assert_eq "$(jqb .stored)" 12 "every record still stored"
api POST /consent/withdraw "$KEY_H" '{"subjects":[{"subject":"h001","purposes":["research"]},{"subject":"h003","purposes":["research"]}]}'
expect_code 200 "withdrawal of two subjects (one file rewritten twice in one transaction)"
api POST /erasure "$KEY_H" '{"subject":"h002"}'
expect_code 200 "erasure"
assert_eq "$(files)" "$FILES" "no pending file after committed rewrites"
api GET "/projects/$P/encodings" "$KEY_H"
assert_eq "$(jqb .stored)" 9 "three subjects gone from the stored encodings"
HF=$(ls "$EDIR" | while read -r f; do [ "$(sha256sum "$EDIR/$f" | cut -d' ' -f1)" = "$(jqb .sha256)" ] && echo "$f"; done)
[ -n "$HF" ] && pass || fail "no encodings file has the recorded hash $(jqb .sha256)"
FH=$EDIR/$HF
api POST "/projects/$P/runs" "$KEY_A" '{}'
R=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R" "$KEY_A")" completed "a run verifies the rewritten files"

# ---- a crash between a commit and its file change is repaired at start ------------------
stop_server
ORG=$(basename "$FH" .clk)
REC=$(sqlite3 "$D/blindlink.db" "SELECT sha256 FROM uploads WHERE project_id='$P' AND org_id='$ORG'")
# the committed rewrite is still under its pending name, the old file in place
cp "$FH" "$EDIR/.$ORG.clk.pending"
make_bin "$FH" h 4
# a pending file the store does not record, and a file whose removal was committed
make_bin "$EDIR/.other.clk.pending" x 2
make_bin "$EDIR/gone.clk" y 2
start_server || { fail "restart after the simulated crash"; finish; }
assert_eq "$(sha256sum "$FH" | cut -d' ' -f1)" "$REC" "the committed file was put in place"
assert_eq "$(files)" "$FILES" "stray pending and orphaned files removed"
expect_audit service.cleanup allowed "put 1 committed encodings file"
api POST "/projects/$P/runs" "$KEY_A" '{}'
R=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R" "$KEY_A")" completed "a run after the repair"
stop_server
expect_exit 0 "$BL" audit verify --public-key "$T/audit.pub" "$D"
finish
