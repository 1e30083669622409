#!/usr/bin/env bash
# tests/cli/test_model.sh - field-level encodings and Fellegi-Sunter linkage
# end to end: the exact documented pipeline (encode --layout fields,
# match --model auto, eval) on generated dirty data, train/explain, hand-fixed
# m in a model file, record-level output unchanged, and exit 2 with a message
# naming the problem for mixed layouts, metadata and models of another schema.
. "$(dirname "$0")/lib.sh"
SCHEMA=$BL_SRC/examples/model-schema.json
printf 'model-test-secret\n' > "$T/S"
"$BL" synth -n 2000 --level high --seed 11 -o "$T/d" >/dev/null 2>&1 || fail "synth"
A=$T/d-1.csv; B=$T/d-2.csv

# the pipeline of docs/model.md, verbatim
expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$A" "$SCHEMA" "$T/a.clk"
expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$B" "$SCHEMA" "$T/b.clk"
expect_exit 0 "$BL" match --model auto -o "$T/matches.csv" "$T/a.clk" "$T/b.clk"
assert_eq "$(head -1 "$T/matches.csv")" "a_index,b_index,score,weight,probability,a_id,b_id" "pairs header"
expect_exit 0 "$BL" eval --truth febrl --data "$A" --data "$B" "$T/matches.csv"
f1=$(awk '$1 == "F1" {print $2}' "$T/out")
if python3 -c "import sys; sys.exit(0 if float('$f1') >= 0.95 else 1)"; then pass; else fail "F1 $f1 < 0.95 on the high-error set"; fi

# the prior bound (docs/model.md): no decision links a record with more
# than one of each other input, so the prior of a random pair is at most
# min(Na, Nb) / (Na x Nb). Every B record three times over: EM's candidate
# prior times candidates / all pairs is above that, the model says 1/6000.
{ head -1 "$B"; tail -n +2 "$B" | awk -F, '{for (i = 0; i < 3; i++) {x = $0; sub(/^[^,]*/, $1 "-c" i, x); print x}}'; } > "$T/b3.csv"
expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$T/b3.csv" "$SCHEMA" "$T/b3.clk"
expect_exit 0 "$BL" train -o "$T/m3.json" "$T/a.clk" "$T/b3.clk"
python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))
bound = 2000 / (2000 * 6000)
assert m['prior_candidates'] * m['training']['candidate_pairs'] / (2000 * 6000) > bound, 'the bound does not bind here'
assert m['prior'] == bound, m['prior']
" "$T/m3.json" && pass || fail "prior of a random pair capped at min(Na, Nb) / (Na x Nb)"

# keyed field-value blocks (the default above 4e9 pairs), forced here: as good
expect_exit 0 "$BL" match --model auto --blocking lsh -o "$T/mfb.csv" "$T/a.clk" "$T/b.clk"
expect_exit 0 "$BL" eval --truth febrl --data "$A" --data "$B" "$T/mfb.csv"
f1b=$(awk '$1 == "F1" {print $2}' "$T/out")
if python3 -c "import sys; sys.exit(0 if float('$f1b') >= 0.95 else 1)"; then pass; else fail "F1 $f1b < 0.95 with field blocks"; fi
# the streamed field blocks give the candidates of the match layer's
# external blocks (BL_MODEL_BLOCK=match), and the same for any thread count;
# three parties too (every dataset pair, its own top-k)
expect_exit 0 "$BL" match --model auto --blocking lsh -f candidates -j 1 -o "$T/fb1.csv" "$T/a.clk" "$T/b.clk"
expect_exit 0 "$BL" match --model auto --blocking lsh -f candidates -j 3 -o "$T/fb3.csv" "$T/a.clk" "$T/b.clk"
expect_exit 0 env BL_MODEL_BLOCK=match "$BL" match --model auto --blocking lsh -f candidates -o "$T/fbm.csv" "$T/a.clk" "$T/b.clk"
assert_same "$T/fb1.csv" "$T/fb3.csv"
assert_same "$T/fb1.csv" "$T/fbm.csv"
# the decision scores the field blocks' pairs in block order: the pairs of
# the anonlink-ordered candidates of the match layer (tiles), for any
# thread count and with the work order forced either way
expect_exit 0 "$BL" match --model auto --blocking lsh -j 1 -o "$T/mfb1.csv" "$T/a.clk" "$T/b.clk"
expect_exit 0 "$BL" match --model auto --blocking lsh -j 3 -o "$T/mfb3.csv" "$T/a.clk" "$T/b.clk"
expect_exit 0 env BL_MODEL_BLOCK=match "$BL" match --model auto --blocking lsh -o "$T/mfbm.csv" "$T/a.clk" "$T/b.clk"
expect_exit 0 env BL_SCORE_ORDER=tiles "$BL" match --model auto --blocking lsh -o "$T/mfbt.csv" "$T/a.clk" "$T/b.clk"
for f in mfb1 mfb3 mfbm mfbt; do assert_same "$T/mfb.csv" "$T/$f.csv"; done
"$BL" synth -n 600 -p 3 --level high --seed 12 -o "$T/p3" >/dev/null 2>&1 || fail "synth 3 parties"
for p in 1 2 3; do
  expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$T/p3-$p.csv" "$SCHEMA" "$T/p3-$p.clk"
