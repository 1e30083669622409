#!/usr/bin/env python3
"""bench/attacks_report.py CSV MD SVG - the tables and the figure of
bench/attacks.sh: per record count and attacker, per hardening profile,
re-identification by each attack (record-level and field-level, each
overlap) and the F1 it costs (record-level best F1, field-level model F1);
the SVG plots the worst re-identification at 100% overlap (any N, either
attacker) against the worst F1 loss on the synthetic data (standard
library only)."""
import csv
import sys

F1COLS = [("f1_synth", "F1 synth"), ("f1_febrl", "F1 FEBRL4"),
          ("f1_model_synth", "model F1 synth hard"), ("f1_model_febrl", "model F1 FEBRL4")]


def table(fp, rows):
    profiles, cols, cell, f1 = [], [], {}, {}
    for r in rows:
        p = r["profile"]
        if p not in profiles:
            profiles.append(p)
        c = (r["layout"], r["overlap"], r["method"])
        if c not in cols:
            cols.append(c)
        cell[(p, c)] = float(r["reidentified"])
        if r["f1_synth"] != "NA" or p not in f1:
            f1[p] = [r[k] for k, _ in F1COLS]
    show = [i for i, _ in enumerate(F1COLS) if any(f1[p][i] != "NA" for p in profiles)]
    head = ["profile"] + ["%s %s%% %s" % c for c in cols] + [F1COLS[i][1] for i in show]
    fp.write("| " + " | ".join(head) + " |\n")
    fp.write("|" + "---|" * len(head) + "\n")
    for p in profiles:
        vals = ["%.2f%%" % (100 * cell[(p, c)]) if (p, c) in cell else "" for c in cols]
        fp.write("| %s |\n" % " | ".join([p] + vals + [f1[p][i] for i in show]))


def figure(rows, svg):
    f1, worst = {}, {}
    for r in rows:
        p = r["profile"]
        if r["f1_synth"] != "NA":
            f1[p] = (r["f1_synth"], r["f1_model_synth"])
        if r["overlap"] == "100":
            worst[p] = max(worst.get(p, 0.0), float(r["reidentified"]))
    if "none" not in f1:
        return
    def loss(p):
        out = 0.0
        for base, v in zip(f1["none"], f1.get(p, ("NA", "NA"))):
            if base != "NA" and v != "NA":
                out = max(out, (float(base) - float(v)) * 100)
        return out
    pts = [(p, loss(p), 100 * worst[p]) for p in worst]
    W, H, L, B = 680, 440, 70, 50
    xmax = max([x for _, x, _ in pts] + [1.0]) * 1.3
    ymax = max([y for _, _, y in pts] + [1.0]) * 1.15
    X = lambda v: L + (W - L - 20) * max(v, 0) / xmax
    Y = lambda v: H - B - (H - B - 20) * v / ymax
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H), '<rect width="100%" height="100%" fill="white"/>',
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - 20, H - B),
           '<line x1="%d" y1="%d" x2="%d" y2="20" stroke="black"/>' % (L, H - B, L),
           '<text x="%d" y="%d" text-anchor="middle">worst F1 loss vs unhardened, synthetic, record best F1 or '
           'field model (points)</text>' % ((W + L) // 2, H - 12),
           '<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">worst re-identification, '
           '100%% overlap (%%)</text>' % ((H - B) // 2, (H - B) // 2)]
    for i in range(5):
        xv, yv = xmax * i / 4, ymax * i / 4
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%.2f</text>' % (X(xv), H - B + 16, xv))
        out.append('<text x="%d" y="%.1f" text-anchor="end">%.1f</text>' % (L - 6, Y(yv) + 4, yv))
    if ymax > 1:
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="red" stroke-dasharray="4"/>'
                   % (L, Y(1), W - 20, Y(1)))
    if xmax > 1:
        out.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="20" stroke="red" stroke-dasharray="4"/>'
                   % (X(1), H - B, X(1)))
    for i, (p, x, y) in enumerate(sorted(pts, key=lambda t: (t[2], t[1]))):
        out.append('<circle cx="%.1f" cy="%.1f" r="4" fill="steelblue"/>' % (X(x), Y(y)))
        dy = -6 - 13 * (i % 3)  # stagger labels of neighbouring points
        out.append('<text x="%.1f" y="%.1f">%s</text>' % (X(x) + 6, Y(y) + dy, p))
    out.append("</svg>")
    open(svg, "w").write("\n".join(out) + "\n")


def main(src, md, svg):
    rows = list(csv.DictReader(open(src)))
    groups = []
    for r in rows:
        g = (int(r["n"]), r["attacker"])
        if g not in groups:
            groups.append(g)
    with open(md, "w") as fp:
        for n, who in sorted(groups, key=lambda g: (-g[0], g[1])):
            fp.write("%s records, %s attacker:\n\n" % (format(n, ","), who))
            table(fp, [r for r in rows if int(r["n"]) == n and r["attacker"] == who])
            fp.write("\n")
    figure(rows, svg)


if __name__ == "__main__":
    main(*sys.argv[1:4])
