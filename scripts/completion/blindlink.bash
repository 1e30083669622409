# bash completion for blindlink. Commands and options are read from the
# binary's own --help when completing, so they cannot drift from the program:
# the commands under "Commands:", and the option names at the start of each
# option line of `blindlink CMD --help` (not words of the descriptions, nor
# parts of words such as date-of-birth).
_blindlink_commands() {
  "$1" --help 2>/dev/null | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}'
}
_blindlink_options() {
  "$1" "$2" --help 2>/dev/null |
    awk '/^ +-/ { sub(/^ +/, ""); t = $0; i = index(t, "  "); if (i) t = substr(t, 1, i - 1)
                  t = " " t; while (match(t, /[ ,]--?[A-Za-z0-9][-A-Za-z0-9]*/)) {
                    print substr(t, RSTART + 1, RLENGTH - 1); t = substr(t, RSTART + RLENGTH) } }
         END { print "-h"; print "--help" }' | sort -u
}
_blindlink() {
  local cur=${COMP_WORDS[COMP_CWORD]} bl=${COMP_WORDS[0]} words
  if [ "$COMP_CWORD" -eq 1 ]; then
    words=$(_blindlink_commands "$bl")
    COMPREPLY=($(compgen -W "$words help --help --version" -- "$cur"))
    return
  fi
  if [ "$COMP_CWORD" -eq 2 ] && [ "${COMP_WORDS[1]}" = help ]; then
    COMPREPLY=($(compgen -W "$(_blindlink_commands "$bl")" -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    words=$(_blindlink_options "$bl" "${COMP_WORDS[1]}")
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -o bashdefault -F _blindlink blindlink
