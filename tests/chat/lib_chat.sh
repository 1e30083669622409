# tests/chat/lib_chat.sh - helpers for the chat tests: a real `blindlink relay`
# on a free loopback port, a bank bot with the shipped fixtures, and a
# customer command. Source after tests/cli/lib.sh.
CF="$BL_SRC/tests/fixtures/chat"
RELAY_PID=""
BANK_PID=""
RURL=""
trap 'stop_bank; stop_relay_hard; rm -rf "$T"' EXIT

start_relay() {
  rm -f "$T/port"
  "$BL" relay --listen 127.0.0.1:0 --data-dir "$T/relay" --port-file "$T/port" --verbose "$@" \
    2>>"$T/relay.log" &
  RELAY_PID=$!
  for _ in $(seq 1 200); do
    [ -s "$T/port" ] && break
    kill -0 "$RELAY_PID" 2>/dev/null || { echo "relay died:"; cat "$T/relay.log"; return 1; }
    sleep 0.05
  done
  [ -s "$T/port" ] || { echo "relay did not start"; return 1; }
  RURL="http://127.0.0.1:$(cat "$T/port")"
}
stop_relay_hard() {
  [ -n "$RELAY_PID" ] && kill -KILL "$RELAY_PID" 2>/dev/null && wait "$RELAY_PID" 2>/dev/null
  RELAY_PID=""
}
stop_relay() {
  [ -n "$RELAY_PID" ] || return 0
  kill -TERM "$RELAY_PID" 2>/dev/null; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=""
}
# start_bank [URL] : the bot for "testbank" with the fixture CSVs
start_bank() {
  [ -f "$T/bank.key" ] || "$BL" keygen --out "$T/bank.key" >/dev/null 2>&1
  : >"$T/bank.ready"
  "$BL" bank --relay "${1:-$RURL}" --name testbank --key "$T/bank.key" --state "$T/bankstate" \
    --accounts "${BANK_ACCOUNTS:-$CF/accounts.csv}" --transactions "$CF/transactions.csv" 2>>"$T/bank.log" &
  BANK_PID=$!
  for _ in $(seq 1 200); do
    grep -q "online" "$T/bank.log" 2>/dev/null && break
    kill -0 "$BANK_PID" 2>/dev/null || { echo "bank died:"; cat "$T/bank.log"; return 1; }
    sleep 0.05
  done
  : >"$T/bank.log.mark"
}
stop_bank() {
  [ -n "$BANK_PID" ] && kill -TERM "$BANK_PID" 2>/dev/null && wait "$BANK_PID" 2>/dev/null
  BANK_PID=""
}
# cust NAME ARGS... : one customer command (state in $T/cust-NAME), stdout $T/out, stderr $T/err, $RC
cust() {
  local who=$1; shift
  "$BL" chat --relay "${CHAT_URL:-$RURL}" --state "$T/cust-$who" --bank testbank \
    --bank-key "$T/bank.key.pub" --timeout "${CHAT_TIMEOUT:-10}" "$@" >"$T/out" 2>"$T/err"
  RC=$?
}
check_logs() {
  if grep -q "Sanitizer\|runtime error" "$T/relay.log" "$T/bank.log" 2>/dev/null; then
    fail "sanitizer report in a log"; grep -h -A20 "Sanitizer\|runtime error" "$T"/*.log | head -30 >&2
  fi
}
PROXY_PID=""
PURL=""
# start_proxy : the recording / misbehaving relay double in front of $RURL
start_proxy() {
  command -v python3 >/dev/null || { echo "SKIP: python3 missing (scripts/deps.sh)"; exit 77; }
  rm -f "$T/pport"; echo pass >"$T/mode"
  python3 "$BL_SRC/tests/chat/evil_relay.py" "$(cat "$T/port")" "$T/pport" "$T/mode" \
    "$T/traffic.bin" "$T/sends.jsonl" 2>>"$T/proxy.log" &
  PROXY_PID=$!
  for _ in $(seq 1 200); do [ -s "$T/pport" ] && break; sleep 0.05; done
  [ -s "$T/pport" ] || { echo "proxy did not start"; cat "$T/proxy.log"; return 1; }
  PURL="http://127.0.0.1:$(cat "$T/pport")"
}
stop_proxy() { [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null; PROXY_PID=""; }
trap 'stop_bank; stop_proxy; stop_relay_hard; rm -rf "$T"' EXIT
