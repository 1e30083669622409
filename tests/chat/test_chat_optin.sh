#!/usr/bin/env bash
# tests/chat/test_chat_optin.sh - promise: opt-in only. Without a link the
# bank answers nothing about any account; a wrong link code is refused and
# counted (per pseudonym and per customer id); five wrong codes lock the
# link attempt for 15 minutes even with the right code, also from another
# pseudonym; the lock lifts with time (injected clock BL_CHAT_NOW).
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
NOW=1800000000
export BL_CHAT_NOW=$NOW
start_relay || exit 1
start_bank || exit 1
for q in balance transactions freeze agent "C1002 balance"; do
  cust x --send "$q"
  assert_eq $RC 1 "unlinked '$q'"; assert_contains "$T/out" "not linked"
  assert_not_contains "$T/out" "127.05"; assert_not_contains "$T/out" "Lumen"
done
assert_missing "$T/bankstate/agent-queue.jsonl"
assert_missing "$T/bankstate/freeze-requests.jsonl"
pseud=$(ls "$T/bankstate/p" | sed -n 's/\.link$//p')
for i in 1 2 3 4; do
  cust x --link C1002 --code WRONG-$i
  assert_eq $RC 1 "wrong code $i"; assert_contains "$T/err" "refused: bad_code"
  assert_eq "$(jq .bad "$T/bankstate/p/$pseud.link")" "$i" "wrong codes counted"
done
# an unknown customer id is refused with the same words (no account oracle)
cust w --link C9999 --code WRONG
assert_eq $RC 1 "unknown id"; assert_contains "$T/out" "customer number or link code is not right"
cust x --link C1002 --code WRONG-5
assert_eq $RC 1 "fifth wrong code"; assert_contains "$T/err" "refused: locked"
cust x --link C1002 --code LC-93HD-PL0W
assert_eq $RC 1 "right code while locked"; assert_contains "$T/out" "locked"
# the lock is on the customer id too: another pseudonym with the right code
cust y --link C1002 --code LC-93HD-PL0W
assert_eq $RC 1 "other pseudonym, locked id"; assert_contains "$T/err" "refused: locked"
# other customers are not affected
cust z --link C1003 --code LC-X1YZ-8RRT
assert_eq $RC 0 "other id links"; assert_contains "$T/out" "Hello Chandra Test"
# two pseudonyms race with the same one-time code: exactly one links
"$BL" chat --relay "$RURL" --state "$T/cust-r1" --bank testbank --bank-key "$T/bank.key.pub" \
  --link C1001 --code LC-7Q4M-XK2P >"$T/r1.out" 2>&1 &
R1=$!
BL_CHAT_CODE=LC-7Q4M-XK2P "$BL" chat --relay "$RURL" --state "$T/cust-r2" --bank testbank \
  --bank-key "$T/bank.key.pub" --link C1001 >"$T/r2.out" 2>&1 &
R2=$!
wait $R1; e1=$?; wait $R2; e2=$?
assert_eq "$((e1 + e2))" 1 "one of two racing links succeeds"
assert_eq "$(cat "$T/r1.out" "$T/r2.out" | grep -c 'Hello Alice Example')" 1 "one link"
assert_eq "$(cat "$T/r1.out" "$T/r2.out" | grep -c 'already used')" 1 "the other: code used"
# 16 minutes later the lock has lifted
stop_bank
export BL_CHAT_NOW=$((NOW + 16 * 60))
start_bank || exit 1
cust x --link C1002 --code LC-93HD-PL0W
assert_eq $RC 0 "after the lockout"; assert_contains "$T/out" "Hello Bob Sample"
cust x --send balance
assert_eq $RC 0 "linked balance"; assert_contains "$T/out" "127.05 EUR"
check_logs
finish
