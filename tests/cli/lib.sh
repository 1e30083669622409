# tests/cli/lib.sh - tiny assertion helpers for CLI and service tests.
# Source it; it sets $T to a fresh temp dir removed on exit, and counts checks.
# Environment from ctest: BL (binary), BL_SRC, BL_FIXTURES, BL_BUILD.
set -u
: "${BL:?BL must point to the blindlink binary}"
T=$(mktemp -d "${TMPDIR:-/tmp}/bltest.XXXXXX")
trap 'rm -rf "$T"' EXIT
BL_PASSED=0
BL_FAILED=0

fail() { echo "FAIL: $*" >&2; BL_FAILED=$((BL_FAILED + 1)); }
pass() { BL_PASSED=$((BL_PASSED + 1)); }

# expect_exit CODE CMD... : run CMD, capture stdout/stderr in $T/out $T/err
expect_exit() {
  local want=$1; shift
  "$@" >"$T/out" 2>"$T/err"
  local got=$?
  if [ "$got" -ne "$want" ]; then
    fail "expected exit $want, got $got: $*"; sed 's/^/  stderr: /' "$T/err" | head -5 >&2
  else pass; fi
}
# assert_contains FILE TEXT
assert_contains() {
  if grep -qF -- "$2" "$1"; then pass; else fail "$1 lacks '$2'"; sed 's/^/  | /' "$1" | head -5 >&2; fi
}
assert_not_contains() {
  if grep -qF -- "$2" "$1"; then fail "$1 contains '$2'"; else pass; fi
}
assert_same() { if cmp -s "$1" "$2"; then pass; else fail "$1 differs from $2"; fi; }
assert_missing() { if [ -e "$1" ]; then fail "$1 should not exist"; else pass; fi; }
assert_exists() { if [ -e "$1" ]; then pass; else fail "$1 should exist"; fi; }
assert_eq() { if [ "$1" = "$2" ]; then pass; else fail "${3:-value}: expected '$2', got '$1'"; fi; }

# finish: print the summary line ctest logs and exit non-zero on failure
finish() {
  echo "$BL_PASSED passed, $BL_FAILED failed"
  [ "$BL_FAILED" -eq 0 ] && [ "$BL_PASSED" -gt 0 ]
  exit $?
}
