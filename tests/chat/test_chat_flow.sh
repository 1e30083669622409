#!/usr/bin/env bash
# tests/chat/test_chat_flow.sh - the scripted C<->C conversation through a real
# relay: opt-in (no link, no answer about any account), link with the one-time
# code, balance, transactions, card freeze, hand-over to an agent, unlink
# (both sides delete the keys), and the code cannot be reused. The same
# conversation runs JS<->C in test_chat_web.sh.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
start_relay || exit 1
start_bank || exit 1

# first contact without a pinned key is refused
"$BL" chat --relay "$RURL" --state "$T/nokey" --bank testbank --send hi >"$T/out" 2>"$T/err"
assert_eq $? 2 "no --bank-key on first contact (usage)"
assert_contains "$T/err" "needs --bank-key"

cust a --send "what is my balance"
assert_eq $RC 1 "unlinked --send"
assert_contains "$T/out" "not linked"
assert_not_contains "$T/out" "4821.37"

cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 0 "link"; assert_contains "$T/out" "Linked. Hello Alice Example"
cust a --send "what is my balance"
assert_eq $RC 0 "balance"; assert_contains "$T/out" "Your balance is 4821.37 EUR."
cust a --send "recent transactions"
assert_eq $RC 0 "transactions"; assert_contains "$T/out" "2026-11-30 Salary Quintessa GmbH 3100.00 EUR"
assert_contains "$T/out" "Velotech Cycles"
cust a --send "please freeze my card"
assert_eq $RC 0 "freeze"; assert_contains "$T/out" "Card freeze requested"
assert_contains "$T/bankstate/freeze-requests.jsonl" '"customer_id":"C1001"'
# interactive: one line per message, one answer per line
printf 'balance\n\nrecent transactions\n' | "$BL" chat --relay "$RURL" --state "$T/cust-a" \
  --bank testbank >"$T/inter.out" 2>"$T/err"
assert_eq $? 0 "interactive"
assert_eq "$(grep -c 'Your balance is 4821.37 EUR.' "$T/inter.out")" 1 "interactive balance"
assert_contains "$T/inter.out" "Recent transactions:"
cust a --send "I want to talk to a human agent"
assert_eq $RC 0 "agent"; assert_contains "$T/out" "human agent will take over"
assert_contains "$T/bankstate/agent-queue.jsonl" '"text":"I want to talk to a human agent"'

# another customer cannot see Alice's account, and gets a different pseudonym
cust b --send "balance"
assert_eq $RC 1 "other customer unlinked"; assert_not_contains "$T/out" "4821.37"
assert_eq "$(ls "$T/bankstate/p" | grep -c '\.sess$')" 2 "one session per pseudonym"

cust a --unlink
assert_eq $RC 0 "unlink"; assert_contains "$T/out" "Unlinked"
assert_missing "$T/cust-a/testbank/session.bin"
assert_eq "$(ls "$T/bankstate/p" | grep -c '\.sess$')" 1 "bank deleted the unlinked session"
cust a --send "balance"
assert_eq $RC 1 "after unlink"; assert_contains "$T/out" "not linked"
# a one-time code links once
cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 1 "code reuse"; assert_contains "$T/out" "already used"
# a second bank sees the same customer (same --state) under another pseudonym
"$BL" keygen --out "$T/other.key" >/dev/null 2>&1
"$BL" bank --relay "$RURL" --name otherbank --key "$T/other.key" --state "$T/otherstate" \
  --accounts "$CF/accounts.csv" --transactions "$CF/transactions.csv" --max-seconds 30 2>"$T/other.log" &
OTHER=$!
for _ in $(seq 1 100); do grep -q online "$T/other.log" && break; sleep 0.05; done
"$BL" chat --relay "$RURL" --state "$T/cust-a" --bank otherbank --bank-key "$T/other.key.pub" \
  --send hello >"$T/out" 2>"$T/err"
assert_eq $? 1 "other bank answers (unlinked)"; assert_contains "$T/out" "not linked"
p1=$(ls "$T/bankstate/p" | sed -n 's/\.link$//p' | sort); p2=$(ls "$T/otherstate/p" | sed -n 's/\.link$//p')
[ -n "$p2" ] && ! printf '%s\n' "$p1" | grep -qxF "$p2" && pass || fail "same pseudonym at two banks"
assert_not_contains "$T/otherstate/p/$p2.link" "C1001"
kill "$OTHER" 2>/dev/null; wait "$OTHER" 2>/dev/null
check_logs
finish