done
expect_exit 0 "$BL" match --model auto --blocking lsh -f candidates -j 2 -o "$T/p3s.csv" "$T"/p3-{1,2,3}.clk
expect_exit 0 env BL_MODEL_BLOCK=match "$BL" match --model auto --blocking lsh -f candidates -o "$T/p3m.csv" "$T"/p3-{1,2,3}.clk
assert_same "$T/p3s.csv" "$T/p3m.csv"
# encode --json gives the record's length and layout, as describe does
expect_exit 0 "$BL" encode --json --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$T/p3-1.csv" "$SCHEMA" "$T/p3-j.clk"
python3 -c 'import json,subprocess,sys; e=json.load(open(sys.argv[1])); d=json.loads(subprocess.check_output([sys.argv[2], "describe", "--json", sys.argv[3]])); sys.exit(0 if e["bits"] == d["bits"] > 1024 and e["layout"] == "fields" else 1)' "$T/out" "$BL" "$T/p3-j.clk" && pass || fail "encode --json bits of a field-level file: $(cat "$T/out")"
# --merge-threshold is refused where it would change nothing
expect_exit 2 "$BL" match -t 0.8 --merge-threshold 0.7 -o "$T/mt.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "--merge-threshold belongs to -s probabilistic"
expect_exit 2 "$BL" match -t 0.8 --no-dedup -o "$T/mt.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "--no-dedup belongs to -s probabilistic"
expect_exit 2 "$BL" match --model auto --merge-threshold 0.7 -o "$T/mt.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "two inputs are linked 1:1"
expect_exit 2 "$BL" match --model auto --merge-threshold 0.7 -f candidates -o "$T/mt.csv" "$T"/p3-{1,2,3}.clk
assert_contains "$T/err" "-f candidates resolves nothing"
assert_missing "$T/mt.csv"
# one of three inputs encoded with another secret links with nobody: named
head -c 32 /dev/urandom > "$T/S-other"
expect_exit 0 "$BL" encode --secret-file "$T/S-other" --normalize=names --layout fields --format bin --ids rec_id "$T/p3-2.csv" "$SCHEMA" "$T/p3-x.clk"
expect_exit 0 "$BL" match --model auto -o "$T/p3x.csv" "$T/p3-1.clk" "$T/p3-x.clk" "$T/p3-3.clk"
assert_contains "$T/err" "warning: $T/p3-x.clk is in no candidate pair"
expect_exit 0 "$BL" train -o "$T/p3x.json" "$T/p3-1.clk" "$T/p3-x.clk" "$T/p3-3.clk"
assert_contains "$T/err" "warning: $T/p3-x.clk is in no candidate pair"
expect_exit 0 "$BL" match --model auto --json -o "$T/p3ok.csv" "$T"/p3-{1,2,3}.clk
assert_not_contains "$T/err" "no candidate pair"
# --json counts the groups, as match without --model does, sizes in order
python3 - "$T/out" "$T/p3ok.csv" <<'PY' && pass || fail "match --model --json groups: $(cat "$T/out")"
import csv, json, sys
d = json.load(open(sys.argv[1]))
recs = {(r["a_dataset"], r["a_index"]) for r in csv.DictReader(open(sys.argv[2]))}
recs |= {(r["b_dataset"], r["b_index"]) for r in csv.DictReader(open(sys.argv[2]))}
sizes = d["group_sizes"]
assert list(sizes) == sorted(sizes, key=int), sizes
assert sum(sizes.values()) == d["groups"] and sum(int(k) * v for k, v in sizes.items()) == len(recs), (d, len(recs))
PY

expect_exit 0 "$BL" eval --truth febrl --data "$A" --data "$B" --weights --weights-svg "$T/wh.svg" "$T/matches.csv"
assert_contains "$T/out" "match weight histogram"
assert_contains "$T/wh.svg" "Match weight"

# train, then match with the file; same decisions as auto (same training)
expect_exit 0 "$BL" train -o "$T/model.json" --mu-svg "$T/mu.svg" "$T/a.clk" "$T/b.clk"
assert_contains "$T/model.json" '"status": "converged"'
assert_contains "$T/mu.svg" "<svg"
expect_exit 0 "$BL" eval --truth febrl --data "$A" --data "$B" --model "$T/model.json" --mu-svg "$T/mu2.svg" "$T/matches.csv"
assert_same "$T/mu.svg" "$T/mu2.svg"
expect_exit 0 "$BL" match --model "$T/model.json" -o "$T/m2.csv" "$T/a.clk" "$T/b.clk"
assert_eq "$(wc -l < "$T/m2.csv")" "$(wc -l < "$T/matches.csv")" "model file = auto"
# -f candidates: every scored candidate, unresolved (more rows, same columns)
expect_exit 0 "$BL" match --model "$T/model.json" -f candidates -o "$T/mc.csv" "$T/a.clk" "$T/b.clk"
assert_eq "$(head -1 "$T/mc.csv")" "a_index,b_index,score,weight,probability,a_id,b_id" "candidates header"
if [ "$(wc -l < "$T/mc.csv")" -gt "$(wc -l < "$T/m2.csv")" ]; then pass; else fail "-f candidates is not every candidate"; fi
expect_exit 2 "$BL" match --model "$T/model.json" -f groups -o "$T/mg.json" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "pairs or candidates"
expect_exit 0 "$BL" match --model "$T/model.json" --min-probability 0.999999 -o "$T/m3.csv" "$T/a.clk" "$T/b.clk"
if [ "$(wc -l < "$T/m3.csv")" -le "$(wc -l < "$T/m2.csv")" ]; then pass; else fail "--min-probability"; fi

# explain the best pair; a hand-fixed m changes its weight as log2(m/u) says
read -r ai bi < <(awk -F, 'NR == 2 {print $1, $2}' "$T/matches.csv")
expect_exit 0 "$BL" explain --model "$T/model.json" --svg "$T/w.svg" "$T/a.clk:$ai" "$T/b.clk:$bi"
assert_contains "$T/out" "given_name"
assert_contains "$T/out" "probability"
assert_contains "$T/w.svg" "waterfall"
python3 - "$T/model.json" "$T/fixed.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
lv = m["fields"][2]["levels"][0]          # date_of_birth, exact
lv["m"] = 0.5; lv["fixed"] = ["m"]
for l in m["fields"][2]["levels"]:         # the plain u, whatever the names of the pair
    l.pop("u_names_exact", None); l.pop("u_one_name_exact", None)
