#!/usr/bin/env bash
# `blindlink admin`, `blindlink serve` and `blindlink audit` as command-line
# tools: bootstrap once, keys printed once and never listed, revocation from
# the CLI while the server runs, usage errors (exit 2) and runtime failures
# (exit 1) with clear messages.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

expect_exit 0 "$BL" admin --data-dir "$D" bootstrap operator
KEY=$(head -1 "$T/out")
assert_contains "$T/out" "key_id="
assert_contains "$T/err" "cannot be shown again"
expect_exit 1 "$BL" admin --data-dir "$D" bootstrap operator2
assert_contains "$T/err" "already bootstrapped"
expect_exit 0 "$BL" admin --data-dir "$D" org add hospital --kind hospital
expect_exit 1 "$BL" admin --data-dir "$D" org add hospital
assert_contains "$T/err" "already exists"
expect_exit 0 "$BL" admin --data-dir "$D" key add hospital data_owner --expires-days 30
HKEY=$(head -1 "$T/out")
HKID=$(sed -n 's/^key_id=//p' "$T/out")
expect_exit 2 "$BL" admin --data-dir "$D" key add hospital root
assert_contains "$T/err" "not one of admin, data_owner, analyst, auditor"
expect_exit 1 "$BL" admin --data-dir "$D" key add nowhere analyst
assert_contains "$T/err" "no organisation 'nowhere'"
expect_exit 2 "$BL" admin --data-dir "$D" purpose add "Bad Name" "x"
expect_exit 0 "$BL" admin --data-dir "$D" purpose add loyalty_programme "points and rewards of the person's own account"
expect_exit 0 "$BL" admin --data-dir "$D" list
assert_contains "$T/out" "loyalty_programme"
assert_contains "$T/out" "$HKID"
assert_not_contains "$T/out" "${HKEY##*_}"
assert_not_contains "$T/out" "${KEY##*_}"
expect_exit 2 "$BL" admin --data-dir "$D" frobnicate
expect_exit 2 "$BL" admin bootstrap x
assert_contains "$T/err" "--data-dir is required"
expect_exit 2 "$BL" admin --data-dir "$D" key add hospital
# secrets never reach the store in clear
if grep -a -q "${HKEY##*_}" "$D/blindlink.db" "$D/audit.log"; then fail "key secret stored"; else pass; fi

expect_exit 2 "$BL" serve
assert_contains "$T/err" "--data-dir is required"
expect_exit 2 "$BL" serve --data-dir "$D" --listen nonsense
assert_contains "$T/err" "HOST:PORT"
expect_exit 2 "$BL" serve --data-dir "$D" --listen '::1:8080'
assert_contains "$T/err" "IPv6 address in brackets"
expect_exit 2 "$BL" serve --data-dir "$D" --listen '[::1:8080'
assert_contains "$T/err" "in brackets before the port"
expect_exit 2 "$BL" serve --data-dir "$D" --listen '[::g]:8080'
assert_contains "$T/err" "'::g' is not an IPv6 address"
expect_exit 2 "$BL" serve --data-dir "$D" --listen '[::1]:'
assert_contains "$T/err" "bad port"
expect_exit 2 "$BL" serve --data-dir "$D" --clock-offset 5x
expect_exit 2 "$BL" serve --data-dir "$D" --max-body 12
expect_exit 0 "$BL" serve --help
assert_contains "$T/out" "--clock-offset"

start_server || { fail "server start"; finish; }
# the port is taken: a second server fails at run time (exit 1)
expect_exit 1 "$BL" serve --data-dir "$T/other" --listen "127.0.0.1:$(cat "$T/port")" --quiet
assert_contains "$T/err" "cannot listen"
api GET /whoami "$HKEY"
expect_code 200 "hospital key works"
expect_exit 0 "$BL" admin --data-dir "$D" key revoke "$HKID"
api GET /whoami "$HKEY"
expect_problem 401 "revoked" "key revoked from the CLI while serving"
expect_exit 1 "$BL" admin --data-dir "$D" key revoke "$HKID"
stop_server

# IPv6 loopback, where the machine has it
if grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6 2>/dev/null; then
  LISTEN_HOST='[::1]' start_server || { fail "server start on [::1]"; finish; }
  assert_eq "$URL" "http://[::1]:$(cat "$T/port")/api/v1" "test URL is IPv6"
  api GET /whoami "$HKEY"
  expect_problem 401 "revoked" "the API answers over IPv6"
  stop_server
else
  echo "# no IPv6 loopback on this machine: skipping the [::1] check"
fi

expect_exit 0 "$BL" audit verify "$D"
assert_contains "$T/out" "intact"
expect_audit key.revoke allowed "revoked"
expect_audit admin.bootstrap refused "already exists"
expect_exit 2 "$BL" audit check "$D"
expect_exit 1 "$BL" audit verify "$T/nowhere"
finish
