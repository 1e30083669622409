#!/usr/bin/env bash
# tests/cli/test_signals.sh - a command killed by SIGINT, SIGTERM or SIGHUP
# while it writes its output leaves neither the output nor its hidden temp
# file (.OUT.XXXXXX) behind, and dies of the signal (exit 128+N). The input
# is a FIFO kept open, so `encode` is caught for certain mid-run: the output
# temp file exists and the encoder waits for more rows.
. "$(dirname "$0")/lib.sh"
F=$BL_FIXTURES/clkhash

# appears GLOB: 1 once a file matches GLOB (waiting up to 10 s), else 0
appears() {
  for _ in $(seq 200); do
    if compgen -G "$1" >/dev/null; then echo 1; return; fi
    sleep 0.05
  done
  echo 0
}

# interrupt SIG FORMAT: one encode run killed with SIG once its temp file exists
interrupt() {
  local sig=$1 fmt=$2 out="$T/o-$1-$2"
  rm -f "$T/in.csv"
  mkfifo "$T/in.csv"
  # background jobs of a script ignore SIGINT: give the encoder the default back
  env --default-signal=INT "$BL" encode --quiet --format "$fmt" --threads 2 \
    --secret-file "$F/secret.txt" "$T/in.csv" "$F/schemas/schema1-blake.json" "$out" \
    2>"$T/err" &
  local pid=$!
  exec 3>"$T/in.csv"
  cat "$F/data/people-a.csv" >&3
  for _ in $(seq 300); do tail -n +2 "$F/data/people-a.csv"; done >&3
  assert_eq "$(appears "$T/.o-$sig-$fmt.*")" 1 "temp file of a running encode ($sig, $fmt)"
  kill -s "$sig" "$pid"
  wait "$pid"
  local rc=$?
  exec 3>&-
  assert_eq "$rc" "$((128 + $(kill -l "$sig")))" "exit status after SIG$sig"
  assert_missing "$out"
  if compgen -G "$T/.o-$sig-$fmt.*" >/dev/null; then
    fail "temp file left after SIG$sig: $(ls -a "$T")"
  else pass; fi
}

for sig in INT TERM HUP; do
  interrupt "$sig" json
done
interrupt TERM bin

# a copy of stdin (describe -, match -: the CLK reader reads its input
# twice) is removed too when the run is killed while it reads: it holds
# the whole input, ids included
spool_kill() {
  local sig=$1 sp="$T/spool-$1"
  mkdir -p "$sp"
  rm -f "$T/in.fifo"; mkfifo "$T/in.fifo"
  TMPDIR=$sp env --default-signal=INT "$BL" describe - <"$T/in.fifo" >/dev/null 2>"$T/err" &
  local pid=$!
  exec 3>"$T/in.fifo"
  head -c 100 "$M/people-a.schema1-blake.json" >&3
  assert_eq "$(appears "$sp/blindlink.*")" 1 "stdin copy of a running describe ($sig)"
  kill -s "$sig" "$pid"
  wait "$pid"
  local rc=$?
  exec 3>&-
  assert_eq "$rc" "$((128 + $(kill -l "$sig")))" "describe's exit status after SIG$sig"
  if compgen -G "$sp/blindlink.*" >/dev/null; then
    fail "stdin copy left after SIG$sig: $(ls -a "$sp")"
  else pass; fi
}
M=$BL_FIXTURES/matching
spool_kill TERM
spool_kill INT
# and a failure on stdin names stdin, not the copy
head -c 100 "$M/people-a.schema1-blake.json" | "$BL" describe - >/dev/null 2>"$T/err"
assert_contains "$T/err" "blindlink describe: stdin"
assert_not_contains "$T/err" "blindlink."

# the handler does not get in the way of a normal run in the same way
expect_exit 0 "$BL" encode --quiet --secret-file "$F/secret.txt" "$F/data/people-a.csv" \
  "$F/schemas/schema1-blake.json" "$T/ok.json"
assert_same "$T/ok.json" "$F/clks/people-a.schema1-blake.json"
finish
