#!/usr/bin/env bash
# Issue 10: a bounded soak of the real server on loopback. For about
# BL_SOAK_SECONDS (default 30) honest clients (127.0.0.1) run whole
# linkages (project, consent, JSON and binary uploads, a run, status polls)
# while attackers hold half-sent bodies (127.0.0.3), flood bad keys
# (127.0.0.2) and send bytes that are not UTF-8 (127.0.0.4). Every loop is
# bounded in count and time. Afterwards: every honest request was answered
# 2xx, each one has its own "allowed" audit entry (nothing lost, nothing
# extra), every run completed, `audit verify` holds, and the server stops
# on SIGTERM.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"
trap "" PIPE

SECS=${BL_SOAK_SECONDS:-30}
W=4 # honest workers
setup_world
start_server --http-threads 4 --rate-limit 1000 --timeout 3 --body-timeout 10 --audit-interval 2 \
  || { fail "server start"; finish; }
for w in $(seq 1 $W); do
  eval "KA$w=\$(new_key analytics analyst); KH$w=\$(new_key hospital data_owner); KB$w=\$(new_key bank data_owner)"
done
END=$(( $(date +%s) + SECS ))

# honest WORKER: log "CODE what" per request; at most 6 linkages
honest() {
  local w=$1 ka kh kb i j p rid st log="$T/honest$w.log" ids BODYF="$T/body$w"
  eval "ka=\$KA$w kh=\$KH$w kb=\$KB$w"
  for i in $(seq 1 6); do
    [ "$(date +%s)" -lt "$END" ] || break
    call() { api "$@"; echo "$CODE $1 $2" >>"$log"; }
    call POST /projects "$ka" "$(with_schema "{\"name\":\"soak$w-$i\",\"purpose\":\"research\",\"parties\":[\"hospital\",\"bank\"],\"scopes\":[\"name\"]}")"
    p=$(jqb .id)
    call POST "/projects/$p/accept" "$kh" '{}' # parties join by accepting
    call POST "/projects/$p/accept" "$kb" '{}'
    consent_all "$kh" "h$w$i-" 20 research; echo "$CODE POST /consent" >>"$log"
    consent_all "$kb" "b$w$i-" 20 research; echo "$CODE POST /consent" >>"$log"
    make_encodings "$T/w$w.json" "h$w$i-" 20
    call POST "/projects/$p/encodings" "$kh" "@$T/w$w.json"
    ids=(); for j in $(seq 1 20); do ids+=("$(printf 'b%s%s-%03d' "$w" "$i" "$j")"); done
    make_bin_ids "$T/w$w.clk" "${ids[@]}"
    upload_bin "/projects/$p/encodings" "$kb" "$T/w$w.clk"; echo "$CODE POST upload_bin" >>"$log"
    call POST "/projects/$p/runs" "$ka" '{"name":"r"}'
    rid=$(jqb .run_id)
    for j in $(seq 1 300); do # at most ~30 s per run on a loaded machine
      call GET "/projects/$p/runs/$rid/status" "$ka"
      st=$(jqb .state)
      [ "$st" = completed ] || [ "$st" = failed ] && break
      sleep 0.1
    done
    echo "$st run $p $rid" >>"$T/runs$w.log"
  done
}
# half-sent bodies from 127.0.0.3: waves of 20, each held until dropped
slow() {
  local n=0 k
  while [ "$(date +%s)" -lt "$END" ] && [ $n -lt 20 ]; do
    for k in $(seq 1 20); do
      (printf '{'; sleep 8) | curl -s -m 12 -o /dev/null --interface 127.0.0.3 -X POST \
        -H "Authorization: Bearer $KEY_A" -H 'Content-Type: application/json' -T - "$URL/projects" &
    done
    wait
    n=$((n + 1))
  done
}
# bad keys from 127.0.0.2: bursts of 100
flood() {
  local n=0 urls=() k
  for k in $(seq 1 100); do urls+=(-o /dev/null "$URL/whoami"); done
  while [ "$(date +%s)" -lt "$END" ] && [ $n -lt 200 ]; do
    curl -s -m 20 --interface 127.0.0.2 -H "Authorization: Bearer bl_0000000000000000_bad" \
      -w '%{http_code}\n' "${urls[@]}" >>"$T/flood.codes"
    n=$((n + 1))
  done
}
# not UTF-8 from 127.0.0.4, anonymous and with a valid key
garbage() {
  local n=0
  make_bin_ids "$T/g.clk" "x001" $'x\xff\xfe' "x003"
  while [ "$(date +%s)" -lt "$END" ] && [ $n -lt 300 ]; do
    curl -s -m 10 --interface 127.0.0.4 -o /dev/null "$URL/%ff%c3%28" -o /dev/null "$URL/projects/%e2%82"
    curl -s -m 10 -o /dev/null --interface 127.0.0.4 -H "Authorization: Bearer $KEY_XA" "$URL/projects/%ff/runs/%fe"
    curl -s -m 10 -o /dev/null --interface 127.0.0.4 -X POST -H "Authorization: Bearer $KEY_XA" \
      -H 'Content-Type: application/json' --data-binary $'{"name":"\xff"}' "$URL/projects"
    n=$((n + 1))
  done
}
pids=()
for w in $(seq 1 $W); do honest "$w" & pids+=($!); done
slow & pids+=($!)
flood & pids+=($!)
garbage & pids+=($!)
for p in "${pids[@]}"; do wait "$p"; done
server_alive && pass || fail "server died during the soak"

cat "$T"/honest*.log >"$T/honest.all"
nreq=$(wc -l <"$T/honest.all")
nbad=$(grep -cv '^2[0-9][0-9] ' "$T/honest.all")
nruns=$(cat "$T"/runs*.log | wc -l)
ndone=$(cat "$T"/runs*.log | grep -c '^completed ')
nflood=$(wc -l <"$T/flood.codes"); n429=$(grep -c '^429$' "$T/flood.codes")
echo "# soak ${SECS}s: $nreq honest requests ($nbad not 2xx), $nruns runs ($ndone completed), $nflood bad-key requests ($n429 x 429)"
assert_eq "$nbad" 0 "every honest request answered 2xx"
grep -v '^2[0-9][0-9] ' "$T/honest.all" | head -5 >&2
[ "$nbad" = 0 ] || grep -v '^blindlink serve: listening' "$T/server.log" | sort | uniq -c | sort -rn | head -5 >&2
cat "$T"/runs*.log | grep -v '^completed ' | head -5 >&2
[ "$nruns" -ge "$W" ] && pass || fail "too few linkages completed ($nruns)"
assert_eq "$ndone" "$nruns" "every honest run completed"
# every honest request has exactly one 'allowed' entry under its key
kids=()
for w in $(seq 1 $W); do
  for v in KA KH KB; do eval "api GET /whoami \"\$$v$w\""; kids+=("$(jqb .key)"); done
done
logged=$(jq -s --argjson k "$(printf '%s\n' "${kids[@]}" | jq -R . | jq -s .)" \
  '[.[] | select((.key as $x | $k | index($x)) and .decision=="allowed" and .action!="whoami")] | length' "$D/audit.log")
assert_eq "$logged" "$nreq" "every honest request has its audit entry"
stop_server
expect_exit 0 "$BL" audit verify "$D"
ls "$D/encodings" | grep -q '^spool-' && fail "spool files left after the soak" || pass
finish
