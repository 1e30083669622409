#!/usr/bin/env bash
# Service benchmark (not a test): a real `blindlink serve` on loopback.
#  1. upload throughput of BENCH_UPLOAD_N (default 1M) encodings, streamed,
#     against reading the same file in-process (baseline), plus server peak RSS;
#  2. a BENCH_MATCH_N x BENCH_MATCH_N (default 100K x 100K) run through the API
#     against the same match through the CLI (`blindlink match`, or the
#     library in-process when that command is unavailable);
#  3. requests/s and p99 latency of the run status endpoint under wrk (apt
#     package wrk), against the unauthenticated /status endpoint.
# Usage: bash bench/service.sh [BUILD_DIR]
set -euo pipefail
BUILD=${1:-build}
BL=$(realpath "$BUILD/blindlink")
GEN=$(realpath "$BUILD/bench_service")
UN=${BENCH_UPLOAD_N:-1000000}
MN=${BENCH_MATCH_N:-100000}
WRK_SECS=${BENCH_WRK_SECS:-10}
W=$(mktemp -d "${TMPDIR:-/tmp}/blbench.XXXXXX")
D=$W/data
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }  # calc EXPR [DECIMALS]
TCK=$(getconf CLK_TCK)
cpu_of() { awk -v t="$TCK" '{printf "%.2f", ($14 + $15) / t}' "/proc/$1/stat"; }  # user+sys seconds
echo "bench_service: machine $(nproc) cores, $(date -u +%FT%TZ); shared machine: figures are noisy, compare ratios"

adm() { "$BL" admin --data-dir "$D" "$@"; }
"$BL" audit keygen --secret-key "$W/audit.key" --public-key "$W/audit.pub" >/dev/null
export BLINDLINK_AUDIT_KEY="$W/audit.key"   # the signing key, outside the data directory
adm bootstrap operator >/dev/null 2>&1
for o in hospital bank analytics; do adm org add $o >/dev/null; done
H=$(adm key add hospital data_owner | head -1)
B=$(adm key add bank data_owner | head -1)
A=$(adm key add analytics analyst | head -1)

"$BL" serve --data-dir "$D" --listen 127.0.0.1:0 --port-file "$W/port" --quiet \
  --rate-limit 10000000 --max-upload 8589934592 --max-records 20000000 2>"$W/server.log" &
PID=$!
for _ in $(seq 1 100); do [ -s "$W/port" ] && break; sleep 0.1; done
U="http://127.0.0.1:$(cat "$W/port")/api/v1"
# every project registers its linkage schema and accepts only uploads made
# with it: the generated files carry this schema's fingerprint
SCHEMA="$(dirname "$0")/../tests/fixtures/service/schema.json"
export BENCH_SCHEMA_FP=$("$BL" schema describe --json "$SCHEMA" | jq -r .fingerprint)
project() { # NAME PURPOSE EXTRA_JSON -> project body
  jq -n -c --slurpfile s "$SCHEMA" --arg n "$1" --arg p "$2" --argjson x "$3" '{name:$n, purpose:$p,
    parties:["hospital","bank"], scopes:["name"], schema:$s[0], schema_features:{token:"name"}} + $x'
}
post() { curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' --data-binary "$3" "$U$2"; }

consent_range() { # KEY N PURPOSE : opt in s0000001..sN in batches of 10000
  local key=$1 n=$2 purpose=$3 start
  for ((start = 1; start <= n; start += 10000)); do
    awk -v s="$start" -v n="$n" -v p="$purpose" 'BEGIN{
      e = s + 9999; if (e > n) e = n; printf "{\"subjects\":[";
      for (i = s; i <= e; i++) printf "%s{\"subject\":\"s%07d\",\"purposes\":[\"%s\"]}", (i>s?",":""), i, p;
      printf "]}" }' >"$W/consent.json"
    post "$key" /consent "@$W/consent.json" >/dev/null
  done
}

# ---- 1. upload throughput -----------------------------------------------------------
"$GEN" gen "$W/up.clk" "$UN" 1
SIZE=$(stat -c %s "$W/up.clk")
t0=$(now); consent_range "$H" "$UN" research; t1=$(now)
echo "consent: $UN opt-ins recorded in $(calc "$t1 - $t0" 3) s"
P1=$(post "$A" /projects "$(project upload research '{}')" | jq -r .id)
for k in "$H" "$B"; do post "$k" "/projects/$P1/accept" '{}' >/dev/null; done
t0=$(now)
curl -sf -H "Authorization: Bearer $H" -H 'Content-Type: application/octet-stream' \
  --data-binary "@$W/up.clk" "$U/projects/$P1/encodings" >"$W/up.json"
t1=$(now)
UP_S=$(calc "$t1 - $t0" 3)
RSS=$(awk '/VmHWM/{print $2}' /proc/$PID/status)
BASE=$("$GEN" read "$W/up.clk")
BASE_S=$(echo "$BASE" | sed -n 's/.* in \([0-9.]*\) s.*/\1/p')
echo "upload: $UN encodings ($((SIZE / 1048576)) MiB) stored $(jq -r .stored "$W/up.json") in ${UP_S} s:" \
  "$(calc "$UN / $UP_S" 0) encodings/s, $(calc "$SIZE / 1048576 / $UP_S" 1) MiB/s; server peak RSS $((RSS / 1024)) MiB"