json.dump(m, open(sys.argv[2], "w"), indent=1)
PY
expect_exit 0 "$BL" explain --json --model "$T/fixed.json" "$T/a.clk:$ai" "$T/b.clk:$bi"
python3 - "$T/out" "$T/fixed.json" <<'PY' && pass || fail "hand-fixed m not used by explain"
import json, math, sys
e = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))
f = [x for x in e["fields"] if x["field"] == "date_of_birth"][0]
u = m["fields"][2]["levels"][0]["u"]
assert f["level"] == "exact", f
assert abs(f["weight"] - f["tf_adjust"] - math.log2(0.5 / u)) < 1e-5, (f, u)
PY
expect_exit 0 "$BL" train --init "$T/fixed.json" -o "$T/retrained.json" "$T/a.clk" "$T/b.clk"
python3 -c "import json,sys; l=json.load(open(sys.argv[1]))['fields'][2]['levels'][0]; sys.exit(0 if l['m']==0.5 and l['fixed']==['m'] else 1)" "$T/retrained.json" && pass || fail "train --init keeps fixed m"
# a fixed u is kept by train --init and the field's other levels share
# what it leaves (they kept the random pairs' u: the field summed to 1.198);
# a fixed prior is the candidates' prior too (prior_candidates was 0)
python3 - "$T/model.json" "$T/fixu.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
lv = m["fields"][2]["levels"][0]; lv["u"] = 0.2; lv["fixed"] = ["u"]
m["fix_prior"] = True
json.dump(m, open(sys.argv[2], "w"), indent=1)
PY
expect_exit 0 "$BL" train --init "$T/fixu.json" -o "$T/retrained-u.json" "$T/a.clk" "$T/b.clk"
python3 - "$T/retrained-u.json" "$T/fixu.json" <<'PY' && pass || fail "train --init with a fixed u and prior"
import json, sys
m, init = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
lv = m["fields"][2]["levels"]
assert lv[0]["u"] == 0.2 and abs(sum(l["u"] for l in lv) - 1) < 1e-9, lv
assert m["prior"] == init["prior"] == m["prior_candidates"], (m["prior"], m["prior_candidates"])
PY
# a fixed value the model cannot compute with is refused, not clamped
python3 - "$T/model.json" "$T/fix0.json" "$T/fixp.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
lv = m["fields"][2]["levels"][0]; lv["m"] = 0; lv["fixed"] = ["m"]
json.dump(m, open(sys.argv[2], "w"))
m = json.load(open(sys.argv[1])); m["prior"] = 1e-30; m["fix_prior"] = True
json.dump(m, open(sys.argv[3], "w"))
PY
expect_exit 2 "$BL" explain --model "$T/fix0.json" "$T/a.clk:$ai" "$T/b.clk:$bi"
assert_contains "$T/err" "\$.fields[2].levels[0]: 'm' is fixed below 1e-12"
expect_exit 2 "$BL" match --model "$T/fixp.json" -o "$T/fixp.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "\$.prior: is fixed outside [1e-12, 1 - 1e-12]"
assert_missing "$T/fixp.csv"

# namesakes: records of one input whose names agree give the u of the other
# fields for such pairs (e-mails are made from names); the model file has
# them, explain uses them, a model file with them reads back
"$BL" synth -n 5000 --level hard --seed 3 -o "$T/h" >/dev/null 2>&1 || fail "synth hard"
for p in 1 2; do
  expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$T/h-$p.csv" "$SCHEMA" "$T/h$p.clk"
done
expect_exit 0 "$BL" train -o "$T/hm.json" "$T/h1.clk" "$T/h2.clk"
# u from random pairs and from namesakes run on threads: the same model on 1 and 3
expect_exit 0 "$BL" train -j 1 -o "$T/hm-j1.json" "$T/h1.clk" "$T/h2.clk"
expect_exit 0 "$BL" train -j 3 -o "$T/hm-j3.json" "$T/h1.clk" "$T/h2.clk"
python3 - "$T/hm-j1.json" "$T/hm-j3.json" <<'PY' && pass || fail "train -j 1 and -j 3 give the same model"
import json, sys
def load(p):
    m = json.load(open(p))
    m["training"] = {k: v for k, v in m["training"].items() if "seconds" not in k}
    return m
a, b = load(sys.argv[1]), load(sys.argv[2])
assert a["training"]["namesake_pairs"] >= 200 and a == b, (a["training"], b["training"])
PY
# the candidate list is joined on threads: the same pairs, in blocks' and in score order
for f in pairs candidates; do
  expect_exit 0 "$BL" match --model "$T/hm-j1.json" -f $f -j 1 -o "$T/hj1.csv" "$T/h1.clk" "$T/h2.clk"
  expect_exit 0 "$BL" match --model "$T/hm-j1.json" -f $f -j 3 -o "$T/hj3.csv" "$T/h1.clk" "$T/h2.clk"
  [ "$(wc -l < "$T/hj1.csv")" -gt 1000 ] && cmp -s "$T/hj1.csv" "$T/hj3.csv" && pass || fail "match -f $f -j 1 and -j 3 differ"
done
python3 - "$T/hm.json" <<'PY' && pass || fail "namesake u of the e-mail"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["training"]["namesake_pairs"] >= 200, m["training"]
em = [f for f in m["fields"] if f["name"] == "email"][0]
ne = [l for l in em["levels"] if "u_names_exact" in l]
assert ne and any(l["u_names_exact"] > 10 * l["u"] for l in ne), em
assert all(l["u_names_exact"] >= l["u"] and l["weight_names_exact"] <= l["weight"] + 1e-9 for l in ne), em
for f in m["fields"]:
    if f["name"] in ("given_name", "surname"):
        assert all("u_names_exact" not in l for l in f["levels"]), f
