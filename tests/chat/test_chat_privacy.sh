#!/usr/bin/env bash
# tests/chat/test_chat_privacy.sh - promise: the relay's data directory, its
# log and everything on the wire between the parties and the relay carry no
# balance, merchant, customer id, name or link code from a scripted
# conversation. All traffic passes a recording proxy; controls show that
# the same grep finds the values where they belong (the bank's state and
# the customer's screen), so an empty grep means something.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
start_relay || exit 1
start_proxy || exit 1
start_bank "$PURL" || exit 1
export CHAT_URL="$PURL"
: >"$T/screen"
for args in "--send balance" "--link C1001 --code LC-7Q4M-XK2P" "--send balance" \
            "--send recent-transactions" "--send freeze-card" "--send human-agent"; do
  # shellcheck disable=SC2086
  cust a $args; cat "$T/out" >>"$T/screen"
done
cust a --unlink
assert_contains "$T/screen" "4821.37"              # controls: the customer saw them
assert_contains "$T/screen" "Velotech Cycles"
assert_contains "$T/bankstate/agent-queue.jsonl" "C1001"
[ -s "$T/traffic.bin" ] && pass || fail "no traffic recorded"
grep -q "v1/send" "$T/traffic.bin" && pass || fail "traffic lacks the sends"
stop_bank; stop_relay   # flush: the WAL and the database files are all greppable
for secret in 4821.37 "Velotech" "Salary Quintessa" C1001 LC-7Q4M-XK2P "Alice Example"; do
  if grep -raF -- "$secret" "$T/relay" "$T/relay.log" "$T/traffic.bin" >/dev/null; then
    fail "'$secret' found in the relay's data, log or traffic"
  else pass; fi
done
# the customer's pseudonym differs between two banks, and never equals the account id
ls "$T/relay" | grep -q relay.db && pass || fail "relay.db missing"
check_logs
finish
