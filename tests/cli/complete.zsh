#!/usr/bin/env zsh
# tests/cli/complete.zsh COMPDIR BINDIR LINE - print, one a line, the
# completions zsh offers for LINE (the TAB after it), with the completion
# functions of COMPDIR and BINDIR first in PATH. zsh completes only inside
# the line editor, so an interactive zsh runs in a pseudo-terminal (zpty)
# with a compadd that prints what it is given (the technique of
# zsh-capture-completion, written again here). Exit 1 on a timeout.
emulate -L zsh
zmodload zsh/zpty || exit 2
compdir=$1 bindir=$2 line=$3
init=$(mktemp "${TMPDIR:-/tmp}/blcomp.XXXXXX")
trap 'rm -f $init; zpty -d c 2>/dev/null' EXIT
cat > $init <<INIT
PROMPT='' RPROMPT=''
fpath=(${(q)compdir} \$fpath)
path=(${(q)bindir} \$path)
autoload -Uz compinit && compinit -u -D
zstyle ':completion:*' list-grouped false
zstyle ':completion:*' menu no
bindkey '^I' complete-word
# every match given to compadd (descriptions dropped), between two markers
compadd() {
  # -O/-A/-D only collect matches into arrays: not offered yet
  if [[ \${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then
    builtin compadd "\$@"
    return \$?
  fi
  local -a hits
  builtin compadd -A hits "\$@"
  (( \$#hits )) && print -rl -- "<m>"\${^hits}
  builtin compadd "\$@"
}
begin_mark() { print -r -- '<begin>' }
end_mark() { print -r -- '<end>'; exit }
compprefuncs=(begin_mark)
comppostfuncs=(end_mark)
print -r -- '<ready>'
INIT
zpty c "zsh -f -i"
zpty -w c "source ${(q)init}"
# wait for the init file to have run
local out="" chunk
while zpty -rt c chunk 2>/dev/null || { sleep 0.05; (( SECONDS < 20 )) }; do
  out+=$chunk
  [[ $out == *'<ready>'* ]] && break
done
[[ $out == *'<ready>'* ]] || { print -u2 "complete.zsh: zsh did not start"; exit 1 }
zpty -w -n c "$line"$'\t'
out=""
SECONDS=0
while (( SECONDS < 20 )); do
  if zpty -rt c chunk 2>/dev/null; then
    out+=$chunk
    [[ $out == *'<end>'* ]] && break
  else
    sleep 0.05
  fi
done
[[ $out == *'<end>'* ]] || { print -u2 "complete.zsh: no completion within 20 s"; exit 1 }
# the matches between the markers (the pty turns \n into \r\n)
out=${out//$'\r'/}
out=${out#*'<begin>'}
out=${out%%'<end>'*}
print -rl -- ${(M)${(f)out}:#'<m>'*} | sed 's/^<m>//' | sort -u
