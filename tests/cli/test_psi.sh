#!/usr/bin/env bash
# tests/cli/test_psi.sh - `blindlink keygen` and `blindlink psi` with two real
# processes on loopback: known intersections (empty, full, duplicates), every
# mode, several identifiers, normalisation, refused keys, tampered frames, a
# killed or hung peer, garbage and a wrong protocol version, bad input.
# The listener binds port 0 and writes its port to a file, so runs never clash.
source "$(dirname "$0")/lib.sh"

# ---- keys --------------------------------------------------------------------
expect_exit 0 "$BL" keygen --out "$T/a.key"
assert_contains "$T/out" "blpsi-pub:"
assert_exists "$T/a.key.pub"
assert_eq "$(stat -c %a "$T/a.key")" "600" "private key mode"
expect_exit 0 "$BL" keygen --out "$T/b.key" --pub "$T/b.pub"
expect_exit 0 "$BL" keygen --out "$T/c.key"
expect_exit 2 "$BL" keygen --out "$T/a.key"            # refuses to overwrite
assert_contains "$T/err" "exists"
# --pub never replaces another key (a private key given there was replaced, exit 0)
cp "$T/a.key" "$T/a.key.bak"
expect_exit 2 "$BL" keygen --out "$T/n.key" --pub "$T/a.key"
assert_same "$T/a.key" "$T/a.key.bak"
assert_missing "$T/n.key"
expect_exit 2 "$BL" keygen --out "$T/k2" --pub "$T/k2"
assert_contains "$T/err" "--out and --pub name the same file"
expect_exit 2 "$BL" keygen --out "$T/k3" --pub "$T/nodir/p"
assert_missing "$T/k3"
APUB="$T/a.key.pub"; BPUB="$T/b.pub"; CPUB="$T/c.key.pub"

# run_pair NAME "A-ARGS" "B-ARGS" : A listens, B connects; exit codes in $RA $RB,
# stdout/stderr in $T/NAME.{a,b}.{out,err}
run_pair() {
  local name=$1 aargs=$2 bargs=$3 pf="$T/$1.port"
  rm -f "$pf"
  # shellcheck disable=SC2086
  "$BL" psi --listen 127.0.0.1:0 --port-file "$pf" --timeout 20 --key "$T/a.key" $aargs \
    >"$T/$name.a.out" 2>"$T/$name.a.err" &
  local apid=$!
  for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
  if [ ! -s "$pf" ]; then fail "$name: listener did not start"; kill "$apid"; wait "$apid"; RA=99; RB=99; return; fi
  # shellcheck disable=SC2086
  "$BL" psi --connect "127.0.0.1:$(cat "$pf")" --timeout 20 --key "$T/b.key" $bargs \
    >"$T/$name.b.out" 2>"$T/$name.b.err"
  RB=$?
  wait "$apid"; RA=$?
}

cat >"$T/a.csv" <<'EOF'
id,email,phone
a1,Alice@Example.com,+44 20 7946 0958
a2,bob@example.com,
a3,carol@x.org,07700 900123
a4,dave@y.org,555
a5,BOB@example.com,
a6,,
EOF
cat >"$T/b.csv" <<'EOF'
uid,mail,tel
b1,alice@example.com ,
b2,zed@example.com,+447700900123
b3,bob@EXAMPLE.com,
b4,erin@z.org,020 7946 0958
EOF

# ---- mode both, two identifiers, duplicates -----------------------------------
run_pair both "--peer-key $BPUB --email email --phone phone --phone-country GB --id-column id --out $T/a.out $T/a.csv" \
              "--peer-key $APUB --email mail --phone tel --phone-country GB --id-column uid --out $T/b.out $T/b.csv"
assert_eq "$RA/$RB" "0/0" "both: exit codes"
printf 'id,matched_on\na1,email\na2,email\na3,phone\n' >"$T/want_a"
printf 'uid,matched_on\nb1,email\nb2,phone\nb3,email\n' >"$T/want_b"
assert_same "$T/a.out" "$T/want_a"
assert_same "$T/b.out" "$T/want_b"
assert_contains "$T/both.a.out" "intersection=3"
assert_contains "$T/both.a.out" "peer_records=4"
assert_contains "$T/both.b.out" "own_records=4"
assert_contains "$T/both.a.err" "a.csv:5:3 (phone)"          # reported, not dropped silently
assert_contains "$T/both.a.err" "1 duplicates"
assert_not_contains "$T/a.out" "example.com"                  # never identifiers, own or peer's
assert_eq "$(stat -c %a "$T/a.out")" "600" "output mode"

