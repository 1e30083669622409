#!/usr/bin/env bash
# Minimisation verified, not only declared (issue 10): a project registers
# the linkage schema its parties encode with and maps each hashed feature to
# a scope. A schema hashing features beyond the project's scopes is refused
# (a project with scopes name+email cannot register a schema hashing date of
# birth and sex), so is a mapping that mislabels a plainly named feature; an
# upload made with another schema (different fingerprint), or with none, is
# refused; an upload made with the registered schema is stored.
. "$BL_SRC/tests/cli/lib.sh"
. "$BL_SRC/tests/service/lib_service.sh"
FX="$BL_FIXTURES/clkhash"
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 not installed"; exit 77; }

setup_world
# the full fixture schema hashes given_name, surname, dob, gender, email
FULL="$FX/schemas/schema1-blake.json"
# the minimal one hashes names and email only
jq '.features |= map(if .identifier=="dob" or .identifier=="gender" then {identifier, ignored: true} else . end)' \
  "$FULL" >"$T/minimal.json"
for s in full minimal; do
  sch=$FULL; [ $s = minimal ] && sch=$T/minimal.json
  expect_exit 0 "$BL" encode --quiet --format bin --ids id --secret-file "$FX/secret.txt" \
    "$FX/data/people-a.csv" "$sch" "$T/a-$s.clk"
done
"$BL" encode --quiet --format bin --ids id --secret-file "$FX/secret.txt" \
  "$FX/data/people-b.csv" "$T/minimal.json" "$T/b-minimal.clk"
start_server || { fail "server start"; finish; }

body() { # body SCHEMA_FILE FEATURES_JSON
  jq -n -c --slurpfile s "$1" --argjson f "$2" '{name:"min", purpose:"research",
    parties:["hospital","bank"], scopes:["name","email"], threshold:0.8, schema:$s[0], schema_features:$f}'
}
ALL='{"given_name":"name","surname":"name","dob":"date_of_birth","gender":"sex","email":"email"}'
body "$FULL" "$ALL" >"$T/p.json"
api POST /projects "$KEY_A" "@$T/p.json"
expect_problem 400 "exceeds the project's scopes" "schema hashing dob and sex refused for name+email"
assert_contains "$T/body" "dob"
body "$FULL" '{"given_name":"name","surname":"name","dob":"name","gender":"name","email":"email"}' >"$T/p.json"
api POST /projects "$KEY_A" "@$T/p.json"
expect_problem 400 "carries date_of_birth" "a mislabelled feature is refused"
body "$T/minimal.json" '{"given_name":"name","surname":"name"}' >"$T/p.json"
api POST /projects "$KEY_A" "@$T/p.json"
expect_problem 400 "'email'" "an unmapped hashed feature is refused"

api POST /projects "$KEY_A" '{"name":"x","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"schema":{"version":99},"schema_features":{}}'
expect_problem 400 "schema" "an invalid schema is refused with the reason"
api POST /projects "$KEY_A" '{"name":"x","purpose":"research","parties":["hospital","bank"],"scopes":["name"],"schema_features":{"a":"name"}}'
expect_problem 400 "go together" "a mapping without a schema is refused"
body "$T/minimal.json" '{"given_name":"name","surname":"name","email":"email"}' >"$T/p.json"
api POST /projects "$KEY_A" "@$T/p.json"
expect_code 201 "a schema within the scopes is registered"
P=$(jqb .id)
assert_eq "$(jqb .minimisation)" verified "minimisation verified"
FP=$(jqb .schema.fingerprint)
assert_eq "${#FP}" 64 "fingerprint registered"
assert_eq "$(jqb '.schema.features.email')" email "mapping registered"
accept_invitations "$P" "$KEY_H" "$KEY_B"
for p in a b; do
  key=$KEY_H; [ $p = b ] && key=$KEY_B
  ids=$(tail -n +2 "$FX/data/people-$p.csv" | cut -d, -f1 | jq -R . | jq -s -c 'map({subject: ., purposes: ["research"]})')
  api POST /consent "$key" "{\"subjects\":$ids}"
done

# ---- uploads must carry the registered fingerprint ------------------------------------
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/a-full.clk"
expect_problem 403 "differs from the one registered" "CLKs hashing dob and sex are refused"
expect_audit encodings.upload refused "differs from the one registered"
api POST "/projects/$P/encodings" "$KEY_H" '{"encodings":[{"subject":"a01","clk":"'"$(head -c 128 /dev/urandom | base64 -w0)"'"}]}'
expect_problem 400 "must carry its fingerprint" "a JSON upload without a fingerprint is refused"
api POST "/projects/$P/encodings" "$KEY_H" '{"schema_fingerprint":"'"$(printf '%064d' 0)"'","encodings":[{"subject":"a01","clk":"'"$(head -c 128 /dev/urandom | base64 -w0)"'"}]}'
expect_problem 403 "differs from the one registered" "a JSON upload with another fingerprint is refused"
upload_bin "/projects/$P/encodings" "$KEY_H" "$T/a-minimal.clk"
expect_code 201 "CLKs made with the registered schema are stored"
api POST "/projects/$P/encodings" "$KEY_B" '{"schema_fingerprint":"'"$FP"'","encodings":[{"subject":"b01","clk":"'"$(head -c 128 /dev/urandom | base64 -w0)"'"}]}'
expect_code 201 "a JSON upload quoting the registered fingerprint is stored"

# ---- the schema is part of every agreement ---------------------------------------------
api POST /projects "$KEY_A" '{"name":"plain","purpose":"research","parties":["hospital","bank"],"scopes":["name"]}'
expect_problem 400 "must register the linkage schema" "a project without a schema is refused"
expect_audit project.create refused "must register the linkage schema"
api GET /projects "$KEY_A"
assert_eq "$(jqb '[.projects[]|select(.name=="plain")]|length')" 0 "no project without a schema was created"
# a project stored without one (created before the schema was required)
# is shown unverified and receives no upload and no run
api POST /projects "$KEY_A" "$(body "$T/minimal.json" '{"given_name":"name","surname":"name","email":"email"}' | jq -c '.name="legacy"')"
expect_code 201 "second project with the schema"
P2=$(jqb .id)
accept_invitations "$P2" "$KEY_H" "$KEY_B"
stop_server
sqlite3 "$D/blindlink.db" "UPDATE projects SET schema_fingerprint=NULL, schema_features=NULL WHERE id='$P2'"
start_server || { fail "server restart"; finish; }
api GET "/projects/$P2" "$KEY_A"
assert_eq "$(jqb .minimisation)" unverified "a project without a schema: minimisation unverified"
upload_bin "/projects/$P2/encodings" "$KEY_H" "$T/a-minimal.clk"
expect_problem 403 "no registered linkage schema" "no binary upload to a project without a schema"
api POST "/projects/$P2/encodings" "$KEY_B" '{"schema_fingerprint":"'"$FP"'","encodings":[{"subject":"b01","clk":"'"$(head -c 128 /dev/urandom | base64 -w0)"'"}]}'
expect_problem 403 "no registered linkage schema" "no JSON upload to a project without a schema"
api POST "/projects/$P2/runs" "$KEY_A" '{}'
expect_problem 403 "no registered linkage schema" "no run on a project without a schema"
ls "$D/encodings" | grep -q "$P2" && fail "a refused upload left a file" || pass
stop_server
finish