echo "upload baseline (library reads the same file in-process): $BASE"
echo "upload ratio (API time / in-process read time): $(calc "$UP_S / $BASE_S")"

# ---- 2. 100K x 100K run: API vs CLI -----------------------------------------------------
"$GEN" gen "$W/a.clk" "$MN" 2
"$GEN" gen "$W/b.clk" "$MN" 3 "$W/a.clk"
consent_range "$H" "$MN" treatment_planning
consent_range "$B" "$MN" treatment_planning
P2=$(post "$A" /projects "$(project match treatment_planning '{"threshold":0.9}')" | jq -r .id)
for k in "$H" "$B"; do post "$k" "/projects/$P2/accept" '{}' >/dev/null; done
curl -sf -H "Authorization: Bearer $H" -H 'Content-Type: application/octet-stream' --data-binary "@$W/a.clk" "$U/projects/$P2/encodings" >/dev/null
curl -sf -H "Authorization: Bearer $B" -H 'Content-Type: application/octet-stream' --data-binary "@$W/b.clk" "$U/projects/$P2/encodings" >/dev/null
t0=$(now)
c0=$(cpu_of "$PID")
R=$(post "$A" "/projects/$P2/runs" '{}' | jq -r .run_id)
while :; do
  st=$(curl -sf -H "Authorization: Bearer $A" "$U/projects/$P2/runs/$R/status")
  case $(echo "$st" | jq -r .state) in completed|failed) break;; esac
  sleep 0.1
done
t1=$(now)
c1=$(cpu_of "$PID")
API_S=$(calc "$t1 - $t0" 3)
API_CPU=$(calc "$c1 - $c0" 3)
echo "API run ${MN}x${MN}: $(echo "$st" | jq -r .state), $(echo "$st" | jq -r .groups) groups in ${API_S} s (POST run -> completed, polled every 0.1 s); stage seconds $(echo "$st" | jq -c .records.stage_seconds); server CPU ${API_CPU} s"
if "$BL" match --help >/dev/null 2>&1; then
  TIMEFORMAT='%U %S'
  t0=$(now); cpu=$({ time "$BL" match --threshold 0.9 -o "$W/pairs.csv" "$W/a.clk" "$W/b.clk" >/dev/null; } 2>&1 | tail -1); t1=$(now)
  CLI_S=$(calc "$t1 - $t0" 3)
  CLI_CPU=$(echo "$cpu" | awk '{print $1 + $2}')
  echo "CLI run (blindlink match --threshold 0.9): $(($(wc -l <"$W/pairs.csv") - 1)) lines in ${CLI_S} s, CPU ${CLI_CPU} s"
else
  TIMEFORMAT='%U %S'
  out=$({ time "$GEN" match "$W/a.clk" "$W/b.clk" 0.9; } 2>&1)
  CLI_S=$(echo "$out" | head -1 | sed -n 's/.* in \([0-9.]*\) s.*/\1/p')
  CLI_CPU=$(echo "$out" | tail -1 | awk '{print $1 + $2}')
  echo "CLI baseline (blindlink match unavailable; library in-process): $(echo "$out" | head -1), CPU ${CLI_CPU} s"
fi
echo "service overhead ratio (API / CLI): wall $(calc "$API_S / $CLI_S"), CPU $(calc "$API_CPU / $CLI_CPU")"

# ---- 3. status endpoint under wrk -------------------------------------------------------------
if command -v wrk >/dev/null; then
  for target in "run status (auth + grant check + audit append)|$U/projects/$P2/runs/$R/status|$A" "public /status (baseline)|$U/status|"; do
    IFS='|' read -r label url key <<<"$target"
    hdr=()
    [ -n "$key" ] && hdr=(-H "Authorization: Bearer $key")
    wrk -t2 -c16 -d"${WRK_SECS}s" --latency "${hdr[@]}" "$url" >"$W/wrk.txt" 2>&1 || true
    rps=$(awk '/Requests\/sec/{print $2}' "$W/wrk.txt")
    p99=$(awk '$1=="99%"{print $2}' "$W/wrk.txt")
    non2xx=$(awk '/Non-2xx/{print $NF}' "$W/wrk.txt"); non2xx=${non2xx:-0}
    sockerr=$(grep -c "Socket errors" "$W/wrk.txt" || true)
    echo "wrk $label: ${rps} req/s, p99 ${p99}, non-2xx ${non2xx}, socket-error lines ${sockerr}"
    [ -z "$key" ] && BASE_RPS=$rps || RUN_RPS=$rps
  done
  echo "status ratio (run status req/s / public status req/s): $(calc "$RUN_RPS / $BASE_RPS")"
  echo "audit entries after the benchmark: $(wc -l <"$D/audit.log")"
else
  echo "wrk not installed (apt-get install wrk): skipping the status benchmark"
fi
kill -TERM "$PID"; wait "$PID" || true; PID=""
"$BL" audit verify --public-key "$W/audit.pub" "$D"
