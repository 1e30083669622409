#!/usr/bin/env bash
# Issue 10, finding 7: anonymous floods are throttled by client address before
# authentication (429 with Retry-After) and do not flood the audit log: within
# an interval a client's repeated refusals become one entry with a count, and
# every refusal is counted. A client on another address is not affected.
# The flood comes from 127.0.0.2 (loopback), honest requests from 127.0.0.1.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"

setup_world
start_server --audit-interval 1 || { fail "server start"; finish; }
N=400
before=$(audit_lines)
urls=(); for i in $(seq 1 $N); do urls+=(-o /dev/null "$URL/whoami"); done
curl -s -m 60 --interface 127.0.0.2 -H 'Authorization: Bearer bl_nope_0000' \
  -w '%{http_code}\n' "${urls[@]}" >"$T/codes"
n401=$(grep -c '^401$' "$T/codes"); n429=$(grep -c '^429$' "$T/codes")
echo "# $N bad-key requests from 127.0.0.2: $n401 x 401, $n429 x 429"
assert_eq "$((n401 + n429))" "$N" "every flood request answered 401 or 429"
[ "$n429" -gt $((N / 2)) ] && pass || fail "the flood was not throttled ($n429 x 429)"
M=60 # a second burst, its headers kept: the 429s say when to retry
urls=(); for i in $(seq 1 $M); do urls+=(-o /dev/null "$URL/whoami"); done
curl -s -m 30 --interface 127.0.0.2 -D "$T/hdr" -H 'Authorization: Bearer bl_nope_0000' "${urls[@]}" >/dev/null
grep -q '^HTTP/1.1 429' "$T/hdr" && pass || fail "the second burst got no 429"
n429h=$(grep -c '^HTTP/1.1 429' "$T/hdr"); nra=$(grep -ci '^Retry-After: [1-9]' "$T/hdr")
assert_eq "$nra" "$n429h" "every 429 carries Retry-After"
api GET /whoami "$KEY_A"
expect_code 200 "a client on another address is served during the flood"
sleep 2.5 # past the interval: the janitor writes the counts
during=$(( $(audit_lines) - before ))
echo "# audit entries written for the flood: $during"
[ "$during" -lt 40 ] && pass || fail "the flood wrote $during audit entries"
total=$(jq -s --arg f 127.0.0.2 '[.[] | select(.action=="refusals" and (.reason|contains($f))) | (.reason|capture("(?<n>[0-9]+) refusal").n|tonumber)] | add // 0' "$D/audit.log")
single=$(jq -s '[.[] | select(.role=="-" and .action!="refusals" and (.status==401 or .status==429))] | length' "$D/audit.log")
echo "# refusals: $single logged one by one, $total counted in aggregate entries"
assert_eq "$((total + single))" "$((N + M))" "every refusal is accounted for in the log"
stop_server
expect_exit 0 "$BL" audit verify "$D"
finish
