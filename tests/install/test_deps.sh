#!/usr/bin/env bash
# tests/install/test_deps.sh - scripts/deps.sh installs exactly what is
# missing, and with BL_NO_APT=1 installs nothing but names what is missing.
# apt-get, sudo, pkg-config and the checked commands are stubs on PATH.
set -euo pipefail
: "${BL_SRC:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin"
# pkg-config knows only libsodium; every command the script checks is absent
# except bash, cc and the coreutils the script itself uses
cat > "$T/bin/pkg-config" <<'SH'
#!/bin/sh
[ "$1" = --exists ] && [ "$2" = libsodium ]
SH
for tool in apt-get sudo; do
  printf '#!/bin/sh\necho "%s $*" >> "%s/calls"\n' "$tool" "$T" > "$T/bin/$tool"
done
chmod +x "$T/bin"/*
for c in bash id cat sed env; do ln -s "$(command -v $c)" "$T/bin/$c"; done
run() { env -i HOME="$T" PATH="$T/bin" "$@" bash "$BL_SRC/scripts/deps.sh"; }

run BL_NO_APT=1 > "$T/out" 2> "$T/err" || { echo "FAIL: BL_NO_APT=1 exited non-zero" >&2; exit 1; }
[ ! -e "$T/calls" ] || { echo "FAIL: BL_NO_APT=1 called: $(cat "$T/calls")" >&2; exit 1; }
grep -q "BL_NO_APT" "$T/err" && grep -q "libjansson-dev" "$T/err" && grep -q "cmake" "$T/err" ||
  { echo "FAIL: BL_NO_APT=1 did not list the missing packages: $(cat "$T/err")" >&2; exit 1; }
grep -q "libsodium-dev" "$T/err" && { echo "FAIL: listed libsodium-dev, which is present" >&2; exit 1; }

run > "$T/out" 2> "$T/err" || { echo "FAIL: deps.sh failed: $(cat "$T/err")" >&2; exit 1; }
install=$(grep "install" "$T/calls")
for p in libjansson-dev libcmocka-dev libmicrohttpd-dev cmake man-db; do
  case $install in *" $p"*) ;; *) echo "FAIL: $p not installed: $install" >&2; exit 1;; esac
done
case $install in *libsodium-dev*) echo "FAIL: reinstalled libsodium-dev" >&2; exit 1;; esac
grep -q "update" "$T/calls" || { echo "FAIL: no apt-get update" >&2; exit 1; }
echo "test_deps: installs only what is missing; BL_NO_APT=1 installs nothing"
