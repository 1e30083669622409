#!/usr/bin/env bash
# tests/install/test_data.sh - the data shipped in data/ is what its README
# says (SHA-256 of every file listed there), each folder keeps its licence,
# and the demo and the quality benchmark read the repository's copy, not a
# folder outside it (a fresh clone has no ../shared).
set -euo pipefail
: "${BL_SRC:?}"
cd "$BL_SRC/data"
for d in febrl4 anonlink-tutorial clkhash-dirty; do
  [ -f "$d/README.md" ] || { echo "FAIL: $d/README.md missing" >&2; exit 1; }
  compgen -G "$d/LICENSE*" >/dev/null || compgen -G "$d/ANUOS*" >/dev/null ||
    { echo "FAIL: no licence in $d" >&2; exit 1; }
  sums=$(sed -n '/^```$/,/^```$/p' "$d/README.md" | grep -E '^[0-9a-f]{64}  ')
  [ -n "$sums" ] || { echo "FAIL: $d/README.md lists no checksums" >&2; exit 1; }
  (cd "$d" && echo "$sums" | sha256sum --quiet -c -) || { echo "FAIL: $d differs from its README" >&2; exit 1; }
  for f in "$d"/*.csv; do
    grep -q "$(basename "$f")" "$d/README.md" || { echo "FAIL: $f not described in its README" >&2; exit 1; }
  done
done
# dataset4a.csv keeps its CRLF line endings and missing final newline
[ "$(tail -c 1 febrl4/dataset4a.csv | od -An -c | tr -d ' ')" != '\n' ] || { echo "FAIL: dataset4a.csv changed" >&2; exit 1; }
grep -q $'\r$' febrl4/dataset4a.csv || { echo "FAIL: dataset4a.csv lost its CRLF" >&2; exit 1; }
refs=$(grep -n '\.\./shared' "$BL_SRC/scripts/demo.sh" "$BL_SRC/bench/quality.sh" | grep -v '^[^:]*:[0-9]*:#' || true)
if [ -n "$refs" ]; then
  echo "FAIL: demo.sh or quality.sh reads ../shared" >&2; exit 1
fi
echo "test_data: data/ matches its READMEs"