PY
# a pair of two namesakes of input 1 (equal name filters, different people)
read -r ni nj < <(python3 - "$T/h-1.csv" <<'PY'
import csv, sys
seen = {}
for i, r in enumerate(csv.DictReader(open(sys.argv[1]))):
    k = (r["given_name"], r["surname"])
    if r["given_name"] and r["surname"] and r["email"] and k in seen:
        print(seen[k], i); break
    seen.setdefault(k, i)
PY
)
expect_exit 0 "$BL" explain --json --model "$T/hm.json" "$T/h1.clk:$ni" "$T/h1.clk:$nj"
python3 - "$T/out" "$T/hm.json" <<'PY' && pass || fail "explain uses the namesake weights"
import json, sys
e = json.load(open(sys.argv[1])); m = json.load(open(sys.argv[2]))
lv = {x["field"]: x for x in e["fields"]}
assert lv["given_name"]["level"] == "exact" and lv["surname"]["level"] == "exact", lv
f = lv["email"]; levels = [l for x in m["fields"] if x["name"] == "email" for l in x["levels"]]
want = [l for l in levels if l["label"] == f["level"]][0]
assert abs(f["weight"] - f["tf_adjust"] - want.get("weight_names_exact", want["weight"])) < 1e-6, (f, want)
PY
expect_exit 0 "$BL" train --init "$T/hm.json" --max-iter 1 -o "$T/hm2.json" "$T/h1.clk" "$T/h2.clk"
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if any('u_names_exact' in l for f in m['fields'] for l in f['levels']) else 1)" "$T/hm2.json" && pass || fail "namesake u after train --init"
expect_exit 0 "$BL" match --model "$T/hm.json" -o "$T/hmatch.csv" "$T/h1.clk" "$T/h2.clk"
python3 - "$T/hm.json" "$T/hm-bad.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
em = [f for f in m["fields"] if f["name"] == "email"][0]
em["levels"][0]["u_names_exact"] = 2
json.dump(m, open(sys.argv[2], "w"))
PY
expect_exit 2 "$BL" match --model "$T/hm-bad.json" -o "$T/x.csv" "$T/h1.clk" "$T/h2.clk"
assert_contains "$T/err" "u_names_exact"

# record-level output is unchanged by the new option
expect_exit 0 "$BL" encode --secret-file "$T/S" --format bin --ids rec_id "$A" "$SCHEMA" "$T/r1.clk"
expect_exit 0 "$BL" encode --secret-file "$T/S" --layout record --format bin --ids rec_id "$A" "$SCHEMA" "$T/r2.clk"
assert_same "$T/r1.clk" "$T/r2.clk"

# bad input: exit 2, message says which
expect_exit 2 "$BL" match --model auto -o "$T/x.csv" "$T/a.clk" "$T/r1.clk"
assert_contains "$T/err" "r1.clk is record-level"
assert_missing "$T/x.csv"
expect_exit 0 "$BL" encode --secret-file "$T/S" --layout fields --format bin --ids rec_id "$B" "$SCHEMA" "$T/b-plain.clk"
expect_exit 2 "$BL" match --model auto -o "$T/x.csv" "$T/a.clk" "$T/b-plain.clk"
assert_contains "$T/err" "differ in encoding metadata 'normalize'"
expect_exit 2 "$BL" encode --secret-file "$T/S" --layout fields --format json "$B" "$SCHEMA" "$T/b.json"
assert_contains "$T/err" "needs the binary format"
expect_exit 2 "$BL" encode --secret-file "$T/S" --layout diagonal "$B" "$SCHEMA" "$T/b.json"
python3 - "$SCHEMA" "$T/grouped.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["blindlink"] = {"fieldGroups": [{"name": "demographics", "features": ["sex", "date_of_birth"]}]}
json.dump(s, open(sys.argv[2], "w"))
PY
expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$B" "$T/grouped.json" "$T/bg.clk"
expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$A" "$T/grouped.json" "$T/ag.clk"
expect_exit 2 "$BL" match --model "$T/model.json" -o "$T/x.csv" "$T/ag.clk" "$T/bg.clk"
assert_contains "$T/err" "the model is for another schema"
expect_exit 2 "$BL" explain --model "$T/model.json" "$T/bg.clk:0" "$T/b.clk:0"
assert_contains "$T/err" "another schema"
expect_exit 2 "$BL" match --model auto -o "$T/x.csv" "$T/a.clk" "$T/bg.clk"
assert_contains "$T/err" "differ in encoding metadata 'fields'"
printf '{"blindlink_model": 1, "prior": 0.1, "fields": [{"name": "x"}]}' > "$T/bad.json"
expect_exit 2 "$BL" match --model "$T/bad.json" -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" '$.fields[0]'
expect_exit 2 "$BL" explain --model "$T/model.json" "$T/a.clk" "$T/b.clk:1"
expect_exit 2 "$BL" train "$T/a.clk" "$T/b.clk"

# multi-party: three parties through the same path
"$BL" synth -n 800 -p 3 --level medium --seed 5 -o "$T/p" >/dev/null 2>&1 || fail "synth 3"
for i in 1 2 3; do
  expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$T/p-$i.csv" "$SCHEMA" "$T/p$i.clk"
done
expect_exit 0 "$BL" match --model auto -o "$T/p.csv" "$T/p1.clk" "$T/p2.clk" "$T/p3.clk"
assert_eq "$(head -1 "$T/p.csv")" "a_dataset,a_index,b_dataset,b_index,score,weight,probability,a_id,b_id" "3-party header"
expect_exit 0 "$BL" eval --truth febrl --data "$T/p-1.csv" --data "$T/p-2.csv" --data "$T/p-3.csv" "$T/p.csv"
f1=$(awk '$1 == "F1" {print $2}' "$T/out")
if python3 -c "import sys; sys.exit(0 if float('$f1') >= 0.9 else 1)"; then pass; else fail "3-party F1 $f1"; fi
# explain --input: value frequencies over every input of the run, so the
# weight of a 3-party pair is the pairs file's (over two files it can differ)
expect_exit 0 "$BL" match --model auto --save-model "$T/p.json" -o "$T/p.csv" "$T/p1.clk" "$T/p2.clk" "$T/p3.clk"
P3=("$T/p1.clk" "$T/p2.clk" "$T/p3.clk")
ok=1
while IFS=, read -r da ia db ib _ w _; do
  "$BL" explain --json --model "$T/p.json" --input "${P3[0]}" --input "${P3[1]}" --input "${P3[2]}" \
    "${P3[$da]}:$ia" "${P3[$db]}:$ib" > "$T/e.json" || { ok=0; break; }
  python3 -c 'import json, sys; e = json.load(open(sys.argv[1])); sys.exit(0 if abs(e["weight"] - float(sys.argv[2])) < 1e-3 else 1)' "$T/e.json" "$w" || { ok=0; echo "pair $da:$ia $db:$ib: pairs file $w, explain $(cat "$T/e.json")"; break; }
