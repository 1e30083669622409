#!/usr/bin/env bash
# tests/install/test_install.sh - what `cmake --install` puts under a prefix
# works there: the CLI; libblindlink.so (SONAME, version, only the public API
# exported, checked against the installed headers) and libblindlink.a; a C
# program built with `pkg-config --cflags --libs blindlink` (shared and
# static) that reproduces a clkhash vector; the Python package imported from
# PREFIX/lib/python3/dist-packages with no BLINDLINK_LIBRARY, reproducing the
# same vector; man pages that render with `man -l`; bash completion.
set -euo pipefail
: "${BL_BUILD:?}" "${BL_SRC:?}" "${BL_FIXTURES:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
P=$T/prefix
npass=0
pass() { npass=$((npass + 1)); }
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$BL_BUILD" --prefix "$P" >/dev/null
LIBDIR=$(sed -n 's/^libdir=\${prefix}\///p' "$P"/lib*/pkgconfig/blindlink.pc 2>/dev/null || true)
[ -n "$LIBDIR" ] || LIBDIR=$(cd "$P" && ls -d lib/*/pkgconfig 2>/dev/null | head -1 | xargs dirname)
L=$P/$LIBDIR

# 1. files in place
for f in bin/blindlink "$LIBDIR/libblindlink.a" "$LIBDIR/pkgconfig/blindlink.pc" \
         include/blindlink.h include/blindlink/common.h include/blindlink/batch.h \
         share/man/man1/blindlink.1 share/man/man1/blindlink-encode.1 \
         share/bash-completion/completions/blindlink share/zsh/vendor-completions/_blindlink \
         lib/python3/dist-packages/blindlink/__init__.py \
         lib/python3/dist-packages/blindlink/compat/anonlink/solving.py; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
[ ! -e "$P/include/blindlink/server.h" ] || fail "server.h installed, but the service is not in the library"
pass
# (outputs go to files first: `cmd | grep -q` fails under pipefail when grep exits early)
"$P/bin/blindlink" --version > "$T/version" || fail "installed CLI does not run"
grep -q "blindlink" "$T/version" || fail "installed CLI printed $(cat "$T/version")"
pass

# 2. shared library: SONAME, version, symlinks
real=$(readlink -f "$L/libblindlink.so")
case $real in */libblindlink.so.[0-9]*.[0-9]*.[0-9]*) ;; *) fail "libblindlink.so -> $real";; esac
soname=$(readelf -d "$L/libblindlink.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libblindlink.so.0" ] || fail "SONAME is '$soname'"
[ -e "$L/$soname" ] || fail "no $soname link"
pass

# 3. exported symbols = functions declared by the installed public headers
nm -D --defined-only "$L/libblindlink.so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | sort > "$T/exported"
cc -E -P -I"$P/include" "$P/include/blindlink.h" > "$T/pp.c"
python3 - "$T/pp.c" > "$T/declared" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
# drop static inline definitions (not exported), then collect prototypes
src = re.sub(r"static\s+inline[^{;]*\{(?:[^{}]|\{[^{}]*\})*\}", "", src)
names = set()
for decl in re.split(r"[;}]", src):
    d = " ".join(decl.split())
    if d.startswith("typedef") or "(" not in d:
        continue
    m = re.search(r"\b(bl_\w+)\s*\(", d)
    if m and not re.search(r"\(\s*\*\s*" + m.group(1), d):
        names.add(m.group(1))
print("\n".join(sorted(names)))
PY
if ! diff "$T/declared" "$T/exported" > "$T/symdiff"; then
  echo "exported symbols differ from the public headers (< declared only, > exported only):" >&2
  cat "$T/symdiff" >&2
  fail "symbol list"
fi
[ "$(wc -l < "$T/exported")" -gt 100 ] || fail "only $(wc -l < "$T/exported") symbols exported"
pass

# 4. a C program built with pkg-config reproduces a clkhash vector
cat > "$T/prog.c" <<'C'
#include <stdio.h>
#include <blindlink.h>
int main(int argc, char **argv)
{
    bl_error err = {0};
    bl_schema *s = NULL;
    bl_encoder *e = NULL;
    bl_secret sec = {0};
    bl_encode_csv_opts o = {0};
    uint64_t n = 0;
    if (argc != 5) return 2;
    if (bl_secret_load(argv[3], NULL, &sec, &err) != BL_OK ||
        bl_schema_load(argv[2], &s, &err) != BL_OK ||
        bl_encoder_new(s, sec.bytes, sec.len, NULL, &e, &err) != BL_OK ||
        bl_encode_csv(e, argv[1], argv[4], &o, &n, &err) != BL_OK) {
        fprintf(stderr, "prog: %s\n", err.msg);
        return 1;
    }
    printf("%s %llu\n", bl_version(), (unsigned long long)n);
    bl_encoder_free(e);
    bl_schema_free(s);
    bl_secret_free(&sec);
    return 0;
}
C
export PKG_CONFIG_PATH=$L/pkgconfig
flags=$(pkg-config --cflags --libs blindlink)
case $flags in *"-I$P/"*include*"-L$P/"*"-lblindlink"*) ;; *) fail "pkg-config gives '$flags'";; esac
# no private defines of the dependencies (utf8proc's -DUTF8PROC_EXPORTS) reach users
case $flags in *-D*) fail "pkg-config passes a define: '$flags'";; esac
# shellcheck disable=SC2086
cc -o "$T/prog" "$T/prog.c" $flags -Wl,-rpath,"$L"
ldd "$T/prog" > "$T/ldd"
grep -q "$L/libblindlink.so.0" "$T/ldd" || fail "prog does not use the installed library: $(cat "$T/ldd")"
CH=$BL_FIXTURES/clkhash
for s in schema1-blake schema3-mixed-folded; do
  "$T/prog" "$CH/data/people-a.csv" "$CH/schemas/$s.json" "$CH/secret.txt" "$T/out.json" > "$T/prog.out"
  grep -q " 20$" "$T/prog.out" || fail "prog printed $(cat "$T/prog.out")"
  cmp -s "$T/out.json" "$CH/clks/people-a.$s.json" || fail "prog's CLKs differ from the clkhash vector ($s)"
