#!/usr/bin/env bash
# End to end with real encodings: both parties run `blindlink encode` (binary
# output, CSV id column carried as the subject key), record consent, upload
# through the API; the analyst's groups must equal anonlink 0.15.3's
# greedy_solve result for the same data (tests/fixtures/clkhash/matching),
# and a withdrawn subject's group must disappear from a later run.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"
FX="$BL_FIXTURES/clkhash"
GREEDY='."greedy_solve(find_candidate_pairs(threshold=0.8)) [groups sorted]"'

setup_world
kat_encode
start_server || { fail "server start"; finish; }
kat_project kat
# consent for the CSV ids (a01..a20, b01..b20)
kat_consent
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/a.clk"
expect_code 201 "upload encoded a"
assert_eq "$(jqb .stored)" 20 "all of a stored"
upload_bin "/projects/$P/encodings" "$KEY_B" "$T/b.clk"
expect_code 201 "upload encoded b"
api POST "/projects/$P/runs" "$KEY_A" '{}'
R=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R" "$KEY_A")" completed "run on real encodings"
api GET "/projects/$P/runs/$R/result" "$KEY_A"
assert_eq "$(jq -c '.groups|sort' "$T/body")" "$(jq -c "$GREEDY" "$FX/matching/people-a-vs-b.schema1-blake.anonlink-api.json")" \
  "service groups equal anonlink greedy_solve"
api GET "/projects/$P/runs/$R/result" "$KEY_H"
assert_eq "$(jqb '[.matches[]|select(.subject=="a05")|.row]|join(",")')" 4 "owner row = CSV row"

# a05 withdraws: a later run must not contain its group
api POST /consent/withdraw "$KEY_H" '{"subject":"a05"}'
expect_code 200 "a05 withdraws"
api GET "/projects/$P/runs/$R/result" "$KEY_A"
assert_eq "$(jq -c '.groups|sort' "$T/body")" \
  "$(jq -c "$GREEDY|map(select(. != [[0,4],[1,4]]))" "$FX/matching/people-a-vs-b.schema1-blake.anonlink-api.json")" \
  "withdrawn subject's group removed from the stored result"
api POST "/projects/$P/runs" "$KEY_A" '{}'
R2=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R2" "$KEY_A")" completed "second run"
api GET "/projects/$P/runs/$R2/result" "$KEY_A"
assert_eq "$(jq -c '[.groups[][]|select(.[0]==0)|.[1]]|index(4)' "$T/body")" null "a05 absent from the new run"
stop_server
"$BL" audit verify "$D" >/dev/null
assert_eq "$?" 0 "audit chain verifies"
finish
