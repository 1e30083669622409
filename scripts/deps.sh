#!/usr/bin/env bash
# Install the Debian packages blindlink needs, but only those missing.
# Checks with pkg-config / command -v first so repeated runs cost nothing.
set -euo pipefail
missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_pc()  { pkg-config --exists "$1" 2>/dev/null || missing+=("$2"); }
need_cmd cc gcc
need_cmd make make
need_cmd cmake cmake
need_cmd pkg-config pkg-config
need_cmd curl curl
need_cmd python3 python3   # JSON checks in tests/cli and the quality report
need_cmd xxd xxd           # byte-level checks in tests/service
need_cmd jq jq
need_cmd openssl openssl   # self-signed certificate in tests/service/test_tls.sh
need_cmd sqlite3 sqlite3   # store edits in tests/service/test_audit_signed.sh
if command -v pkg-config >/dev/null 2>&1; then
  need_pc libsodium libsodium-dev
  need_pc jansson libjansson-dev
  need_pc libutf8proc libutf8proc-dev
  need_pc libmicrohttpd libmicrohttpd-dev
  need_pc sqlite3 libsqlite3-dev
  need_pc cmocka libcmocka-dev
  need_pc nettle nettle-dev
  need_pc libpcre2-8 libpcre2-dev
else
  missing+=(libsodium-dev libjansson-dev libutf8proc-dev libmicrohttpd-dev libsqlite3-dev libcmocka-dev nettle-dev libpcre2-dev)
fi
[ -f /usr/include/csv.h ] || missing+=(libcsv-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
