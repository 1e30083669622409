#!/usr/bin/env bash
# Robustness of runs: kill -9 during a run then restart (stored data intact,
# audit chain verifies, the run resumes); repeated crashes end in a failed
# state with a reason; cancellation of a running and a queued run; the
# candidate cap gives a clear failed state; a
# tampered encodings file is caught by its checksum.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
# the fault hook holds runs in stage 2 so the kill lands mid-run
BLINDLINK_FAULT_RUN_STALL_MS=60000 start_server || { fail "server start"; finish; }
api POST /projects "$KEY_A" "$(with_schema '{"name":"crash","purpose":"treatment_planning","parties":["hospital","bank"],"scopes":["name"],"threshold":0.9}')"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"
for i in $(seq 1 6); do random_clk; echo; done >"$T/shared"
make_encodings "$T/h.json" h 12 "$T/shared"
make_encodings "$T/b.json" b 9 "$T/shared"
consent_all "$KEY_H" h 12 treatment_planning
consent_all "$KEY_B" b 9 treatment_planning
api POST "/projects/$P/encodings" "$KEY_H" "@$T/h.json"
expect_code 201 "hospital upload"
SHA_H=$(jqb .sha256)
api POST "/projects/$P/encodings" "$KEY_B" "@$T/b.json"
expect_code 201 "bank upload"
api POST "/projects/$P/runs" "$KEY_A" '{}'
R=$(jqb .run_id)
state=""
for i in $(seq 1 400); do # up to 20 s: a loaded machine is slow
  api GET "/projects/$P/runs/$R/status" "$KEY_A"
  state="$(jqb .state)/$(jqb .current_stage.number)"
  [ "$state" = running/2 ] && break
  sleep 0.05
done
assert_eq "$state" running/2 "run is in stage 2 when killed"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""

"$BL" audit verify "$D" >/dev/null 2>&1
assert_eq "$?" 0 "audit chain verifies after kill -9"
assert_eq "$(sha256sum "$D/encodings/$P/$ORG_H.clk" | cut -d' ' -f1)" "$SHA_H" "stored encodings intact"

start_server || { fail "restart"; finish; }
assert_eq "$(wait_run "$P" "$R" "$KEY_A")" completed "interrupted run resumed and completed"
assert_contains "$T/body" "resumed"
assert_eq "$(jqb .groups)" 6 "resumed run found the 6 shared subjects"
assert_eq "$(jqb .attempts)" 2 "second attempt"
expect_audit run.resume allowed "stopped during stage 2"
api GET "/projects/$P/encodings" "$KEY_H"
assert_eq "$(jqb .stored)" 12 "upload survived the crash"

# ---- three crashes in a row: failed with a reason --------------------------------
stop_server
BLINDLINK_FAULT_RUN_STALL_MS=60000 start_server || { fail "restart stall"; finish; }
api POST "/projects/$P/runs" "$KEY_A" '{"name":"doomed"}'
R2=$(jqb .run_id)
for round in 1 2 3; do
  for i in $(seq 1 400); do # up to 20 s: a loaded machine is slow
    api GET "/projects/$P/runs/$R2/status" "$KEY_A"
    [ "$(jqb .state)" = running ] && break
    sleep 0.05
  done
  kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=""
  if [ $round -lt 3 ]; then
    BLINDLINK_FAULT_RUN_STALL_MS=60000 start_server || { fail "restart $round"; finish; }
  fi
done
start_server || { fail "final restart"; finish; }
api GET "/projects/$P/runs/$R2/status" "$KEY_A"
assert_eq "$(jqb .state)" failed "run failed after three interruptions"
assert_contains "$T/body" "interrupted 3 times"
expect_audit run.failed refused "interrupted 3 times"

