#!/usr/bin/env bash
# The walkthrough of docs/service.md is run as written (issue 11): every
# ```sh block of its "Walkthrough with curl" section, except those marked
# <!-- not run -->, in order, in one shell, against a real server, with the
# input files shipped in docs/examples/service. Only the address
# (127.0.0.1:8080) and the data directory (/srv/bl) are replaced. Then the
# answers are checked: the run id from the run response, thresholds echoed
# as written (0.85), one time format (RFC 3339, UTC) in every API time
# field, the groups before and after withdrawal and erasure, and the
# auditor key issued before it is used.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

DOC="$BL_SRC/docs/service.md"
W="$T/walk"
mkdir -p "$W"
ln -s "$BL_SRC/docs" "$W/docs" # the commands run from the repository's root
cp "$T/audit.pub" "$W/audit.pub"
ADMIN=$(admin bootstrap operator 2>/dev/null | head -1)
start_server || { fail "server start"; finish; }
PORT=$(cat "$T/port")

# ---- the documented commands ------------------------------------------------------------
awk '/^## Walkthrough with curl/ {on = 1; next} on && /^## / {exit}
     on && /^<!-- not run -->/ {skip = 1; next}
     on && /^```sh$/ {inblk = 1; n++; if (!skip) print "# ---- block " n; next}
     on && inblk && /^```$/ {inblk = 0; skip = 0; next}
     on && inblk && !skip {print}' "$DOC" >"$T/blocks.sh"
nblocks=$(grep -c '^# ---- block' "$T/blocks.sh")
[ "$nblocks" -ge 8 ] && pass || fail "only $nblocks runnable blocks found in the walkthrough"
{
  echo 'set -euo pipefail'
  printf 'blindlink() { %q "$@"; }\n' "$BL"
  sed -e "s|127\.0\.0\.1:8080|127.0.0.1:$PORT|g" -e "s|/srv/bl|$D|g" "$T/blocks.sh"
  echo 'declare -p P R H B A AUDITOR >vars.sh'
} >"$W/walk.sh"
if (cd "$W" && bash walk.sh >walk.out 2>walk.err); then pass; else
  fail "the walkthrough stopped: $(tail -5 "$W/walk.err")"
  cat "$W/walk.out" >&2
  finish
fi
. "$W/vars.sh"

# ---- its answers ------------------------------------------------------------------------
RFC='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
# check_times FILE LABEL : every time field is RFC 3339 UTC (or null), and there is one
check_times() {
  local bad n
  n=$(jq '[.. | objects | to_entries[] | select(.key | test("^time|_at$|^created$|_until$|^expires$|^revoked$|^last_used$"))] | length' "$1")
  bad=$(jq -c --arg re "$RFC" '[.. | objects | to_entries[] | select(.key | test("^time|_at$|^created$|_until$|^expires$|^revoked$|^last_used$")) | select(.value != null and ((.value | type) != "string" or (.value | test($re) | not)))]' "$1")
  if [ "$n" -gt 0 ] && [ "$bad" = "[]" ]; then pass; else fail "$2: times not RFC 3339 ($n fields): $bad"; fi
}
grep -q '"threshold":0.85[,}]' "$W/project.out" && pass ||
  fail "project threshold not echoed as written: $(grep -o '"threshold":[^,]*' "$W/project.out")"
assert_eq "$(jq -r .minimisation "$W/project.out")" verified "the walkthrough's project verifies minimisation"
check_times "$W/project.out" "project"
assert_eq "${#R}" 32 "the run id comes from the run response"
assert_eq "$(jq -r .state "$W/status.out")" completed "the walkthrough's run completed"
grep -q '"threshold":0.85[,}]' "$W/status.out" && pass || fail "run threshold not echoed as written"
check_times "$W/status.out" "run status"
assert_contains "$W/walk.out" '"opt_ins":9,"recorded_at":"'
assert_contains "$W/walk.out" '{"received":8,"stored":7,"excluded_without_consent":1,"nbits":1024}'
assert_contains "$W/walk.out" '{"received":7,"stored":6,"excluded_without_consent":1,"nbits":1024}'
assert_contains "$W/walk.out" '[[[0,0],[1,0]],[[0,1],[1,2]],[[0,2],[1,1]],[[0,4],[1,4]],[[0,5],[1,5]]]'
assert_contains "$W/walk.out" '{"withdrawn":1,"encoding_files_updated":1,"result_rows_removed":1}'
assert_contains "$W/walk.out" '[[[0,2],[1,1]],[[0,4],[1,4]],[[0,5],[1,5]]]'
assert_contains "$W/walk.out" '"reason":"stored 7 of 8 records; 1 excluded without consent for purpose research"'
# the auditor key was issued before its first use, in the same block
awk '/AUDITOR=/ {k = NR} /Bearer \$AUDITOR/ && !u {u = NR} END {exit !(k && u && k < u)}' "$T/blocks.sh" &&
  pass || fail "the auditor key is used before it is issued"

# ---- one time format across the API ------------------------------------------------------
CODE=$(curl -s -o "$T/body" -w '%{http_code}' "$URL/status")
check_times "$T/body" "/status"
for ep in "/projects/$P" /projects "/projects/$P/encodings" "/projects/$P/runs" "/projects/$P/runs/$R/status"; do
  key=$A
  [ "$ep" = "/projects/$P/encodings" ] && key=$H
  api GET "$ep" "$key"
  check_times "$T/body" "GET $ep"
done
api GET /consent/p-8812 "$H"
check_times "$T/body" "consent of a subject"
assert_eq "$(jqb '[.. | objects | select(has("withdrawn_at"))] | length > 0')" true "withdrawal time shown"
api GET /keys "$ADMIN"
check_times "$T/body" "key list"
api GET "/audit?after=0&limit=5" "$AUDITOR"
check_times "$T/body" "audit entries"
# a threshold with more digits than 15 still reads back as the same number
api POST "/projects/$P/runs" "$A" '{"threshold":0.85000000000000009}'
expect_code 201 "a run with a 17-digit threshold"
RR=$(jqb .run_id)
api GET "/projects/$P/runs/$RR/status" "$A"
assert_eq "$(jq -r '.threshold == 0.85000000000000009' "$T/body")" true "17-digit threshold round-trips"
stop_server
finish
