#!/usr/bin/env bash
# scripts/gen_cli_doc.sh BINARY > docs/cli.md - the CLI reference, made from
# each subcommand's --help so the two never drift apart (tests/cli/test_help.sh
# checks that docs/cli.md is current).
set -euo pipefail
BL=${1:?usage: gen_cli_doc.sh path/to/blindlink}
cat <<'HDR'
# blindlink command-line reference

Generated from `blindlink <command> --help` by `scripts/gen_cli_doc.sh`; do not
edit by hand. Exit codes everywhere: 0 ok, 1 runtime failure (I/O, network,
peer, crypto), 2 usage or input error (bad option, malformed CSV/JSON/schema,
value that breaks a rule). Secrets are read from files or environment
variables, never from the command line unless a command's explicit opt-in flag
says otherwise. Longer guides: `docs/cli-encode.md`, `docs/schema.md`,
`docs/normalize.md`, `docs/match.md`, `docs/synth.md`, `docs/psi.md`,
`docs/service.md`.

HDR
echo '## blindlink'
echo
echo '```'
"$BL" --help
echo '```'
for c in $("$BL" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}'); do
  echo
  echo "## blindlink $c"
  echo
  echo '```'
  BL_NO_PROGRESS=1 "$BL" "$c" --help
  echo '```'
done
