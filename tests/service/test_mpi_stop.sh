#!/usr/bin/env bash
# `blindlink serve --mpi-launch` stopped (SIGTERM) while a run is in its MPI
# stage (issue 15): the launcher's process group and every rank are gone
# when the service has exited, the run's work directory DATA_DIR/mpi/RUN is
# removed, no result is stored, and after a restart the run resumes and
# completes with the result of the same run in process. The ranks are held
# in their MPI stage deterministically by a --mpi-program wrapper that
# waits while a hold file exists before exec'ing blindlink-mpi.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"
MPI=${BL_MPI:-}
if [ -z "$MPI" ] || [ ! -x "$MPI" ] || ! command -v mpirun >/dev/null 2>&1; then
  echo "SKIP: blindlink-mpi or mpirun not available (Open MPI not installed at build time)"
  pass; finish
fi
FX="$BL_FIXTURES/clkhash"
if ldd "$MPI" 2>/dev/null | grep -q libasan; then # as in tests/cli/test_mpi.sh
  export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
fi
LAUNCH="mpirun -n 2 --oversubscribe --allow-run-as-root"
result() { api GET "/projects/$P/runs/$1/result" "$KEY_A"; jq -S 'del(.run_id, .id, .time_started, .time_completed, .times)' "$T/body"; }
# every process of ours whose command line names the run's work directory
# (mpirun, its daemons and the ranks all carry the party files' paths)
leftovers() { pgrep -f -- "$D/mpi/" | grep -v "^$$\$" || true; }
# a process that exists and is not a zombie waiting for init to reap it
alive() { local s; s=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$s" ] && [ "${s#Z}" = "$s" ]; }
nranks() { if [ -s "$T/ranks" ]; then wc -l <"$T/ranks" | tr -d ' '; else echo 0; fi; }

# each rank: its pid and process group, then wait while $T/hold exists
cat >"$T/slowmpi.sh" <<EOF
#!/usr/bin/env bash
echo "\$\$ \$(ps -o pgid= -p \$\$ | tr -d ' ')" >>"$T/ranks"
while [ -e "$T/hold" ]; do sleep 0.1; done
exec "$MPI" "\$@"
EOF
chmod +x "$T/slowmpi.sh"

setup_world
kat_encode
start_server || { fail "server start"; finish; }
kat_project mpistop
kat_consent
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/a.clk"
expect_code 201 "upload a"
upload_bin "/projects/$P/encodings" "$KEY_B" "$T/b.clk"
expect_code 201 "upload b"
api POST "/projects/$P/runs" "$KEY_A" '{}'
R1=$(jqb .run_id)
assert_eq "$(wait_run "$P" "$R1" "$KEY_A")" completed "in-process run"
result "$R1" >"$T/r1.json"
stop_server

# a run held in its MPI stage, then the service stopped
touch "$T/hold"
start_server --mpi-launch "$LAUNCH" --mpi-program "$T/slowmpi.sh" || { fail "server start (mpi)"; finish; }
api POST "/projects/$P/runs" "$KEY_A" '{}'
R2=$(jqb .run_id)
for _ in $(seq 1 300); do [ "$(nranks)" -ge 2 ] && break; sleep 0.1; done
assert_eq "$(nranks)" 2 "both ranks started"
api GET "/projects/$P/runs/$R2/status" "$KEY_A"
assert_eq "$(jqb .state)" running "run in progress during its MPI stage"
[ -d "$D/mpi/$R2" ] && pass || fail "no work directory $D/mpi/$R2 during the MPI stage"
# the launcher (mpirun) leads its own process group
LPG=$(ps -o pgid= -p "$(pgrep -f -o -- "mpirun .*$D/mpi/$R2")" 2>/dev/null | tr -d ' ')
[ -n "$LPG" ] && [ "$LPG" != "$(ps -o pgid= -p $$ | tr -d ' ')" ] && pass ||
  fail "launcher process group not found ($LPG)"
t0=$(date +%s)
stop_server
echo "service stopped in $(($(date +%s) - t0)) s"
[ -n "$LPG" ] && pgrep -g "$LPG" >/dev/null && fail "processes left in the launcher's group: $(pgrep -g "$LPG" | tr '\n' ' ')" || pass
while read -r pid _; do
  alive "$pid" && fail "rank $pid still running after the stop" || pass
done <"$T/ranks"
assert_eq "$(leftovers | wc -l)" 0 "no mpirun or blindlink-mpi process left"
[ -e "$D/mpi/$R2" ] && echo "note: $D/mpi/$R2 left for the next start" || pass
# nothing stored: the run is still 'running' in the store, with no groups
assert_eq "$(sqlite3 "$D/blindlink.db" "SELECT state FROM runs WHERE id='$R2'" 2>&1)" running \
  "the stopped run stays 'running' in the store"
assert_eq "$(sqlite3 "$D/blindlink.db" "SELECT COUNT(*) FROM results WHERE run_id='$R2'" 2>&1)" 0 \
  "no result stored for the stopped run"

# restart: the run resumes (held again in its MPI stage: still no result),
# then completes with the in-process result once the ranks may go on
: >"$T/ranks"
start_server --mpi-launch "$LAUNCH" --mpi-program "$T/slowmpi.sh" || { fail "server restart"; finish; }
for _ in $(seq 1 300); do [ "$(nranks)" -ge 2 ] && break; sleep 0.1; done
assert_eq "$(nranks)" 2 "the resumed run reached its MPI stage"
api GET "/projects/$P/runs/$R2/status" "$KEY_A"
assert_eq "$(jqb .state)" running "resumed run running"
assert_contains "$T/body" "resumed"
api GET "/projects/$P/runs/$R2/result" "$KEY_A"
expect_code 409 "no result while the resumed run computes"
rm -f "$T/hold"
assert_eq "$(wait_run "$P" "$R2" "$KEY_A")" completed "resumed MPI run completes"
result "$R2" >"$T/r2.json"
assert_same "$T/r1.json" "$T/r2.json"
assert_eq "$(ls "$D/mpi" 2>/dev/null | wc -l)" 0 "work directory removed after the resumed run"
stop_server

# a launcher whose job leaves its process group (here mpirun in a session
# of its own under `setsid -w`; Open MPI also gives each local rank a
# group of its own): the stop still leaves no mpirun or rank behind
: >"$T/ranks"
touch "$T/hold"
start_server --mpi-launch "setsid -w $LAUNCH" --mpi-program "$T/slowmpi.sh" || { fail "server start (setsid)"; finish; }
api POST "/projects/$P/runs" "$KEY_A" '{}'
R3=$(jqb .run_id)
for _ in $(seq 1 300); do [ "$(nranks)" -ge 2 ] && break; sleep 0.1; done
assert_eq "$(nranks)" 2 "both ranks started (setsid)"
stop_server
assert_eq "$(leftovers | wc -l)" 0 "no mpirun or rank left after the stop (setsid)"
while read -r pid _; do
  alive "$pid" && fail "rank $pid still running after the stop (setsid)" || pass
done <"$T/ranks"
rm -f "$T/hold"
start_server --mpi-launch "$LAUNCH" --mpi-program "$T/slowmpi.sh" || { fail "server restart (setsid)"; finish; }
assert_eq "$(wait_run "$P" "$R3" "$KEY_A")" completed "resumed run completes (setsid)"
result "$R3" >"$T/r3.json"
assert_same "$T/r1.json" "$T/r3.json"
stop_server
assert_eq "$(leftovers | wc -l)" 0 "no MPI process left at the end"
assert_eq "$(ls "$D/mpi" 2>/dev/null | wc -l)" 0 "no work directory left at the end"
"$BL" audit verify "$D" >/dev/null
assert_eq "$?" 0 "audit chain verifies"
finish
