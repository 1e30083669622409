#!/usr/bin/env bash
# The audit log fails closed: when an entry cannot be appended the request is
# answered 503 problem+json, its response (a new key, a new project id...) is
# not released and, once the log is known to be broken, writes are refused
# before they change anything; the chain is not damaged and the service
# recovers once the log can be written again. Two deterministic faults, no
# test hook:
#  1. the log's tail is corrupted behind the server's back (the server re-reads
#     the tail when the file changed size and refuses to chain onto garbage);
#  2. the log is a disk that is always full (/dev/full: every write ENOSPC).
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

ADMIN=$(admin bootstrap operator 2>/dev/null | head -1)
admin org add hospital --kind hospital >/dev/null
admin org add bank --kind bank >/dev/null
admin org add analytics --kind research >/dev/null
KEY_A=$(new_key analytics analyst)
PROJECT='{"name":"fc","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}'

# expect_503 LABEL : fail-closed answer, nothing of the real response in it
expect_503() {
  expect_problem 503 "audit log cannot be written" "$1"
  if jq -e 'has("key") or has("id") or has("orgs") or has("projects")' "$T/body" >/dev/null 2>&1; then
    fail "$1: response content released despite the audit failure: $(head -c 300 "$T/body")"
  else pass; fi
}

# ---- 1. corrupted tail while the server runs ------------------------------------------------
start_server || { fail "server start"; finish; }
api GET /whoami "$KEY_A"
expect_code 200 "healthy log: request served"
api GET /keys "$ADMIN"
NKEYS=$(jqb '.keys|length')
echo "# $NKEYS keys before the faults"
good_size=$(stat -c %s "$D/audit.log")
printf '{"seq":"not an entry"\n' >>"$D/audit.log"
api POST /orgs/hospital/keys "$ADMIN" '{"role":"data_owner"}'
expect_503 "key creation while the log tail is corrupt"
api POST /projects "$KEY_A" "$(with_schema "$PROJECT")"
expect_503 "project creation while the log tail is corrupt"
api GET /projects "$KEY_A"
expect_503 "a read while the log tail is corrupt"
grep -q "audit append failed" "$T/server.log" && pass || fail "server did not report the audit failure"
server_alive && pass || fail "server survives audit failures"
truncate -s "$good_size" "$D/audit.log"
api GET /whoami "$KEY_A"
expect_code 200 "served again once the log is repaired"
api GET /keys "$ADMIN"
assert_eq "$(jqb '.keys|length')" "$NKEYS" "no key was created while the log was broken"
api GET /projects "$KEY_A"
assert_eq "$(jqb '.projects|length')" 0 "no project was created while the log was broken"
api POST /projects "$KEY_A" "$(with_schema "$PROJECT")"
expect_code 201 "writes work again"
expect_exit 0 "$BL" audit verify "$D"
stop_server
expect_exit 0 "$BL" audit verify "$D"

# ---- 2. the disk holding the log is full ------------------------------------------------------
if [ -c /dev/full ] && [ -w /dev/full ]; then
  mv "$D/audit.log" "$T/audit.saved"
  ln -s /dev/full "$D/audit.log"
  start_server || { fail "server start on a full log"; finish; }
  api POST /orgs/bank/keys "$ADMIN" '{"role":"data_owner"}'
  expect_503 "key creation with a full disk"
  api GET /whoami "$KEY_A"
  expect_503 "a read with a full disk"
  grep -q "No space left\|append failed" "$T/server.log" && pass || fail "no ENOSPC report"
  server_alive && pass || fail "server survives a full disk"
  stop_server
  rm "$D/audit.log"; mv "$T/audit.saved" "$D/audit.log"
  # no entry was half-written and the store's anchor never moved
  expect_exit 0 "$BL" audit verify "$D"
  start_server || { fail "restart after the disk was freed"; finish; }
  api GET /whoami "$KEY_A"
  expect_code 200 "served again after the disk was freed"
  api GET /keys "$ADMIN"
  assert_eq "$(jqb '.keys|length')" "$NKEYS" "no key was created on the full disk"
  stop_server
  expect_exit 0 "$BL" audit verify "$D"
else
  echo "# /dev/full is not available: skipping the full-disk case"
fi
finish
