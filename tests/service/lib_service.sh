# tests/service/lib_service.sh - helpers for service tests: start/stop a real
# `blindlink serve` on a free loopback port, call the API with curl, read
# JSON with jq, and set up a small world of organisations and keys.
# Source after tests/cli/lib.sh.
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/deps.sh)"; exit 77; }
done
D="$T/data"
SERVER_PID=""
URL=""
trap 'stop_server_hard; rm -rf "$T"' EXIT
# the audit signing key lives outside the data directory, 0600; the server
# and `blindlink admin` find it through BLINDLINK_AUDIT_KEY (never on argv)
"$BL" audit keygen --secret-key "$T/audit.key" --public-key "$T/audit.pub" >/dev/null 2>&1 ||
  { echo "cannot create the audit signing key"; exit 1; }
export BLINDLINK_AUDIT_KEY="$T/audit.key"

# Every project registers the linkage schema its parties encode with
# (minimisation is verified, never only declared). The tests' schema hashes
# one feature, "token": an identifier with no plain meaning, so it may map to
# any scope. Its fingerprint goes into every upload the helpers make.
SCHEMA_FILE="$BL_FIXTURES/service/schema.json"
SCHEMA_FP=$("$BL" schema describe --json "$SCHEMA_FILE" | jq -r .fingerprint)
[ "${#SCHEMA_FP}" = 64 ] || { echo "cannot read the fingerprint of $SCHEMA_FILE"; exit 1; }
# with_schema PROJECT_JSON : the project body plus the tests' schema, its
# feature mapped to the project's first scope
with_schema() {
  jq -c --slurpfile s "$SCHEMA_FILE" '. + {schema: $s[0], schema_features: {token: .scopes[0]}}' <<<"$1"
}
# FPJ : the JSON member naming the schema an upload was made with
FPJ="\"schema_fingerprint\":\"$SCHEMA_FP\""

# kat_encode : the clkhash fixtures people-a/b encoded (binary, with ids) to
# $T/a.clk and $T/b.clk with schema1-blake. Needs $FX.
kat_encode() {
  local p
  for p in a b; do
    expect_exit 0 "$BL" encode --quiet --format bin --ids id --secret-file "$FX/secret.txt" \
      "$FX/data/people-$p.csv" "$FX/schemas/schema1-blake.json" "$T/$p.clk"
  done
}
# kat_consent : consent for research for every id of people-a (hospital) and
# people-b (bank)
kat_consent() {
  local p key ids
  for p in a b; do
    key=$KEY_H; [ $p = b ] && key=$KEY_B
    ids=$(tail -n +2 "$FX/data/people-$p.csv" | cut -d, -f1 | jq -R . | jq -s -c 'map({subject: ., purposes: ["research"]})')
    api POST /consent "$key" "{\"subjects\":$ids}"
    expect_code 200 "consent $p"
  done
}
# kat_project NAME : a project for the clkhash schema1-blake fixtures (it
# hashes names, date of birth, gender and email, so the project asks for those
# scopes; date_of_birth and sex are extended scopes: agreement and both
# owners' approvals first). Sets P; needs KEY_A, KEY_H, KEY_B and $FX.
kat_project() {
  jq -n -c --arg n "$1" --slurpfile s "$FX/schemas/schema1-blake.json" '{name:$n, purpose:"research",
    parties:["hospital","bank"], scopes:["name","email","date_of_birth","sex"], threshold:0.8,
    schema:$s[0], schema_features:{given_name:"name", surname:"name", dob:"date_of_birth",
    gender:"sex", email:"email"}}' >"$T/project.json"
  api POST /projects "$KEY_A" "@$T/project.json"
  expect_code 201 "project with the encoding schema registered"
  P=$(jqb .id)
  accept_invitations "$P" "$KEY_H" "$KEY_B"
  local doc k
  doc=$(printf '%s agreement' "$1" | sha256sum | cut -d' ' -f1)
  api POST "/projects/$P/agreement" "$KEY_A" "{\"contract_ref\":\"$1-1\",\"document_sha256\":\"$doc\"}"
  expect_code 200 "agreement registered"
  for k in "$KEY_H" "$KEY_B"; do
    api POST "/projects/$P/approve" "$k" "{\"document_sha256\":\"$doc\"}"
    expect_code 200 "owner approves"
  done
}
# start_server [extra serve options...] ; LISTEN_HOST (default 127.0.0.1) may be [::1]
start_server() {
  rm -f "$T/port"
  "$BL" serve --data-dir "$D" --listen "${LISTEN_HOST:-127.0.0.1}:0" --port-file "$T/port" --quiet \
    --http-threads 2 --janitor 1 "$@" 2>>"$T/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    [ -s "$T/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died:"; cat "$T/server.log"; return 1; }
    sleep 0.05
  done
  [ -s "$T/port" ] || { echo "server did not start"; return 1; }
  URL="http://${LISTEN_HOST:-127.0.0.1}:$(cat "$T/port")/api/v1"
}
stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
  check_server_log
}
# a sanitizer build of the server reports memory errors on stderr
check_server_log() {
  if grep -q "Sanitizer\|runtime error" "$T/server.log" 2>/dev/null; then
    fail "sanitizer report in the server log"; grep -A20 "Sanitizer\|runtime error" "$T/server.log" | head -40 >&2
    : >"$T/server.log"
  fi
}
stop_server_hard() {
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}
server_alive() { kill -0 "$SERVER_PID" 2>/dev/null; }