done < <(sed -n 2,21p "$T/p.csv")
[ "$ok" = 1 ] && pass || fail "explain --input gives the pairs file's weight of a 3-party pair"
expect_exit 2 "$BL" explain --model "$T/p.json" --input "$T/p1.clk" --input "$T/p2.clk" "$T/p3.clk:0" "$T/p1.clk:0"
assert_contains "$T/err" "not among the --input files"
# synth --level hard: deterministic, with case and Unicode-form changes of names
expect_exit 0 "$BL" synth -n 3000 --level hard --seed 3 -o "$T/h"
expect_exit 0 "$BL" synth -n 3000 --level hard --seed 3 -o "$T/h2"
assert_same "$T/h-2.csv" "$T/h2-2.csv"
python3 - "$T/h-2.csv" <<'PY' && pass || fail "hard level lacks case / NFD / non-ASCII changes"
import csv, sys, unicodedata
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
names = [r["given_name"] + r["surname"] for r in rows]
assert any(n != n.lower() for n in names), "no case change"
assert any(n != unicodedata.normalize("NFC", n) for n in names), "no NFD form"
assert sum(any(ord(c) > 127 for c in n) for n in names) > len(rows) * 0.1, "too few international names"
PY

# a party that used another secret: nothing in common, so no model (not a
# "converged" model of nothing), exit 2 naming the likely cause
printf 'another-secret\n' > "$T/S2"
expect_exit 0 "$BL" encode --secret-file "$T/S2" --normalize=names --layout fields --format bin --ids rec_id "$B" "$SCHEMA" "$T/b-s2.clk"
expect_exit 2 "$BL" match --model auto -o "$T/s2.csv" "$T/a.clk" "$T/b-s2.clk"
assert_contains "$T/err" "same secret"
assert_missing "$T/s2.csv"
expect_exit 2 "$BL" train -o "$T/s2.json" "$T/a.clk" "$T/b-s2.clk"
assert_contains "$T/err" "no candidate pairs to train on"
assert_missing "$T/s2.json"
# a misspelt key in a hand-edited model is refused with its path
python3 - "$T/model.json" "$T/typo.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["fields"][0]["levels"][0]["fixd"] = ["m"]
json.dump(m, open(sys.argv[2], "w"))
PY
expect_exit 2 "$BL" train --init "$T/typo.json" -o "$T/t2.json" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "\$.fields[0].levels[0]: unknown key 'fixd'"
assert_missing "$T/t2.json"
# --- what a new user ran into (match --model and eval) ----------------------
# --json prints the summary; --save-model writes a model explain can use
expect_exit 0 "$BL" match --model auto --json --save-model "$T/saved.json" -o "$T/mj.csv" "$T/a.clk" "$T/b.clk"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['records']==[2000,2000] or len(d['records'])==2; assert d['candidates']>0 and d['matched_pairs']>0; assert 'converged' in d['training']" "$T/out" && pass || fail "match --model --json summary"
assert_eq "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['matched_pairs'])" "$T/out")" "$(($(wc -l < "$T/mj.csv") - 1))" "--json matched_pairs"
assert_contains "$T/saved.json" '"prior"'
# the decision bound rules out most candidates and says how many; every
# candidate's full score (-f candidates) rules out none
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=d['ruled_out_by_bound']; assert 0 < r <= d['candidates'] - d['matched_pairs'], d" "$T/out" && pass || fail "match --model --json ruled_out_by_bound"
expect_exit 0 "$BL" match --model "$T/saved.json" --json -f candidates -o "$T/mjc.csv" "$T/a.clk" "$T/b.clk"
assert_eq "$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['ruled_out_by_bound'])" "$T/out")" "0" "-f candidates: nothing ruled out"
expect_exit 0 "$BL" explain --model "$T/saved.json" "$T/a.clk:0" "$T/b.clk:0"
expect_exit 2 "$BL" match --model "$T/saved.json" --save-model "$T/s2.json" -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
expect_exit 2 "$BL" match -t 0.8 --save-model "$T/s2.json" -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
# a model that cannot be saved: refused before the run, no pairs file either
expect_exit 2 "$BL" match --model auto --save-model "$T/nodir/m.json" -o "$T/ms.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "cannot write --save-model '$T/nodir/m.json': its folder does not exist"
assert_missing "$T/ms.csv"
# the model and the pairs on one file, or over an input: refused, input kept
expect_exit 2 "$BL" match --model auto --save-model "$T/ms.csv" -o "$T/ms.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "-o and --save-model name the same file"
assert_missing "$T/ms.csv"
cp "$T/b.clk" "$T/b-copy.clk"
expect_exit 2 "$BL" match --model auto -o "$T/b.clk" "$T/a.clk" "$T/b.clk"
assert_same "$T/b.clk" "$T/b-copy.clk"
# train: the picture's folder is checked first, so no model file is left
expect_exit 2 "$BL" train --mu-svg "$T/nodir/mu.svg" -o "$T/tm.json" "$T/a.clk" "$T/b.clk"
assert_missing "$T/tm.json"
expect_exit 2 "$BL" train -o "$T/tm.json" - "$T/b.clk"
assert_contains "$T/err" "field-level inputs must be files"
# --min-probability 0 would match every candidate (the bound took it as 0.5)
expect_exit 2 "$BL" match --model "$T/saved.json" --min-probability 0 -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "--min-probability must be in (0, 1]"
# the model from stdin gives the file's matches; a CLK file as the model is named
expect_exit 0 "$BL" match --model "$T/saved.json" -o "$T/mf.csv" "$T/a.clk" "$T/b.clk"
"$BL" match --model - -o "$T/mstdin.csv" "$T/a.clk" "$T/b.clk" < "$T/saved.json"
assert_same "$T/mstdin.csv" "$T/mf.csv"
expect_exit 2 "$BL" match --model "$T/a.clk" -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "is a binary CLK file (encode --format bin), not a model"
# a hardened input next to a plain one: the hardening is named, not the
# field sizes it changed
head -201 "$A" > "$T/a200.csv"
expect_exit 0 "$BL" encode -q --secret-file "$T/S" --normalize=names --layout fields --format bin --harden recommended "$T/a200.csv" "$SCHEMA" "$T/ah.clk"
expect_exit 2 "$BL" train -o "$T/th.json" "$T/a.clk" "$T/ah.clk"
assert_contains "$T/err" "differ in encoding metadata 'harden'"
# eval: one --data file per input, and --true-pairs no fewer than the true positives
expect_exit 0 "$BL" eval --truth febrl --data "$A" --data "$B" --data "$A" "$T/matches.csv"
assert_contains "$T/err" "names 2 datasets but 3 --data files were given"
expect_exit 2 "$BL" eval --truth febrl --data "$A" --data "$B" --true-pairs 10 "$T/matches.csv"
assert_contains "$T/err" "there are at least that many true pairs"
# JSON files of the wrong kind are named as such: a schema given as the
# model, the model as a schema or as the pairs to evaluate, groups JSON
expect_exit 2 "$BL" match --model "$SCHEMA" -o "$T/wk.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "is a clkhash linkage schema, not a model"
expect_exit 2 "$BL" encode --secret-file "$T/S" "$A" "$T/saved.json" "$T/wk.clk"
assert_contains "$T/err" "this is a blindlink model (train, match --save-model), not a clkhash schema"
expect_exit 2 "$BL" eval "$T/saved.json"
assert_contains "$T/err" "is a blindlink model (train, match --save-model), not a pairs CSV"
expect_exit 0 "$BL" match -t 0.8 -f groups -o "$T/wk-groups.json" "$T/a.clk" "$T/b.clk"
expect_exit 2 "$BL" eval "$T/wk-groups.json"
assert_contains "$T/err" "is groups JSON (match -f groups), not a pairs CSV"
assert_missing "$T/wk.csv"; assert_missing "$T/wk.clk"
# a model or a .clk where CLKs or CSV data belong
expect_exit 2 "$BL" train -o "$T/th.json" "$T/saved.json" "$T/b.clk"
assert_contains "$T/err" "$T/saved.json is a blindlink model (train, match --save-model), not CLKs"
expect_exit 2 "$BL" eval --truth febrl --data "$T/a.clk" --data "$B" "$T/matches.csv"
assert_contains "$T/err" "$T/a.clk is a binary CLK file (encode --format bin), not CSV"
# a model file behind a UTF-8 byte order mark is read
{ printf '\xef\xbb\xbf'; cat "$T/saved.json"; } > "$T/saved-bom.json"
expect_exit 0 "$BL" match --model "$T/saved-bom.json" -o "$T/mbom.csv" "$T/a.clk" "$T/b.clk"
assert_same "$T/mbom.csv" "$T/mf.csv"
# clkhash JSON has no field layout: convert refuses to drop it
expect_exit 2 "$BL" convert "$T/a.clk" "$T/a-fields.json"
assert_contains "$T/err" "holds field-level encodings"
assert_missing "$T/a-fields.json"
# options the model path would ignore are refused, naming the alternative
expect_exit 2 "$BL" match --model auto -t 0.8 -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "--min-probability"
expect_exit 2 "$BL" match --model auto -k 5 -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
expect_exit 2 "$BL" match --model auto -s probabilistic -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
# ... and the record-level blocking and picture options
for opt in "--lsh-tables 10" "--lsh-bits 20" "--lsh-keep best" "--blocking-key-file $T/S" \
           "--blocking-key-env OTHER" "--write-blocks $T/wb" "--blocking-report" \
           "--svg $T/x.svg" "--title X"; do
  # shellcheck disable=SC2086
  expect_exit 2 "$BL" match --model auto $opt -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
  assert_contains "$T/err" "with --model"
