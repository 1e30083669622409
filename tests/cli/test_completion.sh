#!/usr/bin/env bash
# tests/cli/test_completion.sh - the bash and zsh completions actually
# complete: commands (also after `help`), each command's options (from its
# --help, option names only, never words of the descriptions), prefixes, and
# files. zsh runs interactively in a pseudo-terminal (tests/cli/complete.zsh);
# bash's function is called with COMP_WORDS/COMP_CWORD as bash would. Both
# shells must offer the same options for every command. zsh is a test-only
# dependency (scripts/deps.sh); without it the test is skipped (exit 77).
. "$(dirname "$0")/lib.sh"
C=$BL_SRC/scripts/completion
command -v zsh > /dev/null || { echo "SKIP: zsh missing (scripts/deps.sh)"; exit 77; }
mkdir "$T/bin"
ln -s "$BL" "$T/bin/blindlink"
zc() { zsh "$BL_SRC/tests/cli/complete.zsh" "$C" "$T/bin" "$1"; }
bc() { # bash: complete the words given, the last one being completed
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _blindlink
           printf "%s\n" "${COMPREPLY[@]}" | sort -u' _ "$C/blindlink.bash" "$T/bin/blindlink" "$@"
}
cmds=$("$BL" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}')

# commands
zc "blindlink " > "$T/z"
printf '%s\n' $cmds help | sort -u > "$T/want"
assert_same "$T/z" "$T/want"
zc "blindlink ma" > "$T/z"
assert_eq "$(cat "$T/z")" "match" "zsh: 'blindlink ma'"
zc "blindlink help ser" > "$T/z"
assert_eq "$(cat "$T/z")" "serve" "zsh: 'blindlink help ser'"
bc "" > "$T/b"
printf '%s\n' $cmds help --help --version | sort -u > "$T/want"
assert_same "$T/b" "$T/want"
assert_eq "$(bc help ser)" "serve" "bash: 'blindlink help ser'"
assert_eq "$(bc ma)" "match" "bash: 'blindlink ma'"

# options of every command: the common ones, the same in both shells, and
# nothing that is not an option name of the help's option lines
for c in $cmds; do
  zc "blindlink $c -" > "$T/z.$c"
  bc "$c" - > "$T/b.$c"
  assert_same "$T/z.$c" "$T/b.$c"
  for o in -q --quiet -v --verbose -V --version -h --help; do
    grep -qxF -- "$o" "$T/z.$c" && pass || fail "zsh: 'blindlink $c -' does not offer $o"
  done
  "$BL" "$c" --help > "$T/h.$c"
  while read -r o; do
    grep -qE -- "^ +([^ ]+ )*$o([][ ,=]|$)" "$T/h.$c" || [ "$o" = -h ] || [ "$o" = --help ] ||
      fail "$c: completion offers '$o', not an option of its help"
  done < "$T/z.$c"
done
grep -qxF -- "--data-dir" "$T/z.serve" && grep -qxF -- "-j" "$T/z.serve" && pass || fail "serve: --data-dir/-j not offered"
grep -qxF -- "--json" "$T/z.audit" && pass || fail "audit: --json not offered"
grep -q -- '^-entry' "$T/z.audit" && fail "audit: a word of a description offered as an option" || pass
# a prefix narrows the options
zc "blindlink match --thr" > "$T/z"
assert_eq "$(tr '\n' ' ' < "$T/z")" "--threads --threshold " "zsh: 'blindlink match --thr'"
assert_eq "$(bc match --thr | tr '\n' ' ')" "--threads --threshold " "bash: 'blindlink match --thr'"

# files after a command
mkdir "$T/d"
touch "$T/d/people.csv" "$T/d/other.json"
zc "blindlink encode $T/d/pe" > "$T/z"
assert_eq "$(cat "$T/z")" "people.csv" "zsh: file completion"
assert_eq "$(bc encode "$T/d/pe")" "$T/d/people.csv" "bash: file completion"
finish
