#!/usr/bin/env bash
# Install the Debian packages blindlink needs, but only those missing.
# Checks with pkg-config / command -v first so repeated runs cost nothing.
# BL_NO_APT=1: never call apt-get; only say what is missing (for people who
# manage their own packages). CMake then builds what it can: the library and
# CLI need only the "library" packages; the service (libmicrohttpd, SQLite)
# and the tests (cmocka, ...) are left out when theirs are missing.
set -euo pipefail
missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_pc()  { pkg-config --exists "$1" 2>/dev/null || missing+=("$2"); }
# build tools and the library's dependencies
need_cmd cc gcc
need_cmd make make
need_cmd cmake cmake
need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
  need_pc libsodium libsodium-dev
  need_pc jansson libjansson-dev
  need_pc libutf8proc libutf8proc-dev
  need_pc nettle nettle-dev
  need_pc ompi-c libopenmpi-dev
  need_cmd mpirun openmpi-bin
  need_pc libpcre2-8 libpcre2-dev
  # the linkage service
  need_pc libmicrohttpd libmicrohttpd-dev
  need_pc sqlite3 libsqlite3-dev
  # the tests
  need_pc cmocka libcmocka-dev
  need_pc libcurl libcurl4-openssl-dev   # chat: relay HTTP client (bank bot, chat CLI)
else
  missing+=(libsodium-dev libjansson-dev libutf8proc-dev nettle-dev libpcre2-dev
            libmicrohttpd-dev libsqlite3-dev libcmocka-dev libcurl4-openssl-dev)
fi
[ -f /usr/include/csv.h ] || missing+=(libcsv-dev)
# tools the tests, the demo and the install check use
need_cmd python3 python3   # JSON checks in tests/cli, the Python binding and its tests
need_cmd curl curl
need_cmd xxd xxd           # byte-level checks in tests/service
need_cmd jq jq
need_cmd man man-db        # tests/install renders the man pages with man -l
need_cmd nm binutils       # tests/install lists the shared library's symbols
need_cmd node nodejs       # chat: web client test driver (tests/chat)
need_cmd npm npm           # chat: installs libsodium.js + playwright-core (web/package-lock.json)
need_cmd chromium chromium # chat: headless browser test of the web client
need_cmd openssl openssl   # self-signed certificate in tests/service/test_tls.sh
need_cmd sqlite3 sqlite3   # store edits in tests/service/test_audit_signed.sh
need_cmd zsh zsh           # tests/cli/test_completion.sh loads the zsh completion (test only)
need_cmd rsvg-convert librsvg2-bin # tests/cli/test_pictures.sh renders every SVG (test/doc only)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${BL_NO_APT:-0}" != "0" ]; then
    echo "deps: missing ${missing[*]} (BL_NO_APT set: not installing; parts that need them are skipped)" >&2
    exit 0
  fi
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
