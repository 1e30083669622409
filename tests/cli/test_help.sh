#!/usr/bin/env bash
# tests/cli/test_help.sh - every subcommand answers --help with exit 0 and a
# Usage line, unknown commands/options exit 2, and docs/cli.md is current.
. "$(dirname "$0")/lib.sh"
expect_exit 0 "$BL" --help
assert_contains "$T/out" "Commands:"
expect_exit 0 "$BL" --version
assert_contains "$T/out" "blindlink "
cmds=$("$BL" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}')
[ -n "$cmds" ] && pass || fail "no commands listed"
for c in $cmds; do
  expect_exit 0 "$BL" "$c" --help
  assert_contains "$T/out" "Usage: blindlink $c"
  expect_exit 2 "$BL" "$c" --no-such-option
done
expect_exit 2 "$BL" frobnicate
assert_contains "$T/err" "unknown command 'frobnicate'"
expect_exit 2 "$BL"
bash "$BL_SRC/scripts/gen_cli_doc.sh" "$BL" > "$T/cli.md"
if cmp -s "$T/cli.md" "$BL_SRC/docs/cli.md"; then pass; else
  fail "docs/cli.md is stale: run scripts/gen_cli_doc.sh build/blindlink > docs/cli.md"
  diff "$T/cli.md" "$BL_SRC/docs/cli.md" | head -10 >&2
fi
finish
