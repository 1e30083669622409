#!/usr/bin/env python3
"""tests/cli/svg_check.py - checks on the SVG pictures (standard library only).

  svg_check.py render FILE...     every FILE is an SVG that rsvg-convert
                                  renders, and nothing of it (a legend label,
                                  a title) is drawn outside its viewBox
  svg_check.py quality SVG MD...  the curves of quality-f1-all.svg agree with
                                  the quality table of each Markdown file

The viewBox check renders each picture a second time with the viewBox grown
by a margin on every side (the drawing keeps its coordinates): whatever
rsvg-convert then paints in the margin, with real font metrics, would have
been cut off. Exit 0 when every check passes, 1 otherwise (each failure
printed)."""
import re
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

SVG_NS = "{http://www.w3.org/2000/svg}"
MARGIN = 100  # px added on each side
EDGE = 2  # px next to the original edge left out (anti-aliasing of a frame)
ZOOM = 0.5  # scale of the grown rendering


def png_rgba(data):
    """Decode a non-interlaced 8-bit RGBA or RGB PNG into (w, h, rows)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and not interlace, (depth, ctype, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    bpp = 4 if ctype == 6 else 3
    raw, stride, rows, prev = zlib.decompress(idat), w * bpp, [], bytearray(w * bpp)
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line if bpp == 4 else bytearray(
            x for i in range(0, stride, 3) for x in (line[i], line[i + 1], line[i + 2], 255)))
        prev = line
    return w, h, rows


def render(path, out, zoom=1.0):
    r = subprocess.run(["rsvg-convert", "--zoom", "%g" % zoom, path, "-o", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        return r.stderr.strip() or "exit %d" % r.returncode
    with open(out, "rb") as f:
        if len(f.read(8)) < 8:
            return "empty PNG"
    return None


def viewbox(root):
    vb = root.get("viewBox")
    if vb:
        return [float(v) for v in re.split(r"[ ,]+", vb.strip())]
    return [0.0, 0.0, float(root.get("width")), float(root.get("height"))]


def outside(path, tmp):
    """Pixels painted beyond the viewBox: (count, bounding box) or an error."""
    tree = ET.parse(path)
    root = tree.getroot()
    x, y, w, h = viewbox(root)
    m = MARGIN
    root.set("viewBox", "%g %g %g %g" % (x - m, y - m, w + 2 * m, h + 2 * m))
    root.set("width", "%g" % (w + 2 * m))
    root.set("height", "%g" % (h + 2 * m))
    ET.register_namespace("", SVG_NS[1:-1])
    big = tmp + "/grown.svg"
    tree.write(big)
    # at half size: a quarter of the pixels to decode here, and a cut
    # label still leaves dozens of them in the margin
    err = render(big, tmp + "/grown.png", ZOOM)
    if err:
        return err
    with open(tmp + "/grown.png", "rb") as f:
        pw, ph, rows = png_rgba(f.read())
    sx, sy = pw / (w + 2 * m), ph / (h + 2 * m)
    x0, x1 = int((m - EDGE) * sx), int((m + w + EDGE) * sx)
    y0, y1 = int((m - EDGE) * sy), int((m + h + EDGE) * sy)
    n, box = 0, [pw, ph, -1, -1]
    for yy, row in enumerate(rows):
        for xx in range(pw):
            if x0 <= xx < x1 and y0 <= yy < y1:
                continue
            r, g, b, a = row[4 * xx:4 * xx + 4]
            # the background: transparent, or white (a 100% rect grows too)
            if a < 16 or (r > 240 and g > 240 and b > 240):
                continue
            n += 1
            box = [min(box[0], xx), min(box[1], yy), max(box[2], xx), max(box[3], yy)]
    if n:
        # in the picture's own coordinates
        return "%d px drawn outside the viewBox %g %g %g %g, within x %.0f..%.0f y %.0f..%.0f" % (
            n, x, y, w, h, box[0] / sx - m + x, box[2] / sx - m + x, box[1] / sy - m + y,
            box[3] / sy - m + y)
    return None


def check_render(paths):
    bad = 0
    for p in paths:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                ET.parse(p)
                err = render(p, tmp + "/plain.png") or outside(p, tmp)
            except (ET.ParseError, OSError, AssertionError, zlib.error) as e:
                err = "%s: %s" % (type(e).__name__, e)
        if err:
            print("FAIL: %s: %s" % (p, err))
            bad += 1
        else:
            print("ok: %s renders, nothing outside its viewBox" % p)
    return bad


def curves(svg):
    """{legend label: [(threshold, F1)]} from the F1 overview plot. The axes
    are read from the tick labels (x: text-anchor middle below the plot, y:
    text-anchor end left of it), the curves from each path followed by its
    legend line and label."""
    root = ET.parse(svg).getroot()
    xs, ys, out, path, prev = [], [], {}, None, None
    for el in root:
        tag = el.tag.replace(SVG_NS, "")
        if tag == "text" and re.fullmatch(r"\d\.\d\d", (el.text or "").strip()):
            v = float(el.text)
            if el.get("text-anchor") == "middle":
                xs.append((v, float(el.get("x"))))
            elif el.get("text-anchor") == "end":
                ys.append((v, float(el.get("y")) - 4))  # the label sits 4 px below its line
        elif tag == "path" and el.get("fill") == "none":
            path = [tuple(map(float, p)) for p in re.findall(r"([\d.]+),([\d.]+)", el.get("d"))]
        elif tag == "text" and path is not None and prev == "line":
            out[el.text.strip()] = path
            path = None
        prev = tag
    (va, xa), (vb, xb) = min(xs), max(xs)
    (wa, ya), (wb, yb) = min(ys), max(ys)
    fx = lambda px: va + (px - xa) * (vb - va) / (xb - xa)
    fy = lambda py: wa + (py - ya) * (wb - wa) / (yb - ya)
    return {k: [(round(fx(px), 4), fy(py)) for px, py in v] for k, v in out.items()}


def table(md):
    """{data set: (F1 at the default threshold, best F1, its threshold)} of
    the first quality table: the one the plot is made from. Later tables
    (e.g. rows measured in another run, labelled as such) are not in it."""
    rows = {}
    for line in open(md, encoding="utf-8"):
        m = re.match(r"\| ([\w-]+) \|.*\| \*\*([\d.]+)\*\* \| ([\d.]+) \(([\d.]+)\) \|", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), float(m.group(3)), float(m.group(4)))
        elif rows and not line.startswith("|"):
            break
    return rows


def check_quality(svg, mds, default_t=0.775, tol=0.0015):
    """The plot's y resolution is 0.1 px (about 0.00016 in F1): a curve
    within `tol` of every table figure is the same run."""
    cv, bad = curves(svg), 0
    for md in mds:
        rows = table(md)
        if not rows:
            print("FAIL: %s: no quality table found" % md)
            bad += 1
        if set(rows) != set(cv):
            print("FAIL: %s names %s, the plot %s" % (md, sorted(rows), sorted(cv)))
            bad += 1
        for name, (f1, best, best_t) in sorted(rows.items()):
            pts = dict(cv.get(name, []))
            errs = []
            if abs(pts.get(default_t, -1) - f1) > tol:
                errs.append("F1 at %g: table %.4f, plot %.4f" % (default_t, f1, pts.get(default_t, -1)))
            top = max(pts.values(), default=-1)
            if abs(top - best) > tol or abs(pts.get(best_t, -1) - best) > tol:
                errs.append("best F1: table %.4f at %g, plot %.4f (%.4f at %g)" % (
                    best, best_t, top, pts.get(best_t, -1), best_t))
            if errs:
                print("FAIL: %s vs %s, %s: %s" % (svg, md, name, "; ".join(errs)))
                bad += 1
        print("checked %d data sets of %s against %s" % (len(rows), md, svg))
    return bad


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("render", "quality"):
        sys.exit(__doc__)
    if sys.argv[1] == "render":
        sys.exit(1 if check_render(sys.argv[2:]) else 0)
    sys.exit(1 if check_quality(sys.argv[2], sys.argv[3:]) else 0)
