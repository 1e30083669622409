"""Tests of the Python binding (python/blindlink) against the clkhash and
anonlink known-answer vectors in tests/fixtures. Standard library only;
NumPy paths run where NumPy is installed. Run by ctest (label python) with
BLINDLINK_LIBRARY and PYTHONPATH set, or by hand:
  BLINDLINK_LIBRARY=build/libblindlink.so PYTHONPATH=python python3 -m unittest discover -s tests/python
"""
import base64
import csv
import io
import json
import os
import tempfile
import unittest

import blindlink
from blindlink.compat import anonlink
from blindlink.compat.clkhash import clk, schema as clkschema, serialization

SRC = os.environ.get("BL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(SRC, "tests", "fixtures")
CH = os.path.join(FIX, "clkhash")
SCHEMAS = ["schema1-blake", "schema1-blake-v2", "schema2-doublehash", "schema3-mixed-folded",
           "schema4-doublehash-singularity", "schema5-xorFolds-camelcase-ignored"]
with open(os.path.join(CH, "secret.txt"), "rb") as _f:
    SECRET = _f.read()

try:
    import numpy
except ImportError:
    numpy = None


def expected_clks(party, schema):
    """The fixture's CLKs decoded with the standard library only."""
    with open(os.path.join(CH, "clks", "people-%s.%s.json" % (party, schema))) as f:
        return [base64.b64decode(s) for s in json.load(f)["clks"]]


def csv_path(party):
    return os.path.join(CH, "data", "people-%s.csv" % party)


def schema_path(name):
    return os.path.join(CH, "schemas", name + ".json")


def anonlink_api(schema):
    p = os.path.join(FIX, "matching", "people-a-vs-b.%s.anonlink-api.json" % schema)
    with open(p) as f:
        return json.load(f)


class EncodeTest(unittest.TestCase):
    def test_library_and_version(self):
        self.assertTrue(os.path.exists(blindlink.library_path) or "/" not in blindlink.library_path)
        self.assertRegex(blindlink.version(), r"^\d+\.\d+\.\d+")

    def test_encode_csv_reproduces_every_clkhash_vector(self):
        for s in SCHEMAS:
            for p in "ab":
                with self.subTest(schema=s, party=p):
                    got = blindlink.encode_csv(csv_path(p), schema_path(s), SECRET)
                    self.assertEqual(got, expected_clks(p, s))

    def test_encode_csv_any_thread_count(self):
        exp = expected_clks("a", "schema2-doublehash")
        for t in (1, 2, 3):
            self.assertEqual(blindlink.encode_csv(csv_path("a"), schema_path("schema2-doublehash"),
                                                  SECRET, threads=t), exp)

    def test_encode_records_lists_and_mappings(self):
        with open(csv_path("b"), newline="") as f:
            rows = list(csv.reader(f))
        header, rows = rows[0], rows[1:]
        for s in SCHEMAS:
            with self.subTest(schema=s):
                self.assertEqual(blindlink.encode_records(rows, schema_path(s), SECRET),
                                 expected_clks("b", s))
        dicts = [dict(zip(header, r)) for r in rows]
        with open(schema_path("schema1-blake")) as f:
            sch = json.load(f)
        self.assertEqual(blindlink.encode_records(dicts, sch, SECRET.decode(), threads=2),
                         expected_clks("b", "schema1-blake"))

    def test_encode_records_on_several_threads(self):
        # enough records for the batch encoder to split them over threads
        with open(csv_path("a"), newline="") as f:
            rows = list(csv.reader(f))[1:] * 160
        exp = expected_clks("a", "schema3-mixed-folded") * 160
        for t in (1, 3):
            self.assertEqual(blindlink.encode_records(rows, schema_path("schema3-mixed-folded"),
                                                      SECRET, threads=t), exp)
        bad = [list(r) for r in rows]
        bad[2500][7] = "222"  # age above the maximum of 130
        bad[3100][7] = "-5"
        with self.assertRaises(blindlink.BlindlinkError) as cm:
            blindlink.encode_records(bad, schema_path("schema3-mixed-folded"), SECRET, threads=3)
        self.assertIn("record 2500", str(cm.exception))  # the first failing record

    def test_normalize_changes_bits_and_is_deterministic(self):
        plain = blindlink.encode_csv(csv_path("a"), schema_path("schema1-blake"), SECRET)
        norm = blindlink.encode_csv(csv_path("a"), schema_path("schema1-blake"), SECRET,
                                    normalize="names")
        self.assertNotEqual(plain, norm)
        self.assertEqual(norm, blindlink.encode_csv(csv_path("a"), schema_path("schema1-blake"),
                                                    SECRET, normalize="names"))
        with self.assertRaises(ValueError):
            blindlink.encode_csv(csv_path("a"), schema_path("schema1-blake"), SECRET,
                                 normalize="loud")

    def test_bad_value_raises_with_file_line_and_column(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bad.csv")
            with open(csv_path("a")) as f:
                lines = f.read().split("\n")
            cells = lines[3].split(",")
            cells[3] = "1985-13-01"
            lines[3] = ",".join(cells)
            with open(p, "w") as f:
                f.write("\n".join(lines))
            with self.assertRaises(blindlink.BlindlinkError) as cm:
                blindlink.encode_csv(p, schema_path("schema1-blake"), SECRET)
            self.assertEqual(cm.exception.status, "BL_EINPUT")
            msg = str(cm.exception)
            self.assertIn("bad.csv:4", msg)
            self.assertIn("1985-13-01", msg)
            self.assertIn("dob", msg)
            self.assertEqual(os.listdir(d), ["bad.csv"])  # nothing half-written

    def test_bad_record_in_memory_names_the_record(self):
        rows = [["a01", "X", "Y", "2000-01-01", "F", "", "", "", ""]] * 3
        rows = rows + [["a04", "X", "Y", "31/12/1999", "F", "", "", "", ""]]
        with self.assertRaises(blindlink.BlindlinkError) as cm:
            blindlink.encode_records(rows, schema_path("schema1-blake"), SECRET)
        self.assertIn("record 3", str(cm.exception))
        with self.assertRaises(blindlink.BlindlinkError) as cm:
            blindlink.encode_records([["too", "short"]], schema_path("schema1-blake"), SECRET)
        self.assertIn("has 2 fields", str(cm.exception))

    def test_bad_schema_names_the_json_path(self):
        with self.assertRaises(blindlink.BlindlinkError) as cm:
            blindlink.encode_records([], '{"version": 3, "clkConfig": {"l": 0}}', SECRET)
        self.assertEqual(cm.exception.status, "BL_ESCHEMA")
        self.assertIn("$", str(cm.exception))

    def test_missing_file(self):
        with self.assertRaises(blindlink.BlindlinkError) as cm:
            blindlink.read_clks("/nonexistent/x.clk")
        self.assertIn("/nonexistent/x.clk", str(cm.exception))

    def test_secret_types(self):
        with self.assertRaises(TypeError):
            blindlink.encode_records([], schema_path("schema1-blake"), 1234)


class FilesTest(unittest.TestCase):
    def test_write_json_is_byte_identical_to_clkhash(self):
        for s in ("schema1-blake", "schema2-doublehash", "schema3-mixed-folded"):
            clks = expected_clks("a", s)
            with tempfile.TemporaryDirectory() as d:
                out = os.path.join(d, "c.json")
                blindlink.write_clks(out, clks, "json")
                with open(out, "rb") as f, \
                        open(os.path.join(CH, "clks", "people-a.%s.json" % s), "rb") as g:
                    self.assertEqual(f.read(), g.read())

    def test_binary_round_trip_with_ids(self):
        clks = expected_clks("b", "schema1-blake")
        ids = ["b%02d" % i for i in range(len(clks))]
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "c.clk")
            blindlink.write_clks(out, clks, "bin", ids=ids)
            with open(out, "rb") as f:
                self.assertEqual(f.read(8), b"BLCLK\x00\r\n")
            got, got_ids = blindlink.read_clks(out, with_ids=True)
            self.assertEqual(got, clks)
            self.assertEqual(got_ids, ids)
            self.assertEqual(blindlink.read_clks(os.path.join(CH, "clks",
                                                              "people-b.schema1-blake.json"),
                                                 with_ids=True), (clks, None))

    def test_mixed_lengths_refused(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(blindlink.BlindlinkError) as cm:
                blindlink.write_clks(os.path.join(d, "x.json"), [b"\x01" * 128, b"\x01" * 64])
            self.assertIn("filter 1", str(cm.exception))
            self.assertEqual(os.listdir(d), [])


class MatchTest(unittest.TestCase):
    def setUp(self):
        self.a = expected_clks("a", "schema1-blake")
        self.b = expected_clks("b", "schema1-blake")
        self.api = anonlink_api("schema1-blake")

    def test_candidates_equal_anonlink(self):
        exp = self.api["find_candidate_pairs(threshold=0.8)"]
        got = blindlink.candidates(self.a, self.b, 0.8)
        self.assertEqual([g[0] for g in got], exp["sims"])
        self.assertEqual([g[1] for g in got], exp["rec"][0])
        self.assertEqual([g[2] for g in got], exp["rec"][1])

    def test_match_greedy_equals_anonlink_groups(self):
        for s in ("schema1-blake", "schema2-doublehash"):
            with self.subTest(schema=s):
                api = anonlink_api(s)
                got = blindlink.match([expected_clks("a", s), expected_clks("b", s)], 0.8)
                exp = api["greedy_solve(find_candidate_pairs(threshold=0.8)) [groups sorted]"]
                self.assertEqual(sorted([list(map(list, m.members)) for m in got]), exp)
                sims = dict(((r0, r1), sc) for sc, r0, r1 in zip(
                    api["find_candidate_pairs(threshold=0.8)"]["sims"],
                    *api["find_candidate_pairs(threshold=0.8)"]["rec"]))
                for m in got:
                    self.assertEqual(m.score, sims[(m.members[0][1], m.members[1][1])])
                self.assertEqual([m.score for m in got],
                                 sorted((m.score for m in got), reverse=True))

    def test_match_from_files_and_probabilistic(self):
        fa = os.path.join(CH, "clks", "people-a.schema1-blake.json")
        fb = os.path.join(CH, "clks", "people-b.schema1-blake.json")
        got = blindlink.match([fa, fb], 0.8, solver="probabilistic")
        exp = self.api["probabilistic_greedy_solve(find_candidate_pairs(threshold=0.8)) "
                       "[groups sorted]"]
        self.assertEqual(sorted([list(map(list, m.members)) for m in got]), exp)

    def test_three_parties(self):
        got = blindlink.match([self.a, self.b, self.a], 0.8, solver="probabilistic")
        sizes = sorted(len(m.members) for m in got)
        self.assertEqual(sizes[-1], 3)
        for m in got:
            self.assertEqual(len({d for d, _ in m.members}), len(m.members))

    def test_lsh_blocking_keeps_a_subset(self):
        full = set(blindlink.candidates(self.a, self.b, 0.8))
        lsh = blindlink.candidates(self.a, self.b, 0.8,
                                   blocking=blindlink.LSH(b"k" * 32, tables=40, bits=8))
        self.assertTrue(set(lsh) <= full)
        self.assertGreater(len(lsh), 0)
        with self.assertRaises(TypeError):
            blindlink.candidates(self.a, self.b, 0.8, blocking="lsh")

    def test_lsh_keep(self):
        # the planned blocking (either keep) on these small sets matches the
        # exhaustive result; keep must be all, best or None
        full = blindlink.match([self.a, self.b], 0.8)
        for keep in (None, "all", "best"):
            got = blindlink.match([self.a, self.b], 0.8,
                                  blocking=blindlink.LSH(b"k" * 32, keep=keep))
            self.assertEqual([m.members for m in got][:5], [m.members for m in full][:5])
        with self.assertRaises(ValueError):
            blindlink.LSH(b"k" * 32, keep="most")

    def test_threshold_out_of_range(self):
        with self.assertRaises(blindlink.BlindlinkError) as cm:
            blindlink.match([self.a, self.b], 1.5)
        self.assertEqual(cm.exception.status, "BL_EINVAL")

    def test_bad_counts(self):
        # wrapped or truncated before: threads=-1 became a huge count, "2" was int()ed
        for bad in (-1, 1 << 20, "2", 2.5, True):
            with self.assertRaisesRegex(ValueError, "threads must be a whole number"):
                blindlink.match([self.a, self.b], 0.8, threads=bad)
        for bad in (0, -1, 2.5):
            with self.assertRaisesRegex(ValueError, "k must be a whole number"):
                blindlink.match([self.a, self.b], 0.8, k=bad)
        for bad in (0, 1, 2, -0.5, "0.9"):
            with self.assertRaisesRegex(ValueError, "recall must be a number in"):
                blindlink.LSH(b"k" * 32, recall=bad)

    def test_evaluate(self):
        got = blindlink.match([self.a, self.b], 0.8)
        with open(os.path.join(FIX, "matching", "people-truth.csv")) as f:
            truth = [(int(r["a_index"]), int(r["b_index"])) for r in csv.DictReader(f)]
        pred = [(m.members[0][1], m.members[1][1]) for m in got]
        tp = len(set(pred) & set(truth))
        r = blindlink.evaluate(got, truth=[((0, i), (1, j)) for i, j in truth])
        self.assertEqual((r["predicted"], r["true_positives"], r["true_pairs"]),
                         (len(pred), tp, len(truth)))
        self.assertAlmostEqual(r["precision"], tp / len(pred))
        self.assertAlmostEqual(r["recall"], tp / len(truth))
        # ids: row i of A and B are the same person for the truth rows
        ids_a = ["p%d" % i for i in range(len(self.a))]
        ids_b = ["p%d" % i if (i, i) in set(truth) else "other%d" % i for i in range(len(self.b))]
        self.assertEqual(blindlink.evaluate(got, ids=[ids_a, ids_b]), r)
        febrl_a = ["rec-%d-org" % i for i in range(len(self.a))]
        febrl_b = ["rec-%d-dup-0" % i if (i, i) in set(truth) else "rec-%d-org" % (100 + i)
                   for i in range(len(self.b))]
        self.assertEqual(blindlink.evaluate(got, ids=[febrl_a, febrl_b], mode="febrl"), r)
        # a given count below the true positives found (recall was above 1)
        tt = [((0, i), (1, j)) for i, j in truth]
        with self.assertRaisesRegex(ValueError, "at least that many true pairs"):
            blindlink.evaluate(got, truth=tt, true_pairs=1)
        for bad in (-1, 2.5, "3", True):
            with self.assertRaisesRegex(ValueError, "whole number"):
                blindlink.evaluate(got, truth=tt, true_pairs=bad)

    def test_dice(self):
        sims = self.api["dice_coefficient_accelerated(threshold=0.5)"]
        i, j = sims["rec_a"][0], sims["rec_b"][0]
        self.assertEqual(blindlink.dice(self.a[i], self.b[j]), sims["sims"][0])


class CompatTest(unittest.TestCase):
    def test_generate_clk_from_csv(self):
        for s in ("schema1-blake", "schema3-mixed-folded", "schema4-doublehash-singularity"):
            with self.subTest(schema=s), open(csv_path("a"), newline="") as f, \
                    open(schema_path(s)) as sf:
                sch = clkschema.from_json_file(sf)
                got = clk.generate_clk_from_csv(f, SECRET.decode(), sch, progress_bar=False)
                self.assertEqual([bytes(g) if isinstance(g, bytes) else g.tobytes() for g in got],
                                 expected_clks("a", s))
                with open(os.path.join(CH, "clks", "people-a.%s.json" % s)) as cf:
                    self.assertEqual([serialization.serialize_bitarray(g) for g in got],
                                     json.load(cf)["clks"])

    def test_generate_clk_from_csv_header_modes(self):
        with open(csv_path("a"), newline="") as f:
            text = f.read()
        sch = schema_path("schema1-blake")
        renamed = "ID" + text[2:]
        with self.assertRaises(blindlink.BlindlinkError):
            clk.generate_clk_from_csv(io.StringIO(renamed), SECRET, sch)
        exp = expected_clks("a", "schema1-blake")
        got = clk.generate_clk_from_csv(io.StringIO(renamed), SECRET, sch, header="ignore")
        self.assertEqual([g if isinstance(g, bytes) else g.tobytes() for g in got], exp)
        no_header = text.split("\n", 1)[1]
        got = clk.generate_clk_from_csv(io.StringIO(no_header), SECRET, sch, header=False)
        self.assertEqual(len(got), len(exp))
        with self.assertRaises(ValueError):
            clk.generate_clk_from_csv(io.StringIO(text), SECRET, sch, header="yes")

    def test_anonlink_similarities(self):
        a, b = expected_clks("a", "schema1-blake"), expected_clks("b", "schema1-blake")
        api = anonlink_api("schema1-blake")
        for key, k in (("dice_coefficient_accelerated(threshold=0.5)", None),
                       ("dice_coefficient_accelerated(threshold=0.5,k=2)", 2)):
            with self.subTest(k=k):
                sims, (i0, i1) = anonlink.similarities.dice_coefficient_accelerated((a, b), 0.5, k)
                self.assertEqual(sims.typecode, "d")
                self.assertEqual(list(sims), api[key]["sims"])
                self.assertEqual(list(i0), api[key]["rec_a"])
                self.assertEqual(list(i1), api[key]["rec_b"])

    def test_anonlink_candidates_and_solvers(self):
        for s in ("schema1-blake", "schema2-doublehash"):
            with self.subTest(schema=s):
                a, b = expected_clks("a", s), expected_clks("b", s)
                api = anonlink_api(s)
                cands = anonlink.candidate_generation.find_candidate_pairs(
                    (a, b), anonlink.similarities.dice_coefficient, 0.8)
                exp = api["find_candidate_pairs(threshold=0.8)"]
                sims, dsets, recs = cands
                self.assertEqual(list(sims), exp["sims"])
                self.assertEqual([list(dsets[0]), list(dsets[1])], exp["dset"])
                self.assertEqual([list(recs[0]), list(recs[1])], exp["rec"])
                g = anonlink.solving.greedy_solve(cands)
                self.assertIsInstance(g, tuple)
                self.assertEqual(sorted([list(map(list, x)) for x in g]),
                                 api["greedy_solve(find_candidate_pairs(threshold=0.8)) "
                                     "[groups sorted]"])
                p = anonlink.solving.probabilistic_greedy_solve(cands)
                self.assertEqual(sorted([list(map(list, x)) for x in p]),
                                 api["probabilistic_greedy_solve(find_candidate_pairs("
                                     "threshold=0.8)) [groups sorted]"])

    def test_anonlink_refuses_other_similarity(self):
        def jaccard(*a):
            return None
        with self.assertRaises(ValueError):
            anonlink.candidate_generation.find_candidate_pairs(([b"\x00"], [b"\x00"]), jaccard, 0.5)


@unittest.skipIf(numpy is None, "NumPy is not installed")
class NumpyTest(unittest.TestCase):
    def test_arrays_in_and_out(self):
        arr = blindlink.encode_csv(csv_path("a"), schema_path("schema2-doublehash"), SECRET,
                                   as_array=True)
        self.assertEqual(arr.shape, (20, 125))
        self.assertEqual(arr.dtype, numpy.uint8)
        self.assertEqual([r.tobytes() for r in arr], expected_clks("a", "schema2-doublehash"))
        b = numpy.array([list(c) for c in expected_clks("b", "schema2-doublehash")],
                        dtype=numpy.uint8)
        lists = blindlink.candidates(expected_clks("a", "schema2-doublehash"),
                                     expected_clks("b", "schema2-doublehash"), 0.8)
        self.assertEqual(blindlink.candidates(arr, b, 0.8), lists)


if __name__ == "__main__":
    unittest.main()