done
assert_missing "$T/x.svg"
# --max-candidates is the model's cap too
expect_exit 2 "$BL" match --model auto --max-candidates 10 -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "candidate"
assert_missing "$T/x.csv"
# ... and its message names what the model path takes: not -t / --top-k,
# which match --model refuses (also with the field blocks)
assert_contains "$T/err" "raise --max-candidates"
assert_not_contains "$T/err" "--top-k"
assert_not_contains "$T/err" "raise the threshold"
expect_exit 2 "$BL" match --model auto --blocking lsh --max-candidates 10 -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "raise --max-candidates"
assert_missing "$T/x.csv"
# '-' is refused with a clear message
cat "$T/b.clk" | "$BL" match --model auto -o "$T/x.csv" "$T/a.clk" - >"$T/out" 2>"$T/err"
assert_eq "$?" "2" "match --model with '-'"
assert_contains "$T/err" "'-' (stdin) is not supported with --model"
# a missing model file: the reason too
expect_exit 2 "$BL" match --model "$T/nonexist.json" -o "$T/x.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "No such file or directory"
# field-level vs record-level: one sentence naming both files
expect_exit 2 "$BL" match --model auto -o "$T/x.csv" "$T/a.clk" "$T/r1.clk"
assert_contains "$T/err" "a.clk is field-level but $T/r1.clk is record-level"
# 0 candidates in a record-level match (another secret): a warning, not with -q
# (with --model the same inputs stop with exit 2, above)
expect_exit 0 "$BL" encode --secret-file "$T/S2" --format bin --ids rec_id "$B" "$SCHEMA" "$T/r-s2.clk"
expect_exit 0 "$BL" match -t 0.8 -o "$T/z.csv" "$T/r1.clk" "$T/r-s2.clk"
assert_contains "$T/err" "0 candidate pairs: were both files encoded with the same secret and schema?"
expect_exit 0 "$BL" match -q -t 0.8 -o "$T/z.csv" "$T/r1.clk" "$T/r-s2.clk"
assert_not_contains "$T/err" "0 candidate pairs"
# eval with the --data files swapped: refused
expect_exit 2 "$BL" eval --truth febrl --data "$B" --data "$A" "$T/matches.csv"
assert_contains "$T/err" "--data order looks swapped"