# ---- --json summary, -o for the rows, -j for threads ------------------------------
run_pair json "--peer-key $BPUB --email email --phone phone --phone-country GB --id-column id -j 2 --json -o $T/aj.out $T/a.csv" \
              "--peer-key $APUB --email mail --phone tel --phone-country GB --id-column uid --out $T/bj.out $T/b.csv"
assert_eq "$RA/$RB" "0/0" "json: exit codes"
assert_same "$T/aj.out" "$T/want_a"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["mode"]=="both" and d["intersection"]==3 and d["peer_records"]==4 and d["matched_on"]=={"email":2,"phone":1} and d["bytes_sent"]>0' "$T/json.a.out" && pass || fail "psi --json: $(cat "$T/json.a.out")"
assert_not_contains "$T/json.a.err" "rows, "   # no text summary lines with --json

# ---- priority: a record matches on the first type that hits, one-to-one --------
# P1 has A's email and B's... : B record q1 carries x's email and y's phone
cat >"$T/pa.csv" <<'EOF'
id,email,phone
x,x@example.com,+12015550100
y,y@example.com,+12015550111
EOF
cat >"$T/pb.csv" <<'EOF'
id,email,phone
q1,x@example.com,+12015550111
q2,nobody@example.com,+12015550100
EOF
run_pair prio "--peer-key $BPUB --email email --phone phone --id-column id --out $T/pa.out $T/pa.csv" \
              "--peer-key $APUB --email email --phone phone --id-column id --out $T/pb.out $T/pb.csv"
assert_eq "$RA/$RB" "0/0" "priority: exit codes"
printf 'id,matched_on\nx,email\n' >"$T/want"
assert_same "$T/pa.out" "$T/want"     # y's phone hits q1, but q1 is taken by x's email
printf 'id,matched_on\nq1,email\n' >"$T/want"
assert_same "$T/pb.out" "$T/want"     # q2's phone hits x, taken too

# ---- empty and full intersections; an empty set -------------------------------
printf 'email\nu1@a.org\nu2@a.org\nu3@a.org\n' >"$T/s1.csv"
printf 'email\nv1@a.org\nv2@a.org\n' >"$T/s2.csv"
run_pair empty "--peer-key $BPUB --email email --out $T/e1.out $T/s1.csv" \
               "--peer-key $APUB --email email --out $T/e2.out $T/s2.csv"
assert_eq "$RA/$RB" "0/0" "empty: exit codes"
assert_eq "$(cat "$T/e1.out")" "row,matched_on" "empty: header only"
assert_contains "$T/empty.b.out" "intersection=0"
printf 'email\nU3@A.ORG\nu1@a.org\nu2@a.org\n' >"$T/s3.csv"
run_pair full "--peer-key $BPUB --email email --out $T/f1.out $T/s1.csv" \
              "--peer-key $APUB --email email --out $T/f2.out $T/s3.csv"
assert_eq "$RA/$RB" "0/0" "full: exit codes"
printf 'row,matched_on\n1,email\n2,email\n3,email\n' >"$T/want"
assert_same "$T/f1.out" "$T/want"
assert_same "$T/f2.out" "$T/want"
printf 'email\n\n"   "\n' >"$T/none.csv"
run_pair noneset "--peer-key $BPUB --email email --out $T/n1.out $T/s1.csv" \
                 "--peer-key $APUB --email email --out $T/n2.out $T/none.csv"
assert_eq "$RA/$RB" "0/0" "empty set: exit codes"
assert_contains "$T/noneset.a.out" "peer_records=0"
assert_eq "$(cat "$T/n2.out")" "row,matched_on" "empty set: header only"

# ---- one-sided and cardinality modes ---------------------------------------------
run_pair recv "--mode receive --peer-key $BPUB --email email --out $T/r1.out $T/s1.csv" \
              "--mode send --peer-key $APUB --email email $T/s3.csv"
assert_eq "$RA/$RB" "0/0" "receive/send: exit codes"
printf 'row,matched_on\n1,email\n2,email\n3,email\n' >"$T/want"
assert_same "$T/r1.out" "$T/want"
assert_contains "$T/recv.b.out" "intersection=not-learned"
assert_contains "$T/recv.b.out" "peer_records=3"
run_pair send "--mode send --peer-key $BPUB --email email $T/s1.csv" \
              "--mode receive --peer-key $APUB --email email --out $T/r2.out $T/s2.csv"
