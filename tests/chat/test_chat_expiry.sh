#!/usr/bin/env bash
# tests/chat/test_chat_expiry.sh - promise: 90 days without use and the link
# expires on both sides (injected clock BL_CHAT_NOW): the bank deletes the
# session keys and the link record, the customer's client deletes its keys
# and says so; use within 90 days keeps the link; re-linking needs a new code.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
D=86400
T0=1800000000
at() { export BL_CHAT_NOW=$1; stop_bank; start_bank || exit 1; }
export BL_CHAT_NOW=$T0
start_relay || exit 1
start_bank || exit 1
cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 0 "link at T0"
at $((T0 + 89 * D))
cust a --send balance
assert_eq $RC 0 "day 89: still linked"; assert_contains "$T/out" "4821.37"
T1=$((T0 + 89 * D))
# 91 days after the last use the bank expires the link by itself ...
at $((T1 + 91 * D))
sleep 0.3
assert_contains "$T/bank.log" "1 link(s) expired after 90 days unused"
assert_eq "$(ls "$T/bankstate/p" | grep -c '\.sess$')" 0 "bank deleted the session keys"
assert_eq "$(ls "$T/bankstate/p" | grep -c '\.link$')" 0 "bank deleted the link"
# ... and so does the client
assert_exists "$T/cust-a/testbank/session.bin"
cust a --send balance
assert_eq $RC 1 "client-side expiry"; assert_contains "$T/err" "expired after 90 days"
assert_missing "$T/cust-a/testbank/session.bin"
assert_eq "$(jq .linked "$T/cust-a/testbank/state.json")" false "client unlinked"
# the old one-time code cannot link again
cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 1 "old code"; assert_contains "$T/out" "already used"
# the bank issues a new code (core system) and the customer links again
sed 's/LC-7Q4M-XK2P/LC-NEW1-2345/' "$CF/accounts.csv" >"$T/accounts2.csv"
export BANK_ACCOUNTS="$T/accounts2.csv"
at $((T1 + 92 * D))
cust a --link C1001 --code LC-NEW1-2345
assert_eq $RC 0 "re-link with a new code"; assert_contains "$T/out" "Hello Alice Example"
cust a --send balance
assert_eq $RC 0 "balance after re-link"; assert_contains "$T/out" "4821.37"
check_logs
finish
