#!/usr/bin/env bash
# tests/chat/test_chat_malicious.sh - promise: a malicious relay is detected.
# The relay test double (evil_relay.py) swaps the bank's prekey bundle for
# one of its own (validly signed by another key), breaks the signature,
# replays every envelope, alters envelopes, and re-injects a recorded link
# request after the customer unlinked. The pinned bank key, the ratchet and
# the bank's record of used X3DH ephemerals catch each; nothing is answered
# to forged input and no plaintext leaks.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
start_relay || exit 1
start_proxy || exit 1
start_bank "$PURL" || exit 1
# the "relay's own" bank: a valid bundle under a key the customer never pinned
"$BL" keygen --out "$T/evil.key" >/dev/null 2>&1
"$BL" bank --relay "$RURL" --name evilbank --key "$T/evil.key" --state "$T/evilstate" \
  --accounts "$CF/accounts.csv" --transactions "$CF/transactions.csv" --max-seconds 60 2>"$T/evil.log" &
EVIL_PID=$!
for _ in $(seq 1 100); do grep -q online "$T/evil.log" && break; sleep 0.05; done
export CHAT_URL="$PURL" CHAT_TIMEOUT=3

echo swap >"$T/mode"
cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 1 "swapped prekey bundle refused"
assert_contains "$T/err" "differs from the pinned key"
assert_missing "$T/cust-a/testbank/session.bin"
echo badsig >"$T/mode"
cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 1 "bad prekey signature refused"
assert_contains "$T/err" "does not verify"
# the evil bank never received a link request
assert_eq "$(grep -c 'handled [1-9]' "$T/evil.log")" 0 "evil bank got nothing"

echo replay >"$T/mode"
cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 0 "link through a replaying relay"
cust a --send balance
assert_eq $RC 0 "balance through a replaying relay"; assert_contains "$T/out" "4821.37"
assert_contains "$T/err" "ignored an envelope"          # the duplicate answer
sleep 0.5
assert_contains "$T/bank.log" "rejected envelope"        # the duplicate request
# the bank answered each request once: one freeze recorded for two deliveries
cust a --send freeze
assert_eq "$(wc -l <"$T/bankstate/freeze-requests.jsonl")" 1 "replayed freeze applied once"

echo alter >"$T/mode"
cust a --send balance
assert_eq $RC 1 "altered envelope: no answer"
assert_not_contains "$T/out" "4821.37"
sleep 0.5
assert_contains "$T/bank.log" "authentication failed"

echo pass >"$T/mode"
cust a --send balance
assert_eq $RC 0 "session survives the forgeries"; assert_contains "$T/out" "4821.37"

# the relay starts its own X3DH session under the linked customer's pseudonym
# (it holds the customer's token): the new session is not linked
tok=$(jq -r .token "$T/cust-a/testbank/state.json")
mkdir -p "$T/cust-m/testbank" && chmod 700 "$T/cust-m" "$T/cust-m/testbank"
printf '{"account":"x","token":"%s","bank_ik":"","linked":false,"last_use":0,"cursor":0,"next_id":100}' "$tok" \
  >"$T/cust-m/testbank/state.json"
cust m --send balance
assert_eq $RC 1 "relay's own session under the pseudonym"; assert_contains "$T/out" "not linked"
assert_not_contains "$T/out" "4821.37"
# the customer's session was replaced by the relay's: the customer must re-link
cust a --send balance
assert_not_contains "$T/out" "4821.37"

# after unlink the relay re-injects the recorded prekey (link) message
cust m --unlink
assert_eq $RC 0 "unlink"
# the recorded link request (the first send: the refused links sent nothing)
linkreq=$(sed -n 1p "$T/sends.jsonl")
curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: $(printf '%s' "$linkreq" | jq -r .auth)" \
  -H 'Content-Type: application/json' --data-binary "$(printf '%s' "$linkreq" | jq -r .body)" "$RURL/v1/send" >"$T/code"
assert_eq "$(cat "$T/code")" 200 "relay accepted the re-injected envelope"
sleep 1
assert_contains "$T/bank.log" "replayed prekey message"
assert_eq "$(ls "$T/bankstate/p" | grep -c '\.sess$')" 0 "no session re-created by the replay"
kill "$EVIL_PID" 2>/dev/null; wait "$EVIL_PID" 2>/dev/null
check_logs
finish