# ---- cancellation: a running run stops at a stage boundary, a queued one never starts ----
stop_server
BLINDLINK_FAULT_RUN_STALL_MS=60000 start_server || { fail "restart for cancel"; finish; }
api POST "/projects/$P/runs" "$KEY_A" '{"name":"to cancel"}'
RC=$(jqb .run_id)
for i in $(seq 1 400); do # up to 20 s: a loaded machine is slow
  api GET "/projects/$P/runs/$RC/status" "$KEY_A"
  [ "$(jqb .state)/$(jqb .current_stage.number)" = running/2 ] && break
  sleep 0.05
done
api POST "/projects/$P/runs" "$KEY_A" '{"name":"queued behind"}'
RQ=$(jqb .run_id)
assert_eq "$(jqb .state)" queued "second run waits for the single worker"
api DELETE "/projects/$P/runs/$RC" "$KEY_H"
expect_problem 403 "analyst" "a data owner cannot cancel runs"
api DELETE "/projects/$P/runs/$RC" "$KEY_XA"
expect_code 404 "another organisation's analyst cannot cancel"
api DELETE "/projects/$P/runs/$(printf '%032d' 0)" "$KEY_A"
expect_problem 404 "no run" "cancel an unknown run"
api DELETE "/projects/$P/runs/$RQ" "$KEY_A"
expect_code 200 "cancel the queued run"
assert_eq "$(jqb .state)" cancelled "queued run cancelled"
expect_audit run.cancel allowed "run cancelled (was queued)"
api DELETE "/projects/$P/runs/$RC" "$KEY_A"
expect_code 200 "cancel the running run"
assert_eq "$(jqb .state)" cancelled "running run cancelled"
expect_audit run.cancel allowed "run cancelled (was running; the worker stops"
stopped=0
for i in $(seq 1 400); do # up to 20 s: a loaded machine is slow
  jq -e -s --arg r "project/$P/run/$RC" 'map(select(.action=="run.cancelled" and .resource==$r)) | length > 0' \
    "$D/audit.log" >/dev/null && { stopped=1; break; }
  sleep 0.05
done
assert_eq "$stopped" 1 "the worker noticed the cancellation"
expect_audit run.cancelled allowed "stopped during stage 2 after the analyst cancelled it"
api DELETE "/projects/$P/runs/$RC" "$KEY_A"
expect_problem 409 "is cancelled; only queued or running" "cancel twice"
api GET "/projects/$P/runs/$RC/result" "$KEY_A"
expect_problem 409 "cancelled" "no result for a cancelled run"
api GET "/projects/$P/runs/$RQ/status" "$KEY_A"
assert_eq "$(jqb .state)/$(jqb .attempts)" cancelled/0 "the cancelled queued run never started"
assert_eq "$(jq -s --arg r "project/$P/run/$RQ" 'map(select(.action=="run.start" and .resource==$r))|length' "$D/audit.log")" 0 "no run.start for the queued run"

# ---- candidate cap ---------------------------------------------------------------
stop_server
start_server --max-candidates 3 || { fail "restart capped"; finish; }
api GET "/projects/$P/runs/$RC/status" "$KEY_A"
assert_eq "$(jqb .state)" cancelled "a cancelled run stays cancelled after a restart"
# 6 shared subjects at the project's threshold: more candidates than the cap
api POST "/projects/$P/runs" "$KEY_A" '{"name":"too many"}'
R3=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R3" "$KEY_A")" failed "cap exceeded ends in failed"
assert_contains "$T/body" "candidate cap exceeded"
api GET "/projects/$P/runs/$R3/result" "$KEY_A"
expect_problem 409 "failed" "no result for a failed run"
server_alive && pass || fail "server alive after cap"

# ---- a tampered encodings file is refused by its checksum ----------------------------
printf '\x01' | dd of="$D/encodings/$P/$ORG_B.clk" bs=1 seek=70 conv=notrunc 2>/dev/null
api POST "/projects/$P/runs" "$KEY_A" '{"name":"tampered"}'
R4=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R4" "$KEY_A")" failed "tampered file fails the run"
assert_contains "$T/body" "checksum"
stop_server
"$BL" audit verify "$D" >/dev/null 2>&1
assert_eq "$?" 0 "audit chain verifies at the end"
finish