# api METHOD PATH KEY [JSON|@file] : body in $T/body (or $BODYF, for
# concurrent clients), status in $CODE
api() {
  local method=$1 path=$2 key=$3 data=${4-}
  local args=(-s -m "${API_TIMEOUT:-20}" -o "${BODYF:-$T/body}" -w '%{http_code}' -X "$method" -H "Authorization: Bearer $key")
  if [ -n "$data" ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$data")
  fi
  CODE=$(curl "${args[@]}" "$URL$path")
}
# upload_bin PATH KEY FILE : streamed binary upload
upload_bin() {
  CODE=$(curl -s -m "${API_TIMEOUT:-60}" -o "${BODYF:-$T/body}" -w '%{http_code}' -X POST -H "Authorization: Bearer $2" \
    -H 'Content-Type: application/octet-stream' --data-binary "@$3" "$URL$1")
}
jqb() { jq -r "$1" "${BODYF:-$T/body}"; }
# expect_code WANT LABEL : check $CODE (and a problem+json detail on errors)
expect_code() {
  if [ "$CODE" = "$1" ]; then pass; else fail "$2: expected HTTP $1, got $CODE: $(head -c 300 "$T/body")"; fi
}
# expect_problem CODE TEXT LABEL : error status, problem JSON, detail contains TEXT
expect_problem() {
  expect_code "$1" "$3"
  if jq -e --arg t "$2" '(.status|type)=="number" and (.detail|contains($t))' "$T/body" >/dev/null 2>&1; then pass
  else fail "$3: problem detail lacks '$2': $(head -c 300 "$T/body")"; fi
}
# expect_audit ACTION DECISION TEXT : the audit log has such an entry
expect_audit() {
  if jq -e -s --arg a "$1" --arg d "$2" --arg t "$3" \
      'map(select(.action==$a and .decision==$d and (.reason|contains($t)))) | length > 0' \
      "$D/audit.log" >/dev/null; then pass
  else fail "audit log lacks $1/$2 with '$3'"; fi
}

admin() { "$BL" admin --data-dir "$D" "$@"; }
# new_key ORG ROLE [extra] -> prints the key
new_key() { admin key add "$@" | head -1; }

# setup_world: orgs hospital, bank (data owners), analytics (analyst), regulator (auditor)
setup_world() {
  ADMIN=$(admin bootstrap operator 2>/dev/null | head -1)
  ORG_H=$(admin org add hospital --kind hospital)
  ORG_B=$(admin org add bank --kind bank)
  ORG_A=$(admin org add analytics --kind research)
  ORG_X=$(admin org add othercorp --kind platform)
  ORG_R=$(admin org add regulator --kind regulator)
  KEY_H=$(new_key hospital data_owner)
  KEY_B=$(new_key bank data_owner)
  KEY_A=$(new_key analytics analyst)
  KEY_X=$(new_key othercorp data_owner)
  KEY_XA=$(new_key othercorp analyst)
  KEY_R=$(new_key regulator auditor)
}

# random_clk : base64 of 128 random bytes (1024-bit filter)
random_clk() { head -c 128 /dev/urandom | base64 -w0; }

# make_encodings OUT PREFIX N [SHARED_FILE] : JSON upload body with subjects
# PREFIX001..; the first lines of SHARED_FILE (one base64 per line) are reused
# so that two parties share those filters.
make_encodings() {
  local out=$1 prefix=$2 n=$3 shared=${4-} i clk
  {
    echo "{$FPJ,\"encodings\":["
    for i in $(seq 1 "$n"); do
      clk=""
      [ -n "$shared" ] && clk=$(sed -n "${i}p" "$shared")
      [ -n "$clk" ] || clk=$(random_clk)
      [ "$i" -gt 1 ] && echo ','
      printf '{"subject":"%s%03d","clk":"%s"}' "$prefix" "$i" "$clk"
    done
    echo ']}'
  } >"$out"
}

# consent_all KEY PREFIX N PURPOSE [SKIP...] : opt subjects in
consent_all() {
  local key=$1 prefix=$2 n=$3 purpose=$4; shift 4
  local skip=" $* " i first=1
  {
    echo '{"subjects":['
    for i in $(seq 1 "$n"); do
      local s; s=$(printf '%s%03d' "$prefix" "$i")
      case "$skip" in *" $s "*) continue;; esac
      [ $first -eq 0 ] && echo ','
      first=0
      printf '{"subject":"%s","purposes":["%s"]}' "$s" "$purpose"
    done
    echo ']}'
  } >"${BODYF:-$T/body}.consent.json"
  api POST /consent "$key" "@${BODYF:-$T/body}.consent.json"
}

