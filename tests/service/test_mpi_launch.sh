#!/usr/bin/env bash
# `blindlink serve --mpi-launch` (issue 15) with local ranks: a run whose
# candidate step goes through `mpirun -n 2 ... blindlink-mpi` stores the same
# result as the same run in process (and anonlink's greedy_solve); consent
# still applies (a withdrawn subject's group is gone); a rank that dies fails
# the run with a message naming it; a cancel kills the launcher; a launch
# string with shell syntax or an open quote stops the service at start.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"
MPI=${BL_MPI:-}
if [ -z "$MPI" ] || [ ! -x "$MPI" ] || ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIP: blindlink-mpi or mpirun not available (Open MPI not installed at build time)"
  pass; finish
fi
FX="$BL_FIXTURES/clkhash"
GREEDY='."greedy_solve(find_candidate_pairs(threshold=0.8)) [groups sorted]"'
if ldd "$MPI" 2>/dev/null | grep -q libasan; then # as in tests/cli/test_mpi.sh
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
LAUNCH="mpirun -n 2 --oversubscribe --allow-run-as-root"

# the result without run-specific fields
result() { api GET "/projects/$P/runs/$1/result" "$KEY_A"; jq -S 'del(.run_id, .id, .time_started, .time_completed, .times)' "$T/body"; }
new_run() { api POST "/projects/$P/runs" "$KEY_A" '{}'; jqb .run_id; }

setup_world
kat_encode
start_server || { fail "server start"; finish; }
kat_project mpi
kat_consent
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/a.clk"
expect_code 201 "upload a"
upload_bin "/projects/$P/encodings" "$KEY_B" "$T/b.clk"
expect_code 201 "upload b"
R1=$(new_run)
assert_eq "$(wait_run "$P" "$R1" "$KEY_A")" completed "in-process run"
result "$R1" >"$T/r1.json"
stop_server

# the same run through mpirun with 2 local ranks
start_server --mpi-launch "$LAUNCH" --mpi-program "$MPI" || { fail "server start (mpi)"; finish; }
R2=$(new_run)
assert_eq "$(wait_run "$P" "$R2" "$KEY_A")" completed "run through mpirun -n 2"
result "$R2" >"$T/r2.json"
assert_same "$T/r1.json" "$T/r2.json"
assert_eq "$(jq -c '.groups|sort' "$T/r2.json")" "$(jq -c "$GREEDY" "$FX/matching/people-a-vs-b.schema1-blake.anonlink-api.json")" \
  "MPI run's groups equal anonlink greedy_solve"
assert_eq "$(ls "$D/mpi" 2>/dev/null | wc -l)" 0 "work directory removed after the run"
# consent still filters what the ranks see
api POST /consent/withdraw "$KEY_H" '{"subject":"a05"}'
expect_code 200 "a05 withdraws"
R3=$(new_run)
assert_eq "$(wait_run "$P" "$R3" "$KEY_A")" completed "MPI run after a withdrawal"
assert_eq "$(jq -c '.groups|sort' <(result "$R3"))" \
  "$(jq -c "$GREEDY|map(select(. != [[0,4],[1,4]]))" "$FX/matching/people-a-vs-b.schema1-blake.anonlink-api.json")" \
  "withdrawn subject's group absent from the MPI run"
stop_server

# a rank that dies: the run fails and says so
BL_MPI_TEST_KILL_RANK=1 start_server --mpi-launch "$LAUNCH" --mpi-program "$MPI" || { fail "server start (kill)"; finish; }
R4=$(new_run)
assert_eq "$(wait_run "$P" "$R4" "$KEY_A")" failed "run with a dead rank fails"
api GET "/projects/$P/runs/$R4/status" "$KEY_A"
msg=$(jqb .message)
echo "dead-rank run message: $msg"
case "$msg" in
  "MPI matching failed: mpirun "*) pass ;;
  *) fail "unexpected failure message: $msg" ;;
esac
api GET "/projects/$P/runs/$R4/result" "$KEY_A"
[ "$(jqb '.groups|length')" = 0 ] || [ "$(jqb .groups)" = null ] && pass || fail "a failed MPI run stored groups"
stop_server

# cancel: the launcher (here a wrapper that waits before exec'ing mpirun)
# is killed, the run is cancelled
cat >"$T/slow.sh" <<EOF
#!/usr/bin/env bash
echo \$\$ >"$T/launcher.pid"
sleep 60
exec "\$@"
EOF
start_server --mpi-launch "bash '$T/slow.sh' $LAUNCH" --mpi-program "$MPI" || { fail "server start (cancel)"; finish; }
R5=$(new_run)
for _ in $(seq 1 100); do [ -s "$T/launcher.pid" ] && break; sleep 0.1; done
lp=$(cat "$T/launcher.pid" 2>/dev/null)
[ -n "$lp" ] && kill -0 "$lp" 2>/dev/null && pass || fail "launcher not started"
api DELETE "/projects/$P/runs/$R5" "$KEY_A"
expect_code 200 "cancel the MPI run"
for _ in $(seq 1 50); do kill -0 "$lp" 2>/dev/null || break; sleep 0.1; done
kill -0 "$lp" 2>/dev/null && fail "launcher still running after the cancel" || pass
api GET "/projects/$P/runs/$R5/status" "$KEY_A"
assert_eq "$(jqb .state)" cancelled "cancelled MPI run"
for _ in $(seq 1 50); do [ "$(ls "$D/mpi" 2>/dev/null | wc -l)" = 0 ] && break; sleep 0.1; done
assert_eq "$(ls "$D/mpi" 2>/dev/null | wc -l)" 0 "work directory removed after the cancel"
stop_server

# launch strings that a shell would read differently are refused at start
for bad in "mpirun -n 2 'open" "mpirun -n 2 > log" "mpirun -n \$N"; do
  expect_exit 2 "$BL" serve --data-dir "$D" --listen 127.0.0.1:0 --quiet --mpi-launch "$bad"
  assert_contains "$T/err" "--mpi-launch"
done
"$BL" audit verify "$D" >/dev/null
assert_eq "$?" 0 "audit chain verifies"
finish
