#!/usr/bin/env python3
"""Turn Febrl's generator tables (data/febrl-tables/) into lib/synth/tables.c.

The generated C source is committed so a build needs no Python; rerun this
script only when the tables or the derivation change:

    python3 scripts/gen_synth_tables.py [TABLE_DIR] [OUT_C]

What the derivation does is documented in data/febrl-tables/README.md
(ANUOS 1.3 section 3.3 asks for that record).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TDIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "data", "febrl-tables")
OUT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "lib", "synth", "tables.c")


def lines(name):
    with open(os.path.join(TDIR, name), encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            yield line


def freq(name):
    """NAME,count rows -> list of (value, count) with count > 0, merged."""
    out = {}
    order = []
    for line in lines(name):
        val, _, cnt = line.rpartition(",")
        val = val.strip().lower()
        try:
            c = int(cnt.strip())
        except ValueError:
            continue
        if not val or c <= 0:
            continue
        if val not in out:
            order.append(val)
            out[val] = 0
        out[val] += c
    return [(v, out[v]) for v in order]


def misspell(name, sections=False):
    """correct : v1, v2 (continuation lines allowed) -> list of (key, [variants], section)."""
    rows = []
    section = None
    with open(os.path.join(TDIR, name), encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            s = line.strip()
            if s.startswith("#"):
                low = s.lower()
                if "female" in low:
                    section = "f"
                elif "male" in low:
                    section = "m"
                continue
            if not s:
                continue
            if ":" in s:
                key, _, rest = s.partition(":")
                rows.append([key.strip().lower(), [], section])
            else:
                rest = s
            if not rows:
                continue
            for v in rest.split(","):
                v = v.strip().lower()
                if v:
                    rows[-1][1].append(v)
    return rows


def cstr(s):
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch == "\\" or ch == '"':
            out.append("\\" + ch)
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def emit_freq(w, cname, rows):
    w("static const char *const %s_val[%d] = {\n" % (cname, len(rows)))
    line = "   "
    for v, _ in rows:
        item = " " + cstr(v) + ","
        if len(line) + len(item) > 96:
            w(line + "\n")
            line = "   "
        line += item
    w(line + "\n};\n")
    w("static const uint32_t %s_cum[%d] = {\n" % (cname, len(rows)))
    total = 0
    line = "   "
    for _, c in rows:
        total += c
        item = " %du," % total
        if len(line) + len(item) > 96:
            w(line + "\n")
            line = "   "
        line += item
    assert total < 2**32
    w(line + "\n};\n")
    w("const bl_st_freq %s = {%s_val, %s_cum, %d};\n\n" % (cname, cname, cname, len(rows)))


def main():
    given = freq("givenname-freq.csv")
    gm = misspell("givenname-misspell.tbl")
    sex_of = {}
    for key, vs, sec in gm:
        for n in [key] + vs:
            sex_of.setdefault(n, set()).add(sec)
    given_f = [(v, c) for v, c in given if "f" in sex_of.get(v, {"f", "m"})]
    given_m = [(v, c) for v, c in given if "m" in sex_of.get(v, {"f", "m"})]
    surname = freq("surname-freq.csv")
    street = freq("address1-freq.csv")
    streetnum = [(v, c) for v, c in freq("streetnumber-freq.csv") if v.isdigit()]
    ages = [(int(v), c) for v, c in freq("age-freq.csv")]

    # suburb -> [(postcode, state)]
    pcs = {}
    for line in lines("suburb-postcode-lookup.tbl"):
        key, _, pc = line.partition(":")
        key = key.strip().lower()
        state, _, sub = key.partition("-")
        pc = pc.strip()
        if sub and pc:
            lst = pcs.setdefault(sub, [])
            if (pc, state) not in lst:
                lst.append((pc, state))
    locs = []
    for sub, c in freq("suburb-freq.csv"):
        opts = pcs.get(sub)
        if not opts:
            continue
        share = max(1, (c * 12) // len(opts))
        for pc, st in opts:
            locs.append((sub, pc, st, share))

    def variants(rows):
        pairs = set()
        for key, vs, _ in rows:
            for v in vs:
                if v != key:
                    pairs.add((key, v))
                    pairs.add((v, key))
        return sorted(pairs, key=lambda p: (p[0].encode(), p[1].encode()))

    gvar = variants(gm)
    svar = variants(misspell("surname-misspell.tbl"))
    uvar = variants(misspell("suburb-misspell.tbl"))

    ocr = []
    for line in lines("lib_ocr_rules.txt"):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 3 and parts[0] == "ALL" and parts[1] and parts[2]:
            ocr.append((parts[1], parts[2]))

    posmap = {"ALL": 0, "START": 1, "MIDDLE": 2, "END": 3}
    condmap = {"None": 0, "V": 1, "C": 2}
    phon = []
    dropped = 0
    for line in lines("lib_phonetic_rules.txt"):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 7 or parts[0] not in posmap:
            continue
        if parts[3] not in condmap or parts[4] not in condmap or parts[5] != "None" \
                or parts[6] != "None":
            dropped += 1
            continue
        src = "" if parts[1] == "@" else parts[1].lower()
        dst = "" if parts[2] == "@" else parts[2].lower()
        if not src or src == dst:
            continue
        phon.append((posmap[parts[0]], condmap[parts[3]], condmap[parts[4]], src, dst))

    area = []
    for line in lines("state-areacode-lookup.tbl"):
        if ":" not in line:
            continue
        st, _, rest = line.partition(":")
        code = rest.split(",")[0].strip()
        if st.strip():
            area.append((st.strip().lower(), code))

    out = []
    w = out.append
    w("/* lib/synth/tables.c - GENERATED by scripts/gen_synth_tables.py; do not edit.\n"
      " *\n"
      " * Frequency, misspelling, OCR and phonetic tables for `blindlink synth`,\n"
      " * derived from the Febrl data set generator tables in data/febrl-tables/\n"
      " * (Copyright 2002-2011 Australian National University and others, ANU Open\n"
      " * Source Licence 1.3, see data/febrl-tables/ANUOS-1.3.txt). Derived work: the\n"
      " * changes are listed in data/febrl-tables/README.md. */\n"
      "#include \"synth/tables.h\"\n\n")
    emit_freq(w, "bl_st_given_f", given_f)
    emit_freq(w, "bl_st_given_m", given_m)
    emit_freq(w, "bl_st_surname", surname)
    emit_freq(w, "bl_st_street", street)
    emit_freq(w, "bl_st_streetnum", streetnum)

    w("static const uint8_t bl_st_age_years[%d] = {" % len(ages))
    w(", ".join(str(a) for a, _ in ages))
    w("};\nstatic const uint32_t bl_st_age_cum_[%d] = {" % len(ages))
    tot = 0
    cums = []
    for _, c in ages:
        tot += c
        cums.append("%du" % tot)
    w(", ".join(cums))
    w("};\nconst bl_st_ages bl_st_age = {bl_st_age_years, bl_st_age_cum_, %d};\n\n" % len(ages))

    w("static const bl_st_loc bl_st_loc_val[%d] = {\n" % len(locs))
    for sub, pc, st, _ in locs:
        w("    {%s, %s, %s},\n" % (cstr(sub), cstr(pc), cstr(st)))
    w("};\nstatic const uint32_t bl_st_loc_cum[%d] = {\n" % len(locs))
    tot = 0
    line = "   "
    for *_, c in locs:
        tot += c
        item = " %du," % tot
        if len(line) + len(item) > 96:
            w(line + "\n")
            line = "   "
        line += item
    assert tot < 2**32
    w(line + "\n};\n")
    w("const bl_st_locs bl_st_locality = {bl_st_loc_val, bl_st_loc_cum, %d};\n\n" % len(locs))

    for cname, pairs in (("bl_st_given_var", gvar), ("bl_st_surname_var", svar),
                         ("bl_st_suburb_var", uvar)):
        w("static const bl_st_pair %s_val[%d] = {\n" % (cname, len(pairs)))
        for a, b in pairs:
            w("    {%s, %s},\n" % (cstr(a), cstr(b)))
        w("};\nconst bl_st_pairs %s = {%s_val, %d};\n\n" % (cname, cname, len(pairs)))

    w("static const bl_st_pair bl_st_ocr_val[%d] = {\n" % len(ocr))
    for a, b in ocr:
        w("    {%s, %s},\n" % (cstr(a), cstr(b)))
    w("};\nconst bl_st_pairs bl_st_ocr = {bl_st_ocr_val, %d};\n\n" % len(ocr))

    w("/* %d rules with other context conditions were dropped. */\n" % dropped)
    w("static const bl_st_rule bl_st_phonetic_val[%d] = {\n" % len(phon))
    for pos, pre, post, a, b in phon:
        w("    {%d, %d, %d, %s, %s},\n" % (pos, pre, post, cstr(a), cstr(b)))
    w("};\nconst bl_st_rules bl_st_phonetic = {bl_st_phonetic_val, %d};\n\n" % len(phon))

    w("static const bl_st_pair bl_st_areacode_val[%d] = {\n" % len(area))
    for a, b in area:
        w("    {%s, %s},\n" % (cstr(a), cstr(b)))
    w("};\nconst bl_st_pairs bl_st_areacode = {bl_st_areacode_val, %d};\n" % len(area))

    with open(OUT + ".tmp", "w", encoding="ascii") as f:
        f.write("".join(out))
    os.replace(OUT + ".tmp", OUT)
    print("wrote %s: %d/%d given (f/m), %d surnames, %d streets, %d localities, "
          "%d+%d+%d variant pairs, %d ocr, %d phonetic (%d dropped)" %
          (OUT, len(given_f), len(given_m), len(surname), len(street), len(locs),
           len(gvar), len(svar), len(uvar), len(ocr), len(phon), dropped))


if __name__ == "__main__":
    main()