# wait_run PID RID KEY : poll status until completed/failed (max ~30 s)
wait_run() {
  local i state
  for i in $(seq 1 300); do
    api GET "/projects/$1/runs/$2/status" "$3"
    state=$(jqb .state)
    case "$state" in completed|failed) echo "$state"; return;; esac
    sleep 0.1
  done
  echo "timeout"
}

# ---- binary CLK files with chosen ids ----------------------------------------------
le32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)))"; }
# make_bin_ids OUT ID... : blindlink binary CLK file (1024 bits, made with the
# tests' schema) with these ids
make_bin_ids() {
  local out=$1 id LC_ALL=C; shift # byte lengths, also for ids that are not UTF-8
  {
    printf 'BLCLK\x00\r\n'; le32 1; le32 1024; le32 "$#"; le32 0; le32 128; le32 3
    printf '%s' "$SCHEMA_FP" | xxd -r -p # the schema fingerprint
    head -c $((128 * $#)) /dev/urandom
    for id in "$@"; do le32 ${#id}; printf '%s' "$id"; done
  } >"$out.body"
  cat "$out.body" >"$out"
  b2sum -l 256 "$out.body" | cut -d' ' -f1 | xxd -r -p >>"$out"
  rm -f "$out.body"
}
# make_bin OUT PREFIX N : the same with ids PREFIX001..PREFIXnnn
make_bin() {
  local out=$1 prefix=$2 n=$3 i ids=()
  for i in $(seq 1 "$n"); do ids+=("$(printf '%s%03d' "$prefix" "$i")"); done
  make_bin_ids "$out" "${ids[@]}"
}

# raw_open FD : open a raw TCP connection to the server on file descriptor FD
# (bash /dev/tcp, loopback only) for requests curl cannot send (half bodies).
raw_open() { eval "exec $1<>/dev/tcp/127.0.0.1/$(cat "$T/port")"; }
raw_close() { eval "exec $1>&-"; }
# audit_lines : number of entries in the audit log
audit_lines() { wc -l <"$D/audit.log"; }

# accept_invitations PID KEY... : each data owner key accepts its invitation
# to the project (a party joins only by accepting)
accept_invitations() {
  local pid=$1 k; shift
  for k in "$@"; do
    api POST "/projects/$pid/accept" "$k" '{}'
    [ "$CODE" = 200 ] || fail "accept invitation to $pid: HTTP $CODE $(head -c 200 "$T/body")"
  done
}
