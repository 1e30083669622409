#!/usr/bin/env bash
# tests/chat/test_chat_queue.sh - the relay's store-and-forward limits: an
# envelope older than --ttl is never delivered, and a mailbox holds at most
# --queue-cap envelopes (429 beyond; the sender learns it was not stored).
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
start_relay --ttl 1 --queue-cap 3 || exit 1
start_bank || exit 1
stop_bank                       # registered and published, now offline
for i in 1 2 3; do
  CHAT_TIMEOUT=1 cust a --send "agent ttl $i"
  assert_contains "$T/err" "no answer"
done
CHAT_TIMEOUT=1 cust a --send "agent four"
assert_eq $RC 1 "queue full"; assert_contains "$T/err" "relay answered 429"
sleep 2.2                       # past the 1 s TTL
start_bank || exit 1
sleep 1.5
assert_missing "$T/bankstate/agent-queue.jsonl"
assert_not_contains "$T/bank.log" "rejected"
check_logs
finish
