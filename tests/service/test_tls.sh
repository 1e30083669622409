#!/usr/bin/env bash
# Native TLS (issue 10): `serve --tls-cert --tls-key` answers HTTPS with TLS
# 1.2 or 1.3 only, checked with curl against a self-signed certificate made
# here; plain HTTP is refused on a non-loopback address unless
# --insecure-http is given; a world-readable TLS key is refused.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"
command -v openssl >/dev/null || { echo "SKIP: openssl not installed (scripts/deps.sh)"; exit 77; }

setup_world
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" -keyout "$T/tls.key" -out "$T/tls.crt" 2>/dev/null
chmod 600 "$T/tls.key"
assert_exists "$T/tls.crt"

start_server --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" || { fail "TLS server start"; finish; }
PORT=$(cat "$T/port")
HTTPS="https://127.0.0.1:$PORT/api/v1"
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/tls.crt" "$HTTPS/status")
assert_eq "$code" 200 "status over HTTPS, certificate verified"
code=$(curl -s -o "$T/body" -w '%{http_code}' --cacert "$T/tls.crt" -H "Authorization: Bearer $KEY_A" "$HTTPS/whoami")
assert_eq "$code" 200 "authenticated request over HTTPS"
assert_eq "$(jqb .role)" analyst "whoami over HTTPS"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/tls.crt" --tlsv1.2 --tls-max 1.2 "$HTTPS/status")
assert_eq "$code" 200 "TLS 1.2 accepted"
curl -s -o /dev/null --cacert "$T/tls.crt" --tlsv1.0 --tls-max 1.1 "$HTTPS/status" 2>/dev/null
rc=$?
[ "$rc" -ne 0 ] && pass || fail "TLS 1.0/1.1 must be refused (curl exit $rc)"
curl -s -o /dev/null "$HTTPS/status" 2>/dev/null
[ $? -ne 0 ] && pass || fail "an unverified certificate must not be trusted silently"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/api/v1/status" 2>/dev/null)
[ "$code" != 200 ] && pass || fail "plain HTTP must not be answered on the TLS port"
stop_server

# ---- plain HTTP only on loopback ---------------------------------------------------------
expect_exit 2 timeout 20 "$BL" serve --data-dir "$D" --listen 0.0.0.0:0 --quiet
assert_contains "$T/err" "not a loopback address"
expect_exit 2 timeout 20 "$BL" serve --data-dir "$D" --listen 127.0.0.1:0 --tls-cert "$T/tls.crt" --quiet
assert_contains "$T/err" "go together"
chmod 644 "$T/tls.key"
expect_exit 2 timeout 20 "$BL" serve --data-dir "$D" --listen 127.0.0.1:0 --tls-cert "$T/tls.crt" --tls-key "$T/tls.key" --quiet
assert_contains "$T/err" "readable by others"
chmod 600 "$T/tls.key"
# --insecure-http lets it bind a non-loopback address (any address; tested on 0.0.0.0, reached via loopback)
rm -f "$T/port"
"$BL" serve --data-dir "$D" --listen 0.0.0.0:0 --insecure-http --port-file "$T/port" --quiet 2>>"$T/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(cat "$T/port")/api/v1/status")
assert_eq "$code" 200 "--insecure-http serves plain HTTP"
stop_server
"$BL" audit verify --public-key "$T/audit.pub" "$D" >/dev/null 2>&1
assert_eq "$?" 0 "audit chain verifies"
finish