assert_eq "$RA/$RB" "0/0" "send/receive: exit codes"
assert_eq "$(cat "$T/r2.out")" "row,matched_on" "send/receive: no match"
assert_contains "$T/send.a.out" "intersection=not-learned"
run_pair count "--mode count --peer-key $BPUB --email email --phone phone --phone-country GB $T/a.csv" \
               "--mode count --peer-key $APUB --email mail --phone tel --phone-country GB $T/b.csv"
assert_eq "$RA/$RB" "0/0" "count: exit codes"
assert_contains "$T/count.a.out" "intersection=3"
assert_contains "$T/count.b.out" "intersection=3"
assert_contains "$T/count.b.out" "matched_on_phone=1"
expect_exit 2 "$BL" psi --mode count --connect 127.0.0.1:1 --peer-key "$APUB" --key "$T/b.key" --email email --out "$T/x" "$T/s1.csv"
assert_contains "$T/err" "learns no rows"
# mismatched modes are refused
run_pair mism "--mode both --peer-key $BPUB --email email --out $T/m1.out $T/s1.csv" \
              "--mode receive --peer-key $APUB --email email --out $T/m2.out $T/s2.csv"
assert_eq "$RA/$RB" "1/1" "mode mismatch: exit codes"
assert_contains "$T/mism.b.err" "mode mismatch"
assert_missing "$T/m1.out"; assert_missing "$T/m2.out"
# mismatched identifier types are refused
run_pair tmism "--peer-key $BPUB --email email --out $T/m1.out $T/s1.csv" \
               "--peer-key $APUB --phone email --phone-country GB --out $T/m2.out $T/s2.csv"
assert_eq "$RA/$RB" "1/1" "type mismatch: exit codes"
assert_contains "$T/tmism.a.err" "identifier mismatch"

# ---- email provider rules must agree; gmail rule works ------------------------------
printf 'email\nJohn.Smith+news@googlemail.com\n' >"$T/g1.csv"
printf 'email\njohnsmith@gmail.com\n' >"$T/g2.csv"
run_pair gmail "--email-rules gmail --peer-key $BPUB --email email --out $T/g1.out $T/g1.csv" \
               "--email-rules gmail --peer-key $APUB --email email --out $T/g2.out $T/g2.csv"
assert_eq "$RA/$RB" "0/0" "gmail: exit codes"
assert_contains "$T/gmail.a.out" "intersection=1"
run_pair rules "--email-rules gmail --peer-key $BPUB --email email --out $T/g1.out2 $T/g1.csv" \
               "--peer-key $APUB --email email --out $T/g2.out2 $T/g2.csv"
assert_eq "$RA/$RB" "1/1" "rules mismatch: exit codes"
assert_contains "$T/rules.a.err" "email normalisation rules differ"

# ---- name + date of birth -------------------------------------------------------------
printf 'first,last,dob\nJos\xc3\xa9,Garc\xc3\xada,07/03/1985\nAnn,Lee,01/01/1990\n' >"$T/n1.csv"
printf 'given,family,born\n JOSE\xcc\x81 ,GARC\xc3\x8dA,1985-03-07\nAnn,Lee,1990-01-02\n' >"$T/n2.csv"
run_pair namedob "--peer-key $BPUB --namedob first,last,dob --dob-format %d/%m/%Y --out $T/nd1.out $T/n1.csv" \
                 "--peer-key $APUB --namedob given,family,born --out $T/nd2.out $T/n2.csv"
assert_eq "$RA/$RB" "0/0" "namedob: exit codes"
printf 'row,matched_on\n1,namedob\n' >"$T/want"
assert_same "$T/nd1.out" "$T/want"
assert_same "$T/nd2.out" "$T/want"

# ---- key from the environment -------------------------------------------------------------
pf="$T/env.port"
BLINDLINK_PSI_KEY="$(cat "$T/a.key")" "$BL" psi --listen 127.0.0.1:0 --port-file "$pf" --timeout 20 \
  --peer-key "$BPUB" --email email --out "$T/env.out" "$T/s1.csv" >"$T/env.a.out" 2>"$T/env.a.err" &
apid=$!
for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
expect_exit 0 "$BL" psi --connect "127.0.0.1:$(cat "$pf")" --timeout 20 --key "$T/b.key" \
  --peer-key "$APUB" --email email --out "$T/env2.out" "$T/s3.csv"
wait $apid; assert_eq "$?" "0" "key from environment"

