#!/usr/bin/env python3
"""bench/bench_python.py - throughput of the Python binding against the CLI
on the same data, in the same run (the CLI is the baseline).

Encode: `blindlink encode` (CSV -> binary CLK file) vs blindlink.encode_csv
(same library pipeline, plus reading the result into Python bytes) vs
blindlink.encode_records (rows already in Python lists). Match: `blindlink
match` (files -> pairs CSV) vs blindlink.match (Python filters -> Match
list). Data: `blindlink synth` two-party sets. Times are wall clock, best of
--repeat runs; machines are shared and noisy, so read the ratios.

Usage: bench/bench_python.py [--build build] [--records 100000] [--repeat 3]
Needs BLINDLINK_LIBRARY (or an installed package); `make bench` sets it.
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def best(fn, repeat):
    t = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        t.append(time.perf_counter() - t0)
    return min(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threshold", type=float, default=0.8)
    args = ap.parse_args()
    bl = os.path.join(args.build, "blindlink")
    os.environ.setdefault("BLINDLINK_LIBRARY", os.path.join(args.build, "libblindlink.so"))
    sys.path.insert(0, os.path.join(SRC, "python"))
    import blindlink

    schema = os.path.join(SRC, "bench", "schemas", "synth.json")
    env = dict(os.environ, BL_NO_PROGRESS="1")
    n = args.records
    with tempfile.TemporaryDirectory(prefix="bench-python-") as d:
        secret_file = os.path.join(d, "secret")
        with open(secret_file, "wb") as f:
            f.write(b"bench-python-secret")
        secret = b"bench-python-secret"
        subprocess.run([bl, "synth", "-n", str(n), "--overlap", "0.5", "--seed", "7",
                        "-o", os.path.join(d, "p")], check=True, env=env)
        csvs = [os.path.join(d, "p-%d.csv" % i) for i in (1, 2)]
        clks = [os.path.join(d, "p-%d.clk" % i) for i in (1, 2)]

        def cli_encode():
            for c, o in zip(csvs, clks):
                subprocess.run([bl, "encode", "--quiet", "--secret-file", secret_file,
                                "--format", "bin", c, schema, o], check=True, env=env)

        sets = {}

        def py_encode_csv():
            sets["a"] = blindlink.encode_csv(csvs[0], schema, secret)
            sets["b"] = blindlink.encode_csv(csvs[1], schema, secret)

        rows = []
        for c in csvs:
            with open(c, newline="") as f:
                r = list(csv.reader(f))
            rows.append(r[1:])

        def py_encode_records():
            sets["ra"] = blindlink.encode_records(rows[0], schema, secret)
            sets["rb"] = blindlink.encode_records(rows[1], schema, secret)

        t_cli = best(cli_encode, args.repeat)
        t_csv = best(py_encode_csv, args.repeat)
        t_rec = best(py_encode_records, args.repeat)
        assert sets["a"] == blindlink.read_clks(clks[0]) == sets["ra"], "outputs differ"
        total = 2 * n
        print("bench_python: %d cores online; %d + %d records, schema bench/schemas/synth.json; "
              "best of %d; shared machine: compare ratios" % (os.cpu_count(), n, n, args.repeat))
        print("encode  CLI  blindlink encode        %9.0f records/s  (baseline)" % (total / t_cli))
        print("encode  Py   encode_csv              %9.0f records/s  %.2fx CLI"
              % (total / t_csv, t_cli / t_csv))
        print("encode  Py   encode_records (lists)  %9.0f records/s  %.2fx CLI"
              % (total / t_rec, t_cli / t_rec))

        out = os.path.join(d, "m.csv")

        def cli_match():
            subprocess.run([bl, "match", "-t", str(args.threshold), "-o", out] + clks,
                           check=True, env=env)

        res = {}

        def py_match():
            res["m"] = blindlink.match([sets["a"], sets["b"]], args.threshold)

        t_cm = best(cli_match, args.repeat)
        t_pm = best(py_match, args.repeat)
        with open(out) as f:
            ncli = sum(1 for _ in f) - 1
        assert ncli == len(res["m"]), (ncli, len(res["m"]))
        pairs = n * n
        print("match   CLI  blindlink match         %9.3g pairs/s    (baseline; %d matches)"
              % (pairs / t_cm, ncli))
        print("match   Py   blindlink.match         %9.3g pairs/s    %.2fx CLI"
              % (pairs / t_pm, t_cm / t_pm))


if __name__ == "__main__":
    main()
