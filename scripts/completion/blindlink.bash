# bash completion for blindlink. Commands and options are read from the
# binary's own --help when completing, so they cannot drift from the program.
_blindlink() {
  local cur=${COMP_WORDS[COMP_CWORD]} bl=${COMP_WORDS[0]} words
  if [ "$COMP_CWORD" -eq 1 ]; then
    words=$("$bl" --help 2>/dev/null | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}')
    COMPREPLY=($(compgen -W "$words help --help --version" -- "$cur"))
    return
  fi
  if [[ $cur == -* ]]; then
    words=$("$bl" "${COMP_WORDS[1]}" --help 2>/dev/null | grep -E '^ +-' |
            grep -oE -- '--?[A-Za-z0-9][-A-Za-z0-9]*' | sort -u)
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    return
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -o bashdefault -F _blindlink blindlink