# explain: records come from files ('-' is refused), an index past the end names its file
expect_exit 2 "$BL" explain --model "$T/model.json" -:1 "$T/b.clk:0"
assert_contains "$T/err" "records are read from files, not stdin"
expect_exit 2 "$BL" explain --model "$T/model.json" "$T/a.clk:0" "$T/b.clk:2000"
assert_contains "$T/err" "record index 2000 out of range: $T/b.clk has 2000 records"
# explain reads the model from stdin with '-', and says why a model cannot be read
"$BL" explain --model - "$T/a.clk:0" "$T/b.clk:0" < "$T/model.json" > "$T/ex-stdin.txt" 2>"$T/err" || fail "explain --model -"
"$BL" explain --model "$T/model.json" "$T/a.clk:0" "$T/b.clk:0" > "$T/ex-file.txt" 2>"$T/err" || fail "explain --model FILE"
assert_same "$T/ex-stdin.txt" "$T/ex-file.txt"
expect_exit 2 "$BL" explain --model "$T/nonexist.json" "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/err" "cannot read model '$T/nonexist.json': No such file or directory"

# explain's -o is checked like every output: an input (a .clk, the model)
# is refused and kept, and --svg - beside the text report on stdout too
cp "$T/a.clk" "$T/a-keep.clk"; cp "$T/model.json" "$T/model-keep.json"
expect_exit 2 "$BL" explain --model "$T/model.json" -o "$T/a.clk" "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/err" "-o '$T/a.clk' is also an input"
expect_exit 2 "$BL" explain --model "$T/model.json" -o "$T/model.json" "$T/a.clk:0" "$T/b.clk:0"
assert_same "$T/a.clk" "$T/a-keep.clk"; assert_same "$T/model.json" "$T/model-keep.json"
expect_exit 2 "$BL" explain --model "$T/model.json" --svg - "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/err" "--svg - and the explanation both go to stdout"
expect_exit 0 "$BL" explain -q --model "$T/model.json" --svg - "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/out" "<svg"; assert_not_contains "$T/out" "  vs  "
# --json names the records' ids, as the text does
expect_exit 0 "$BL" explain --json --model "$T/model.json" "$T/a.clk:0" "$T/b.clk:1"
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); sys.exit(0 if e["a"]["id"] and e["b"]["id"] else 1)' "$T/out" && pass || fail "explain --json lacks the ids"
expect_exit 2 "$BL" explain --model "$T/model.json" "$T/no-such.clk:0" "$T/b.clk:0"

# a layout other than "fields" is named as found (the message read the
# metadata after freeing it: heap bytes in the message)
python3 "$(dirname "$0")/clk_relayout.py" "$T/a.clk" "$T/lay-foo.clk" foo
expect_exit 2 "$BL" match --model "$T/model.json" -o "$T/lay.csv" "$T/lay-foo.clk" "$T/b.clk"
assert_contains "$T/err" "lay-foo.clk: metadata \$.layout is 'foo', not 'fields'"
python3 "$(dirname "$0")/clk_relayout.py" "$T/a.clk" "$T/lay-rec.clk" record
expect_exit 2 "$BL" train -o "$T/lay.json" "$T/lay-rec.clk" "$T/b.clk"
assert_contains "$T/err" "lay-rec.clk: record-level encodings"
assert_missing "$T/lay.csv"; assert_missing "$T/lay.json"

# -o to a FIFO (or a device: /dev/null, /dev/stdout) writes through it: a
# temp file renamed over it replaced the node itself (as root, -o /dev/null
# left /dev/null a regular file)
mkfifo "$T/fifo"
timeout 60 cat "$T/fifo" > "$T/fifo.out" &
cat_pid=$!
expect_exit 0 timeout 60 "$BL" explain --json --model "$T/model.json" -o "$T/fifo" "$T/a.clk:0" "$T/b.clk:0"
wait "$cat_pid"
if [ -p "$T/fifo" ]; then pass; else fail "-o FIFO replaced the FIFO with a regular file"; fi
assert_contains "$T/fifo.out" '"probability"'
ls -A "$T" | grep -q '^\.fifo\.' && fail "temp file left beside the FIFO" || pass

# a fingerprint that sscanf reads but is not 64 hex digits (a '+' sign)
python3 - "$T/model.json" "$T/fp-sign.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["fingerprint"] = "+" + m["fingerprint"][1:]
json.dump(m, open(sys.argv[2], "w"))
PY
expect_exit 2 "$BL" match --model "$T/fp-sign.json" -o "$T/fp-sign.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" '$.fingerprint: must be 64 hex digits'
assert_missing "$T/fp-sign.csv"

# eval --weights refuses a weight that is not finite (the histogram and SVG
# were drawn with inf/nan bins)
awk -F, 'BEGIN {OFS = ","} NR == 2 {$4 = "inf"} {print}' "$T/matches.csv" > "$T/winf.csv"
expect_exit 2 "$BL" eval --truth febrl --data "$A" --data "$B" --weights --weights-svg "$T/winf.svg" "$T/winf.csv"
assert_contains "$T/err" "winf.csv:2: weight 'inf' is not a finite number"
assert_missing "$T/winf.svg"
# ... before any report is written (it was, to stdout or -o, before the
# error); the histogram goes with the report to -o, and into --json
expect_exit 2 "$BL" eval --truth febrl --data "$A" --data "$B" --weights -o "$T/winf.txt" "$T/winf.csv"
assert_missing "$T/winf.txt"
expect_exit 2 "$BL" eval --truth febrl --data "$A" --data "$B" --weights --json "$T/winf.csv"
assert_eq "$(wc -c < "$T/out")" 0 "no report on a refused weight column"
expect_exit 0 "$BL" eval --truth febrl --data "$A" --data "$B" --weights -o "$T/wrep.txt" "$T/matches.csv"
assert_contains "$T/wrep.txt" "match weight histogram"
assert_eq "$(wc -c < "$T/out")" 0 "nothing on stdout with -o"
expect_exit 0 "$BL" eval --truth febrl --data "$A" --data "$B" --weights --json "$T/matches.csv"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["weights"]; sys.exit(0 if d["bins"] == 30 == len(d["true"]) == len(d["false"]) and sum(d["true"]) + sum(d["false"]) > 0 else 1)' "$T/out" && pass || fail "eval --weights --json: $(head -c 300 "$T/out")"

