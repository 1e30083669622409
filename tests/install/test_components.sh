#!/usr/bin/env bash
# tests/install/test_components.sh - the library and CLI configure with only
# the library's packages: with pkg-config limited to libsodium, jansson,
# utf8proc, nettle and PCRE2, CMake leaves out the service and the tests
# (saying so) instead of failing; BL_BUILD_SERVER=ON then fails clearly.
# Configure only (seconds); the full library-only build is the same targets.
set -euo pipefail
: "${BL_SRC:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/pc"
for m in libsodium jansson libutf8proc nettle libpcre2-8; do
  ln -s "$(pkg-config --variable=pcfiledir "$m")/$m.pc" "$T/pc/$m.pc"
done
export PKG_CONFIG_LIBDIR=$T/pc PKG_CONFIG_PATH=
cmake -S "$BL_SRC" -B "$T/b" > "$T/out" 2> "$T/err" ||
  { cat "$T/err" >&2; echo "FAIL: library-only configure failed" >&2; exit 1; }
grep -q "linkage service not built (missing: libmicrohttpd sqlite3" "$T/err" ||
  { cat "$T/err" >&2; echo "FAIL: no notice about the service" >&2; exit 1; }
grep -q "tests not built (missing: cmocka" "$T/err" || { echo "FAIL: no notice about the tests" >&2; exit 1; }
targets=$(cmake --build "$T/b" --target help)
for t in blindlink blindlink_shared blindlink_cli man; do
  grep -qx "\.\.\. $t" <<< "$targets" || { echo "FAIL: target $t missing" >&2; exit 1; }
done
for t in blindlink_server test_server fuzz_request_replay test_csv; do
  grep -qx "\.\.\. $t" <<< "$targets" && { echo "FAIL: $t configured without its packages" >&2; exit 1; }
done
if cmake -S "$BL_SRC" -B "$T/b2" -DBL_BUILD_SERVER=ON > /dev/null 2> "$T/err2"; then
  echo "FAIL: BL_BUILD_SERVER=ON configured without libmicrohttpd" >&2; exit 1
fi
grep -q "BL_BUILD_SERVER=ON but missing: libmicrohttpd" "$T/err2" || { cat "$T/err2" >&2; exit 1; }
echo "test_components: library + CLI configure alone; service and tests are optional"
