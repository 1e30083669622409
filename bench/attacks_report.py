#!/usr/bin/env python3
"""bench/attacks_report.py CSV MD SVG - the table and the figure of
bench/attacks.sh: per hardening profile, re-identification by each attack
(record-level and field-level, each overlap) and the F1 it costs; the SVG
plots the worst re-identification at 100% overlap against the F1 loss on the
synthetic data (standard library only)."""
import csv
import sys
from collections import defaultdict


def main(src, md, svg):
    rows = list(csv.DictReader(open(src)))
    profiles, cols = [], []
    cell, f1s, f1f = {}, {}, {}
    for r in rows:
        p = r["profile"]
        if p not in profiles:
            profiles.append(p)
        c = (r["layout"], r["overlap"], r["method"])
        if c not in cols:
            cols.append(c)
        cell[(p, c)] = float(r["reidentified"])
        f1s[p], f1f[p] = r["f1_synth"], r["f1_febrl"]
    base_s = float(f1s.get("none", "nan")) if "none" in f1s else None
    base_f = f1f.get("none")
    with open(md, "w") as fp:
        head = ["profile"] + ["%s %s%% %s" % c for c in cols] + ["F1 synth", "F1 FEBRL4"]
        fp.write("| " + " | ".join(head) + " |\n")
        fp.write("|" + "---|" * len(head) + "\n")
        for p in profiles:
            vals = ["%.2f%%" % (100 * cell[(p, c)]) if (p, c) in cell else "" for c in cols]
            fp.write("| %s | %s | %s | %s |\n" % (p, " | ".join(vals), f1s[p], f1f[p]))
    # figure: worst re-identification at 100% overlap vs F1 loss (synthetic)
    pts = []
    for p in profiles:
        worst = max([cell[(p, c)] for c in cols if c[1] == "100" and (p, c) in cell] or [0])
        loss = (base_s - float(f1s[p])) * 100 if base_s is not None else 0
        pts.append((p, loss, worst * 100))
    W, H, L, B = 640, 420, 70, 50
    xmax = max([x for _, x, _ in pts] + [1.0]) * 1.15
    ymax = max([y for _, _, y in pts] + [1.0]) * 1.15
    X = lambda v: L + (W - L - 20) * max(v, 0) / xmax
    Y = lambda v: H - B - (H - B - 20) * v / ymax
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>',
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - 20, H - B),
           '<line x1="%d" y1="%d" x2="%d" y2="20" stroke="black"/>' % (L, H - B, L),
           '<text x="%d" y="%d" text-anchor="middle">F1 loss vs unhardened, synthetic (points)</text>'
           % ((W + L) // 2, H - 12),
           '<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">worst re-identification, '
           '100%% overlap (%%)</text>' % ((H - B) // 2, (H - B) // 2)]
    for i in range(5):
        xv, yv = xmax * i / 4, ymax * i / 4
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.2f</text>' % (X(xv), H - B + 16, xv))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (L - 6, Y(yv) + 4, yv))
    if ymax > 1:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="red" stroke-dasharray="4"/>'
                   % (L, Y(1), W - 20, Y(1)))
    for p, x, y in pts:
        out.append('<circle cx="%.1f" cy="%.1f" r="4" fill="steelblue"/>' % (X(x), Y(y)))
        out.append('<text x="%.1f" y="%.1f">%s</text>' % (X(x) + 6, Y(y) - 6, p))
    out.append("</svg>")
    open(svg, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