# 'prior_candidates' out of [0, 1] and negative training counts are refused
# (they were replaced by 'prior' and wrapped to 2^32 - 5 silently)
python3 - "$T/model.json" "$T/pc.json" "$T/it.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
json.dump(dict(m, prior_candidates=7.0), open(sys.argv[2], "w"))
m["training"]["iterations"] = -5
json.dump(m, open(sys.argv[3], "w"))
PY
expect_exit 2 "$BL" explain --model "$T/pc.json" "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/err" '$.prior_candidates: must be a number in [0, 1]'
expect_exit 2 "$BL" explain --model "$T/it.json" "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/err" "\$.training: 'iterations' must be a whole number, not negative"

# a field's m (or u) that do not sum to 1 over its levels: a slip, refused
# naming the file and the field (a level marked "fixed" is used as written,
# the hand-fixed m above)
python3 - "$T/model.json" "$T/msum.json" "$T/usum.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
a = json.loads(json.dumps(m))
for l in a["fields"][2]["levels"]:
    l["m"] = 0.9
json.dump(a, open(sys.argv[2], "w"))
b = json.loads(json.dumps(m))
b["fields"][0]["levels"][0]["u"] += 0.01
json.dump(b, open(sys.argv[3], "w"))
PY
expect_exit 2 "$BL" explain --model "$T/msum.json" "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/err" "msum.json: \$.fields[2]: field 'date_of_birth': m of its levels sum to"
assert_contains "$T/err" ", not 1"
expect_exit 2 "$BL" match --model "$T/usum.json" -o "$T/usum.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "usum.json: \$.fields[0]: field 'given_name': u of its levels sum to"
assert_missing "$T/usum.csv"

# a model without the fingerprint of fingerprinted inputs: refused, the
# fields alone do not tell schemas apart
python3 - "$T/model.json" "$T/nofp.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
del m["fingerprint"]
json.dump(m, open(sys.argv[2], "w"))
PY
expect_exit 2 "$BL" match --model "$T/nofp.json" -o "$T/nofp.csv" "$T/a.clk" "$T/b.clk"
assert_contains "$T/err" "has a schema fingerprint but the model has none (\$.fingerprint)"
assert_missing "$T/nofp.csv"
expect_exit 2 "$BL" explain --model "$T/nofp.json" "$T/a.clk:0" "$T/b.clk:0"
assert_contains "$T/err" "blindlink describe --json $T/a.clk"

# eval: --model and --mu-svg go together, and a bad model stops the run
# before the report (it was ignored without --mu-svg, and with it failed
# after printing F1)
head -c 200 "$T/model.json" > "$T/trunc.json"
expect_exit 2 "$BL" eval --truth febrl --data "$A" --data "$B" --model "$T/trunc.json" "$T/matches.csv"
assert_contains "$T/err" "--model is read only for --mu-svg"
assert_eq "$(wc -c < "$T/out")" "0" "eval --model alone: no report"
expect_exit 2 "$BL" eval --truth febrl --data "$A" --data "$B" --mu-svg "$T/mu3.svg" "$T/matches.csv"
assert_contains "$T/err" "--mu-svg needs --model FILE"
assert_eq "$(wc -c < "$T/out")" "0" "eval --mu-svg alone: no report"
expect_exit 2 "$BL" eval --truth febrl --data "$A" --data "$B" --model "$T/trunc.json" --mu-svg "$T/mu3.svg" "$T/matches.csv"
assert_contains "$T/err" "trunc.json:"
assert_contains "$T/err" "not valid JSON"
assert_eq "$(wc -c < "$T/out")" "0" "eval with a broken model: no report"
assert_missing "$T/mu3.svg"

# too small to train: a single record gives at most 3 training pairs, fewer
# than the values EM fits; train and match --model auto stop (exit 2, no
# output), a model trained elsewhere links such inputs
head -2 "$A" > "$T/one-a.csv"; head -2 "$B" > "$T/one-b.csv"
for x in a b; do
  expect_exit 0 "$BL" encode --secret-file "$T/S" --normalize=names --layout fields --format bin --ids rec_id "$T/one-$x.csv" "$SCHEMA" "$T/one-$x.clk"
done
expect_exit 2 "$BL" train -o "$T/one.json" "$T/one-a.clk" "$T/b.clk"
assert_contains "$T/err" "too few records to train a model"
assert_contains "$T/err" "dataset 1 has 1 record."
assert_missing "$T/one.json"
expect_exit 2 "$BL" match --model auto -o "$T/one.csv" "$T/one-a.clk" "$T/one-b.clk"
assert_contains "$T/err" "too few records to train a model"
assert_missing "$T/one.csv"
expect_exit 0 "$BL" match --model "$T/model.json" -o "$T/one.csv" "$T/one-a.clk" "$T/b.clk"

# explain: the index is plain decimal digits (strtoull took "+3" and " 3")
for idx in "+3" " 3" "" "-0" "3 " "0x3" "99999999999999999999999"; do
  expect_exit 2 "$BL" explain --model "$T/model.json" "$T/a.clk:$idx" "$T/b.clk:4"
  assert_contains "$T/err" "'$T/a.clk:$idx'"
done
expect_exit 2 "$BL" explain --model "$T/model.json" "$T/a.clk:3" "$T/b.clk:+4"
assert_contains "$T/err" "'$T/b.clk:+4': the record index after ':' must be a whole number in decimal digits"

# the compiled-in nickname table is the generated form of data/nicknames/groups.txt
python3 "$BL_SRC/scripts/gen_nicknames.py" "$BL_SRC/data/nicknames/groups.txt" > "$T/nick.c" && assert_same "$T/nick.c" "$BL_SRC/lib/encode/nicknames_table.c"
finish
