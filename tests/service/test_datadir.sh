#!/usr/bin/env bash
# Issue 10, findings 5, 6 and 13: the data directory on disk.
#  5. spool files left by a crash during an upload are removed at start;
#  6. the directory is 0700 and every file in it 0600 whatever the umask, and
#     the server refuses a directory others can read unless --allow-shared-dir;
# 13. an erased subject key is gone from the database files, the WAL included.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

umask 022
setup_world
start_server || { fail "server start"; finish; }
api POST /projects "$KEY_A" "$(with_schema '{"name":"d","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}')"
P=$(jqb .id)
accept_invitations "$P" "$KEY_H" "$KEY_B"

# ---- 13: erasure leaves no copy in the WAL ---------------------------------------------
CANARY=erasecanary7Q
consent_all "$KEY_H" h 20 research
api POST /consent "$KEY_H" "{\"subject\":\"$CANARY\",\"purposes\":[\"research\"]}"
ids=(); for i in $(seq 1 20); do ids+=("$(printf 'h%03d' "$i")"); done
make_bin_ids "$T/h.clk" "${ids[@]}" "$CANARY"
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/h.clk"
expect_code 201 "upload with the canary subject"
api POST /erasure "$KEY_H" "{\"subject\":\"$CANARY\"}"
expect_code 200 "erasure"
for f in "$D"/blindlink.db "$D"/blindlink.db-wal "$D"/encodings/"$P"/*; do
  [ -e "$f" ] || continue
  grep -aq "$CANARY" "$f" && fail "erased subject key still in $(basename "$f")" || pass
done

# ---- 6: permissions ------------------------------------------------------------------
perm() { stat -c %a "$1"; }
assert_eq "$(perm "$D")" 700 "data directory mode"
assert_eq "$(perm "$D/encodings")" 700 "encodings directory mode"
assert_eq "$(perm "$D/encodings/$P")" 700 "project directory mode"
for f in "$D"/blindlink.db "$D"/blindlink.db-wal "$D"/blindlink.db-shm "$D"/audit.log "$D"/encodings/"$P"/*.clk; do
  [ -e "$f" ] || continue
  assert_eq "$(perm "$f")" 600 "mode of $(basename "$f")"
done
stop_server
chmod 755 "$D"
expect_exit 1 timeout 10 "$BL" serve --data-dir "$D" --listen 127.0.0.1:0 --quiet
assert_contains "$T/err" "allow-shared-dir"
start_server --allow-shared-dir || fail "--allow-shared-dir starts on a 0755 directory"
stop_server
chmod 700 "$D"
# a directory created by someone else with a lax mode, bootstrapped by the admin CLI
mkdir -m 755 "$T/shared"
"$BL" admin --data-dir "$T/shared" bootstrap op >/dev/null 2>&1
for f in "$T"/shared/blindlink.db "$T"/shared/audit.log; do
  assert_eq "$(perm "$f")" 600 "admin bootstrap: mode of $(basename "$f")"
done

# ---- 5: stale spools after a crash ----------------------------------------------------
start_server || { fail "restart"; finish; }
api POST /consent "$KEY_B" '{"subject":"b001","purposes":["research"]}'
ids=(); for i in $(seq 1 4000); do ids+=("$(printf 'b%04d' "$i")"); done
make_bin_ids "$T/b.clk" "${ids[@]}"
curl -s -m 60 -o /dev/null --limit-rate 50k -X POST -H "Authorization: Bearer $KEY_B" \
  -H 'Content-Type: application/octet-stream' --data-binary "@$T/b.clk" "$URL/projects/$P/encodings" &
CURL_PID=$!
for _ in $(seq 1 100); do
  ls "$D/encodings" | grep -q '^spool-' && break
  sleep 0.05
done
sleep 0.3
ls "$D/encodings" | grep -q '^spool-' && pass || fail "no spool file during the slow upload"
stop_server_hard
kill "$CURL_PID" 2>/dev/null; wait "$CURL_PID" 2>/dev/null
ls "$D/encodings" | grep -q '^spool-' && pass || fail "the crash left no spool file (test precondition)"
start_server || { fail "restart after the crash"; finish; }
ls "$D/encodings" | grep -q '^spool-' && fail "stale spool file kept after restart" || pass
expect_audit service.cleanup allowed "spool"
stop_server
expect_exit 0 "$BL" audit verify "$D"
finish