# ---- refused keys -------------------------------------------------------------------------
# A pins C's key, B connects with its own: refused before any data
run_pair wrongkey "--peer-key $CPUB --email email --out $T/w1.out $T/s1.csv" \
                  "--peer-key $APUB --email email --out $T/w2.out $T/s2.csv"
assert_eq "$RA/$RB" "1/1" "wrong key: exit codes"
assert_contains "$T/wrongkey.a.err" "is not the pinned key"
assert_contains "$T/wrongkey.b.err" "not the one pinned"
assert_missing "$T/w1.out"; assert_missing "$T/w2.out"
assert_missing "$T/wrongkey.port"
# B pins the wrong key for A
run_pair wrongkey2 "--peer-key $BPUB --email email --out $T/w1.out $T/s1.csv" \
                   "--peer-key $CPUB --email email --out $T/w2.out $T/s2.csv"
assert_eq "$RA/$RB" "1/1" "wrong key 2: exit codes"
assert_contains "$T/wrongkey2.b.err" "is not the pinned key"
assert_missing "$T/w1.out"; assert_missing "$T/w2.out"

# ---- faults mid-run (test hooks: docs/psi.md) -----------------------------------------------
seq 1 300 | awk 'BEGIN{print "email"} {print "user" $1 "@example.com"}' >"$T/big1.csv"
seq 150 450 | awk 'BEGIN{print "email"} {print "user" $1 "@example.com"}' >"$T/big2.csv"
# a frame flipped in transit
BL_PSI_TEST_CORRUPT=3 run_pair tamper "--batch 16 --peer-key $BPUB --email email --out $T/t1.out $T/big1.csv" \
                                      "--batch 16 --peer-key $APUB --email email --out $T/t2.out $T/big2.csv"
assert_eq "$RA/$RB" "1/1" "tampered frame: exit codes"
grep -qF "failed authentication" "$T/tamper.a.err" "$T/tamper.b.err" && pass || fail "tamper not reported"
assert_missing "$T/t1.out"; assert_missing "$T/t2.out"
# the peer sends the identity element: rejected
BL_PSI_TEST_IDENTITY=1 run_pair ident "--peer-key $BPUB --email email --out $T/i1.out $T/big1.csv" \
                                      "--peer-key $APUB --email email --out $T/i2.out $T/big2.csv"
assert_eq "$RA/$RB" "1/1" "identity points: exit codes"
grep -qF "invalid or identity group element" "$T/ident.a.err" "$T/ident.b.err" && pass || fail "identity point not reported"
assert_missing "$T/i1.out"; assert_missing "$T/i2.out"
# the peer is killed (SIGKILL) after its 4th frame
pf="$T/kill.port"
"$BL" psi --listen 127.0.0.1:0 --port-file "$pf" --timeout 20 --key "$T/a.key" --batch 16 \
  --peer-key "$BPUB" --email email --out "$T/k1.out" "$T/big1.csv" >"$T/kill.a.out" 2>"$T/kill.a.err" &
apid=$!
for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
BL_PSI_TEST_DIE_AFTER=4 "$BL" psi --connect "127.0.0.1:$(cat "$pf")" --key "$T/b.key" --batch 16 \
  --peer-key "$APUB" --email email --out "$T/k2.out" "$T/big2.csv" >/dev/null 2>&1
assert_eq "$?" "137" "killed peer died by SIGKILL"
wait $apid; assert_eq "$?" "1" "killed peer: survivor exit code"
grep -qE "peer (closed|reset) the connection" "$T/kill.a.err" && pass || { fail "killed peer not reported"; cat "$T/kill.a.err" >&2; }
assert_missing "$T/k1.out"; assert_missing "$T/k2.out"
# the peer hangs: timeout
pf="$T/hang.port"
"$BL" psi --listen 127.0.0.1:0 --port-file "$pf" --timeout 2 --key "$T/a.key" --batch 16 \
  --peer-key "$BPUB" --email email --out "$T/h1.out" "$T/big1.csv" >"$T/hang.a.out" 2>"$T/hang.a.err" &
apid=$!
for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
BL_PSI_TEST_STALL_AFTER=2 "$BL" psi --connect "127.0.0.1:$(cat "$pf")" --key "$T/b.key" \
  --peer-key "$APUB" --email email --out "$T/h2.out" "$T/big2.csv" >/dev/null 2>&1 &
