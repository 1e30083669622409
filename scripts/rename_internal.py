#!/usr/bin/env python3
"""scripts/rename_internal.py - apply an `old new` rename map (one pair per
line, e.g. lib9-renames.txt: internal bl_* functions -> bli_*) to the given
files or directories, as whole identifiers only. Used once for the internal
prefix (issue 9); kept so other branches can apply the same map:
    python3 scripts/rename_internal.py MAP lib cli tests bench fuzz docs
"""
import os
import re
import sys

def files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
        for root, _, names in os.walk(p):
            for n in names:
                if n.endswith(('.c', '.h', '.md', '.py', '.sh')):
                    yield os.path.join(root, n)

def main():
    pairs = [l.split() for l in open(sys.argv[1]) if l.strip()]
    table = dict(pairs)
    rx = re.compile(r'\b(' + '|'.join(map(re.escape, sorted(table, key=len, reverse=True))) + r')\b')
    for f in files(sys.argv[2:]):
        s = open(f, encoding='utf-8', errors='surrogateescape').read()
        t = rx.sub(lambda m: table[m.group(1)], s)
        if t != s:
            open(f, 'w', encoding='utf-8', errors='surrogateescape').write(t)
            print(f)

if __name__ == '__main__':
    main()