done
pass
# static: the private dependencies of the .pc file are enough to link libblindlink.a
# shellcheck disable=SC2046
cc -o "$T/prog_static" "$T/prog.c" $(pkg-config --cflags blindlink) "$L/libblindlink.a" \
   $(pkg-config --static --libs blindlink | sed 's/-lblindlink//')
ldd "$T/prog_static" > "$T/ldd"
grep -q libblindlink "$T/ldd" && fail "static prog links the shared library"
"$T/prog_static" "$CH/data/people-b.csv" "$CH/schemas/schema2-doublehash.json" "$CH/secret.txt" "$T/s.json" >/dev/null
cmp -s "$T/s.json" "$CH/clks/people-b.schema2-doublehash.json" || fail "static prog's CLKs differ"
pass

# 5. the installed Python package finds its own library and reproduces the vectors
env -u BLINDLINK_LIBRARY PYTHONPATH="$P/lib/python3/dist-packages" python3 - "$P" "$CH" <<'PY'
import base64, json, os, sys
import blindlink
prefix, ch = sys.argv[1], sys.argv[2]
assert os.path.realpath(blindlink.library_path).startswith(os.path.realpath(prefix)), blindlink.library_path
assert os.path.realpath(blindlink.__file__).startswith(os.path.realpath(prefix)), blindlink.__file__
secret = open(os.path.join(ch, "secret.txt"), "rb").read()
for s in ("schema1-blake", "schema2-doublehash", "schema5-xorFolds-camelcase-ignored"):
    for p in "ab":
        got = blindlink.encode_csv(os.path.join(ch, "data", "people-%s.csv" % p),
                                   os.path.join(ch, "schemas", s + ".json"), secret)
        exp = [base64.b64decode(c) for c in
               json.load(open(os.path.join(ch, "clks", "people-%s.%s.json" % (p, s))))["clks"]]
        assert got == exp, (s, p)
PY
pass

# 6. man pages render, one per subcommand
cmds=$("$P/bin/blindlink" --help | awk '/^Commands:/{f=1;next} f&&/^  [a-z]/{print $1}')
for c in "" $cmds; do
  page=$P/share/man/man1/blindlink${c:+-$c}.1
  [ -f "$page" ] || fail "no man page for '${c:-blindlink}'"
  MANWIDTH=80 man --warnings -l "$page" > "$T/man.txt" 2> "$T/man.err" || fail "man -l $page"
  [ ! -s "$T/man.err" ] || { cat "$T/man.err" >&2; fail "roff warnings in $page"; }
  grep -q "^NAME" "$T/man.txt" && grep -q "^SYNOPSIS" "$T/man.txt" || fail "$page lacks NAME/SYNOPSIS"
done
MANWIDTH=80 man -l "$P/share/man/man1/blindlink-encode.1" > "$T/man.txt"
grep -q -- "--secret-file" "$T/man.txt" ||
  fail "blindlink-encode.1 lacks --secret-file"
pass

# 7. bash completion lists commands and a command's options
out=$(PATH="$P/bin:$PATH" bash -c '. "$1"; COMP_WORDS=(blindlink ma); COMP_CWORD=1; _blindlink
      echo "${COMPREPLY[*]}"; COMP_WORDS=(blindlink match --thres); COMP_CWORD=2; _blindlink
      echo "${COMPREPLY[*]}"' _ "$P/share/bash-completion/completions/blindlink")
[ "$out" = "match
--threshold" ] || fail "bash completion gave: $out"
# ... and so does the installed zsh completion, loaded by an interactive zsh
if command -v zsh >/dev/null; then
  zsh -n "$P/share/zsh/vendor-completions/_blindlink" || fail "zsh syntax"
  out=$(zsh "$BL_SRC/tests/cli/complete.zsh" "$P/share/zsh/vendor-completions" "$P/bin" "blindlink match --thres")
  [ "$out" = "--threshold" ] || fail "zsh completion gave: $out"
fi
pass
echo "test_install: $npass checks passed"
