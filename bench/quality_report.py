#!/usr/bin/env python3
"""bench/quality_report.py - turn the per-data-set results of bench/quality.sh
into quality.md (a Markdown table, the chosen default threshold and why) and
one SVG plot of precision, recall and F1 against the threshold per data set,
plus all F1 curves in one plot. Standard library only.

Usage: quality_report.py WORK_DIR OUT_DIR
"""
import glob
import json
import os
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def by_threshold(sweep):
    """threshold -> point; no predicted pairs (precision undefined) counts as F1 0."""
    out = {}
    for p in sweep["sweep"]:
        if p.get("f1") is None:
            p["f1"] = 0.0
        out[round(p["threshold"], 4)] = p
    return out


# Okabe & Ito's colour-blind-safe palette; beyond 8 series the colours
# repeat with a dash pattern, so every curve stays distinguishable
OKABE_ITO = ["#0072B2", "#D55E00", "#009E73", "#E69F00", "#CC79A7", "#56B4E9", "#000000",
             "#F0E442"]
DASHES = ["", "6 3", "2 2", "8 3 2 3"]


def style(i):
    return OKABE_ITO[i % len(OKABE_ITO)], DASHES[(i // len(OKABE_ITO)) % len(DASHES)]


def svg_plot(path, title, series, marker=None, subtitle=None):
    """series: list of (label, (colour, dash), [(x, y)]); x in [0.5, 1]; the
    y axis shows 0.5..1 (where the curves differ), lower values sit on the
    axis. The legend sits right of the plot and is as wide as its longest
    label (at ~7.2 px per character of the 12 px font)."""
    longest = max((len(label) for label, _, _ in series), default=0)
    right = 60 + int(7.2 * longest)
    w, h, left, top, bottom = 470 + right, 420, 60, 56 if subtitle else 40, 50
    pw, ph = w - left - right, h - top - bottom
    x0, x1 = 0.5, 1.0
    y0 = 0.5

    def px(x):
        return left + (x - x0) / (x1 - x0) * pw

    def py(y):
        return top + (1 - max(y, y0)) / (1 - y0) * ph

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
           'font-size="12">' % (w, h, w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="24" font-size="15" font-weight="bold">%s</text>' % (left, esc(title))]
    if subtitle:
        out.append('<text x="%d" y="42" fill="#333">%s</text>' % (left, esc(subtitle)))
    for i in range(0, 11):
        y = y0 + i * (1 - y0) / 10
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>'
                   % (px(x0), py(y), px(x1), py(y)))
        out.append('<text x="%.1f" y="%.1f" text-anchor="end">%.2f</text>'
                   % (px(x0) - 6, py(y) + 4, y))
    for i in range(0, 11):
        x = x0 + i * 0.05
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>'
                   % (px(x), py(0), px(x), py(1)))
        out.append('<text x="%.1f" y="%.1f" text-anchor="middle">%.2f</text>'
                   % (px(x), py(0) + 18, x))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">threshold (Dice)</text>'
               % (left + pw / 2, h - 8))
    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>'
               % (left, top, pw, ph))
    out.append('<text x="14" y="%.1f" transform="rotate(-90 14 %.1f)" text-anchor="middle">'
               'share (values below %.2f drawn on the axis)</text>' % (top + ph / 2, top + ph / 2, y0))
    if marker is not None:
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" '
                   'stroke-width="1.5" stroke-dasharray="5 3"/>'
                   % (px(marker), py(0), px(marker), py(1)))
        out.append('<text x="%.1f" y="%.1f">default %.3g</text>'
                   % (px(marker) + 4, py(0) - 6, marker))
    for k, (label, (colour, dash), pts) in enumerate(series):
        pts = [(x, y) for x, y in pts if y is not None]
        da = ' stroke-dasharray="%s"' % dash if dash else ""
        if pts:
            d = " ".join("%s%.1f,%.1f" % ("M" if j == 0 else "L", px(x), py(y))
                         for j, (x, y) in enumerate(pts))
            out.append('<path d="%s" fill="none" stroke="%s" stroke-width="2"%s/>'
                       % (d, colour, da))
        ly = top + 14 + 18 * k
        out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"%s/>'
                   % (w - right + 12, ly - 4, w - right + 40, ly - 4, colour, da))
        out.append('<text x="%d" y="%d">%s</text>' % (w - right + 46, ly, esc(label)))
    out.append("</svg>\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(out))


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fmt(v, spec):
    return "n/a" if v is None else spec % v


def model_rows(work, rows, order, L):
    """The model rows (run_model in quality.sh): match --model auto, no
    threshold, next to the same set's best record-level F1."""
    ms = []
    for p in glob.glob(os.path.join(work, "*.modelrow.json")):
        m = load(p)
        m["eval"] = load(os.path.join(work, m["name"] + ".model-eval.json"))
        m["cand"] = load(os.path.join(work, m["name"] + ".model-cand.json"))
        ms.append(m)
    if not ms:
        return
    ms.sort(key=order)
    best = {r["name"]: r["best"] for r in rows}
    L.append("## Fellegi-Sunter model on field-level encodings\n")
    L.append("The same CSVs encoded with `blindlink encode --layout fields` (schema and options "
             "below), then `blindlink match --model auto` (m and prior by EM, u from random "
             "pairs; decision at posterior probability 0.5, no threshold given) and `blindlink "
             "eval`. Pair completeness: true pairs among every candidate the model scores "
             "(`match --model auto -f candidates`) over all true pairs. Record-level best F1: "
             "the row above at its best threshold (its own schema). Times are wall-clock "
             "seconds; peak memory of `match`.\n")
    L.append("| data set | schema, options | blocking | candidates | pair completeness | precision "
             "| recall | F1 | record-level best F1 | encode s | match s | peak MB |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m in ms:
        e, c = m["eval"], m["cand"]
        b = best.get(m["name"])
        L.append("| %s | `%s` `%s` | %s | {:,} | %.4f | %.4f | %.4f | **%.4f** | %s | %.2f | %.2f | %s |"
                 .format(c["predicted"]) % (
                     m["name"], m["schema"], m["encode_options"], m["blocking"], c["recall"],
                     e["precision"], e["recall"], e["f1"], "-" if b is None else "%.4f" % b[1],
                     m["encode_s"], m["match_s"],
                     "-" if m["peak_rss_kb"] is None else "%.0f" % (m["peak_rss_kb"] / 1024)))
    L.append("")


def main():
    work, out = sys.argv[1], sys.argv[2]
    sets = []
    for meta_path in glob.glob(os.path.join(work, "*.meta.json")):
        m = load(meta_path)
        name = m["name"]
        m["sweep"] = by_threshold(load(os.path.join(work, name + ".sweep.json")))
        m["cand_none"] = by_threshold(load(os.path.join(work, name + ".cand-none.json")))
        m["oracle_none"] = by_threshold(load(os.path.join(work, name + ".oracle-none.json")))
        m["true_pairs"] = load(os.path.join(work, name + ".sweep.json"))["true_pairs"]
        sets.append(m)
    if not sets:
        sys.exit("quality_report: no results in %s" % work)
    fixed = ["febrl4", "anonlink5", "clkhash-dirty"]
    levels = ["low", "medium", "high", "hard"]

    def order(m):
        n = m["name"]
        if n in fixed:
            return (0, fixed.index(n), 0)
        parts = n.split("-")
        if len(parts) == 3 and parts[0] == "synth" and parts[1].isdigit() and parts[2] in levels:
            return (1, int(parts[1]), levels.index(parts[2]))
        return (2, 0, n)
    sets.sort(key=order)

    # a set's candidates start at its t_low: below that its sweep is not
    # measured, so the default is searched where every set is measured
    t_from = max(m.get("t_low", 0.5) for m in sets)
    for m in sets:
        m["sweep"] = {t: p for t, p in m["sweep"].items() if t >= m.get("t_low", 0.5) - 1e-9}
    thresholds = sorted(t for t in set.intersection(*[set(m["sweep"]) for m in sets])
                        if t >= t_from - 1e-9)
    # default threshold: best mean F1 over all data sets, each weighted equally
    mean_f1 = {t: sum(m["sweep"][t]["f1"] for m in sets) / len(sets) for t in thresholds}
    best_t = max(thresholds, key=lambda t: (mean_f1[t], -abs(t - 0.8)))
    worst_f1 = {t: min(m["sweep"][t]["f1"] for m in sets) for t in thresholds}

    os.makedirs(out, exist_ok=True)
    rows = []
    for m in sets:
        t = best_t
        s = m["sweep"][t]
        cn, on = m["cand_none"].get(t), m["oracle_none"].get(t)
        brec = None
        if cn and on and on["true_positives"] > 0:
            brec = cn["true_positives"] / on["true_positives"]
        bt = max(m["sweep"], key=lambda x: (m["sweep"][x]["f1"], -x))
        m["at"] = s
        m["brec"] = brec
        m["best"] = (bt, m["sweep"][bt]["f1"])
        rows.append(m)
        pts = sorted(m["sweep"].items())
        svg_plot(os.path.join(out, "f1-%s.svg" % m["name"]), "%s: quality vs threshold" % m["name"],
                 [("F1", (OKABE_ITO[4], ""), [(x, p["f1"]) for x, p in pts]),
                  ("precision", (OKABE_ITO[0], ""), [(x, p["precision"]) for x, p in pts]),
                  ("recall", (OKABE_ITO[3], ""), [(x, p["recall"]) for x, p in pts])], best_t,
                 "schema: %s" % m.get("schema", "?"))
    svg_plot(os.path.join(out, "f1-all.svg"), "F1 vs threshold, every data set",
             [(m["name"], style(i), sorted((x, p["f1"]) for x, p in m["sweep"].items()))
              for i, m in enumerate(rows)], best_t,
             "greedy 1:1 (N-party: probabilistic); schemas per data set: docs/quality.md")

    L = []
    L.append("# Linkage quality benchmark\n")
    L.append("Produced by `bench/quality.sh` (encode -> match -> eval, greedy 1:1 solver). "
             "Precision, recall and F1 are at the default threshold **%.3g**; \"best F1\" is "
             "the best over the set's own sweep (0.5-1.0 in steps of 0.025; from 0.7 for the "
             "LSH-blocked sets, whose candidates start there). Blocking recall: true pairs among "
             "the candidates at the default threshold over the true pairs that reach it at all "
             "(measured with an oracle blocking that compares exactly the true pairs). Pairs "
             "compared with LSH: the distinct pairs the blocking lets through, from `blindlink "
             "match -v` (n/a where the binary does not report it). Times are wall-clock "
             "seconds.\n" % best_t)
    L.append("| data set | parties x records | true pairs | precision | recall | F1 | best F1 (at t) "
             "| blocking | pairs compared | blocking recall | synth s | encode s | match s | eval s |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m in rows:
        s = m["at"]
        per = m["records"] // m["parties"]
        L.append("| %s | %d x %s | %d | %s | %.4f | **%.4f** | %.4f (%.3g) | %s | %s | %s | %s | %.2f | %.2f | %.2f |" % (
            m["name"], m["parties"], "{:,}".format(per) if m["records"] % m["parties"] == 0
            else "~{:,}".format(per), m["true_pairs"], fmt(s["precision"], "%.4f"), s["recall"], s["f1"],
            m["best"][1], m["best"][0], m["blocking"],
            "n/a" if m["pairs_compared"] is None else "{:,}".format(int(m["pairs_compared"])),
            fmt(m["brec"], "%.4f"), "-" if m["synth_s"] is None else "%.2f" % m["synth_s"],
            m["encode_s"], m["match_s"], m["eval_s"]))
    L.append("")
    low = [m for m in rows if m["at"]["f1"] < 0.95]
    L.append("## Default threshold\n")
    L.append("The threshold that maximises the mean F1 over all %d data sets is **%.3g** "
             "(mean F1 %.4f, worst %.4f). Mean F1 at neighbouring thresholds: %s.\n"
             % (len(rows), best_t, mean_f1[best_t], worst_f1[best_t],
                ", ".join("%.3g: %.4f" % (t, mean_f1[t]) for t in thresholds
                          if abs(t - best_t) <= 0.076)))
    if low:
        L.append("Data sets with F1 below 0.95 at the default threshold: %s.\n" %
                 ", ".join("%s (%.4f; best %.4f at %.3g)" % (m["name"], m["at"]["f1"], m["best"][1], m["best"][0])
                           for m in low))
    model_rows(work, rows, order, L)
    L.append("## Schemas\n")
    seen = {}
    for m in rows:
        key = (m["schema"], m.get("encode_options", ""))
        seen.setdefault(key, []).append(m["name"])
    for (schema, opts), names in seen.items():
        L.append("* `%s`%s: %s" % (schema, " with `%s`" % opts if opts else "", ", ".join(names)))
    L.append("\nThe default schema for person data is `bench/schemas/synth.json` (with "
             "`--normalize=names`); docs/quality.md says why each field is weighted as it is.\n")
    L.append("Plots: `f1-all.svg` (every data set) and `f1-<data set>.svg` "
             "(precision, recall and F1).\n")
    with open(os.path.join(out, "quality.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(L))
    with open(os.path.join(out, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"default_threshold": best_t, "mean_f1": mean_f1[best_t],
                   "sets": [{"name": m["name"], "precision": m["at"]["precision"],
                             "recall": m["at"]["recall"], "f1": m["at"]["f1"],
                             "best_f1": m["best"][1], "best_threshold": m["best"][0],
                             "blocking_recall": m["brec"]} for m in rows]}, f, indent=1)
    print("\n".join(L))


if __name__ == "__main__":
    main()