bpid=$!
wait $apid; assert_eq "$?" "1" "hung peer: exit code"
assert_contains "$T/hang.a.err" "timeout"
kill -9 $bpid 2>/dev/null; wait $bpid 2>/dev/null
assert_missing "$T/h1.out"
# nobody connects
expect_exit 1 "$BL" psi --listen 127.0.0.1:0 --timeout 1 --key "$T/a.key" --peer-key "$BPUB" \
  --email email --out "$T/n.out" "$T/s1.csv"
assert_contains "$T/err" "no peer connected"
assert_missing "$T/n.out"

# ---- garbage and a wrong protocol version from the "peer" ------------------------------------
peer_bytes() { # NAME PRINTF-FORMAT
  local pf="$T/$1.port"
  "$BL" psi --listen 127.0.0.1:0 --port-file "$pf" --timeout 5 --key "$T/a.key" --peer-key "$BPUB" \
    --email email --out "$T/$1.csvout" "$T/s1.csv" >"$T/$1.out" 2>"$T/$1.err" &
  local apid=$!
  for _ in $(seq 200); do [ -s "$pf" ] && break; sleep 0.05; done
  (exec 3<>"/dev/tcp/127.0.0.1/$(cat "$pf")"; printf "$2" >&3; sleep 1) 2>/dev/null
  wait $apid; RA=$?
}
peer_bytes garbage 'GET / HTTP/1.1\r\nHost: x\r\n\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'
assert_eq "$RA" "1" "garbage: exit code"
assert_contains "$T/garbage.err" "not a blindlink psi endpoint"
assert_missing "$T/garbage.csvout"
peer_bytes version 'BLPSI\000\r\n\002\000\000\000AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
assert_eq "$RA" "1" "version: exit code"
assert_contains "$T/version.err" "peer speaks blindlink psi version 2"

# ---- bad input: exit 2 with file, line and column, before any network -----------------------
printf 'id,email\n1,a@b.org\n2,"unterminated\n' >"$T/bad.csv"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$APUB" --email email --out "$T/nodir/m.csv" "$T/s1.csv"
assert_contains "$T/err" "cannot write -o/--out '$T/nodir/m.csv': its folder does not exist"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$APUB" --email email --out "$T/x.out" "$T/bad.csv"
assert_contains "$T/err" "bad.csv:4: malformed CSV"
printf 'id,email\n1,a@b.org\n2,c@d.org,extra\n' >"$T/ragged.csv"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$APUB" --email email --out "$T/x.out" "$T/ragged.csv"
assert_contains "$T/err" "ragged.csv:3:3"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$APUB" --email mail --out "$T/x.out" "$T/s1.csv"
assert_contains "$T/err" "s1.csv:1: missing identifier column 'mail'"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$APUB" --strict --email email --phone phone --phone-country GB --out "$T/x.out" "$T/a.csv"
assert_contains "$T/err" "a.csv:5:3 (phone): phone number too short"
assert_missing "$T/x.out"
# rejects file lists every value that did not normalise
run_pair rej "--rejects $T/rej.csv --peer-key $BPUB --email email --phone phone --phone-country GB --out $T/rj1.out $T/a.csv" \
             "--peer-key $APUB --email mail --phone tel --phone-country GB --out $T/rj2.out $T/b.csv"
assert_eq "$RA/$RB" "0/0" "rejects: exit codes"
assert_contains "$T/rej.csv" "a.csv:5:3 (phone): phone number too short"
assert_contains "$T/rej.csv" "4,"
# usage errors
chmod 644 "$T/c.key"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/c.key" --peer-key "$APUB" --email email --out "$T/x.out" "$T/s1.csv"
assert_contains "$T/err" "chmod 600"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$T/nonexistent" --email email --out "$T/x.out" "$T/s1.csv"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$APUB" --out "$T/x.out" "$T/s1.csv"
assert_contains "$T/err" "at least one identifier"
expect_exit 2 "$BL" psi --key "$T/b.key" --peer-key "$APUB" --email email --out "$T/x.out" "$T/s1.csv"
expect_exit 2 "$BL" psi --connect 127.0.0.1:1 --key "$T/b.key" --peer-key "$APUB" --email email "$T/s1.csv"
assert_contains "$T/err" "--out FILE is required"
env -u BLINDLINK_PSI_KEY "$BL" psi --connect 127.0.0.1:1 --peer-key "$APUB" --email email --out "$T/x.out" "$T/s1.csv" >/dev/null 2>"$T/err"
assert_eq "$?" "2" "no key: exit code"
expect_exit 0 "$BL" psi --help
assert_contains "$T/out" "--mode MODE"
finish
