#!/usr/bin/env python3
"""tests/cli/clk_relayout.py SRC DST LAYOUT: a copy of a blindlink binary CLK
file whose metadata "layout" is LAYOUT, its checksum trailer made again (for
tests of what readers say about a layout they do not use)."""
import hashlib, json, struct, sys
src, dst, layout = sys.argv[1], sys.argv[2], sys.argv[3]
d = open(src, 'rb').read()
nbits, count, rbytes, flags = struct.unpack_from('<IQII', d, 12)
pos = 64 + count * rbytes
if flags & 1:
    for _ in range(count):
        pos += 4 + struct.unpack_from('<I', d, pos)[0]
assert flags & 4, "no metadata"
mlen = struct.unpack_from('<I', d, pos)[0]
meta = json.loads(d[pos + 4:pos + 4 + mlen])
meta['layout'] = layout
mb = json.dumps(meta, sort_keys=True, separators=(',', ':')).encode()
out = d[:pos] + struct.pack('<I', len(mb)) + mb
if flags & 2:
    out += hashlib.blake2b(out, digest_size=32).digest()
open(dst, 'wb').write(out)
