#!/usr/bin/env bash
# tests/chat/test_chat_robust.sh - promise: bad input and crashes. Malformed
# relay requests (non-JSON, bad base64, missing fields), oversized envelopes,
# unknown recipients and tokens get clear HTTP errors; garbage envelopes
# that reach the bank are rejected without an answer and the bot keeps
# serving; a relay killed with SIGKILL mid-conversation loses no envelope it
# acknowledged (the bank, down meanwhile, answers all of them after restart).
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/chat/lib_chat.sh"
start_relay --max-message 4096 || exit 1
start_bank || exit 1
post() { # post TOKEN JSON -> $CODE, body in $T/body
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' --data-binary "$2" "$RURL/v1/send")
}
curl -s -X POST "$RURL/v1/accounts" >"$T/acct.json"
TOK=$(jq -r .token "$T/acct.json")
post "$TOK" 'not json';                       assert_eq "$CODE" 400 "non-JSON"
post "$TOK" '{"to":"testbank"}';              assert_eq "$CODE" 400 "missing body"
post "$TOK" '{"to":"testbank","body":"***"}'; assert_eq "$CODE" 400 "bad base64"
post "$TOK" '{"to":"../etc","body":"AAAA"}';  assert_eq "$CODE" 400 "bad recipient name"
post "$TOK" '{"to":"nosuchbank","body":"AAAA"}'; assert_eq "$CODE" 404 "unknown recipient"
post "$TOK" '{"to":"pUnknownPseudonym00000","body":"AAAA"}'; assert_eq "$CODE" 404 "unknown pseudonym"
post "badtoken" '{"to":"testbank","body":"AAAA"}'; assert_eq "$CODE" 401 "unknown token"
big=$(head -c 6000 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
post "$TOK" "{\"to\":\"testbank\",\"body\":\"$big\"}"; assert_eq "$CODE" 413 "oversized envelope"
huge=$(head -c 200000 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
printf '{"to":"testbank","body":"%s"}' "$huge" >"$T/huge.json"
CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOK" \
  --data-binary @"$T/huge.json" "$RURL/v1/send"); assert_eq "$CODE" 413 "huge upload"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$RURL/v1/messages?after=-1" -H "Authorization: Bearer $TOK")
assert_eq "$CODE" 400 "negative cursor"
CODE=$(curl -s -o /dev/null -w '%{http_code}' "$RURL/v1/banks/nosuch/bundle"); assert_eq "$CODE" 404 "unknown bank"
# garbage that reaches the bank: random bytes, a truncated header, a bad version
for b in "$(head -c 300 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')" "AQI" "CQIAAAAA"; do
  post "$TOK" "{\"to\":\"testbank\",\"body\":\"$b\"}"; assert_eq "$CODE" 200 "relay stores opaque bytes"
done
# the bank sees them within its poll; a loaded machine may take longer
for _ in $(seq 1 100); do
  [ "$(grep -c 'rejected envelope' "$T/bank.log")" -ge 3 ] && break; sleep 0.1
done
assert_eq "$(grep -c 'rejected envelope' "$T/bank.log")" 3 "bank rejected all three"
CODE=$(curl -s -o "$T/poll.json" -w '%{http_code}' "$RURL/v1/messages?after=0&wait=1" -H "Authorization: Bearer $TOK")
assert_eq "$(jq '.messages | length' "$T/poll.json")" 0 "no answer to garbage"
cust a --link C1001 --code LC-7Q4M-XK2P
assert_eq $RC 0 "bank still serves after garbage"
# the customer refuses an oversized message before it leaves
long=$(head -c 20000 /dev/zero | tr '\0' 'a')
cust a --send "$long"
assert_eq $RC 2 "oversized plaintext refused"
assert_contains "$T/err" "--send: the message takes 20002 bytes, one message holds 16336"

# kill -9 mid-conversation: the bank is down, the customer sends N acknowledged
# envelopes (each times out waiting), the relay is killed and restarted
stop_bank
N=5
for i in $(seq 1 $N); do
  CHAT_TIMEOUT=1 cust a --send "agent request $i"
  assert_eq $RC 1 "send $i acknowledged, no answer yet"; assert_contains "$T/err" "no answer"
done
kill -KILL "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=""
start_relay --max-message 4096 || exit 1
start_bank || exit 1
for _ in $(seq 1 100); do
  [ "$(cat "$T/bankstate/agent-queue.jsonl" 2>/dev/null | wc -l)" -ge $N ] && break; sleep 0.1
done
assert_eq "$(wc -l <"$T/bankstate/agent-queue.jsonl")" $N "all acknowledged envelopes survived kill -9"
for i in $(seq 1 $N); do assert_contains "$T/bankstate/agent-queue.jsonl" "agent request $i"; done
# the conversation goes on; the late answers are read and skipped by id
cust a --send balance
assert_eq $RC 0 "after the crash"; assert_contains "$T/out" "4821.37"
# kill -9 the relay while a long-poll is open: the bank reconnects by itself
kill -KILL "$RELAY_PID"; wait "$RELAY_PID" 2>/dev/null; RELAY_PID=""
OLDPORT=$(cat "$T/port")
"$BL" relay --listen "127.0.0.1:$OLDPORT" --data-dir "$T/relay" --verbose 2>>"$T/relay.log" &
RELAY_PID=$!
# the relay is back once it answers; the bank's reconnect is what is tested
for _ in $(seq 1 100); do
  curl -s -o /dev/null "$RURL/v1/banks/testbank/bundle" && break; sleep 0.1
done
sleep 2.5
cust a --send balance
assert_eq $RC 0 "bank reconnected after relay restart"; assert_contains "$T/out" "4821.37"
kill -0 "$BANK_PID" && pass || fail "bank died"
# bad core-system files: exit 2, the file and line named, nothing started
printf 'customer_id,display_name,link_code,balance\nC1,x,y,1\n' >"$T/bad.csv"
"$BL" bank --relay "$RURL" --name b2 --key "$T/bank.key" --state "$T/b2" --accounts "$T/bad.csv" \
  --transactions "$CF/transactions.csv" >"$T/out" 2>"$T/err"
assert_eq $? 2 "bad accounts.csv"; assert_contains "$T/err" "bad.csv:1: 4 fields, expected 5"
printf 'customer_id,date,merchant,amount,currency\n"unterminated\n' >"$T/badtx.csv"
"$BL" bank --relay "$RURL" --name b2 --key "$T/bank.key" --state "$T/b2" --accounts "$CF/accounts.csv" \
  --transactions "$T/badtx.csv" >"$T/out" 2>"$T/err"
assert_eq $? 2 "bad transactions.csv"; assert_contains "$T/err" "badtx.csv"
# a failed bank start leaves no state directory behind
cp "$T/bank.key" "$T/loose.key"; chmod 644 "$T/loose.key"
expect_exit 2 "$BL" bank --relay "$RURL" --name b3 --key "$T/loose.key" --accounts "$CF/accounts.csv" \
  --transactions "$CF/transactions.csv"
assert_missing "$T/loose.key.state"
# a relay store others could read is refused; files are private
mkdir -m 755 "$T/open-relay"
expect_exit 1 timeout 10 "$BL" relay --listen 127.0.0.1:0 --data-dir "$T/open-relay"
assert_contains "$T/err" "has mode 0755"
assert_eq "$(stat -c %a "$T/relay/relay.db")" "600" "relay.db mode"
# a message that is not UTF-8 is named as such (it was "out of memory")
expect_exit 2 "$BL" chat --relay "$RURL" --state "$T/u8" --bank testbank --send $'caf\xe9'
assert_contains "$T/err" "not valid UTF-8"
# off loopback the relay serves plain HTTP only with a warning
timeout 3 "$BL" relay --listen 0.0.0.0:0 --data-dir "$T/relay-any" >/dev/null 2>"$T/any.err"
assert_contains "$T/any.err" "warning: plain HTTP on 0.0.0.0:0"
# a stdin line longer than the buffer is reported, not split into two messages
head -c 5000 /dev/zero | tr '\0' a > "$T/long.txt"; echo >> "$T/long.txt"
expect_exit 2 "$BL" chat --relay "$RURL" --state "$T/ll" --bank testbank < "$T/long.txt"
assert_contains "$T/err" "line 1 of stdin is longer than 4094 bytes: not sent"
check_logs
finish
