"""Tests of the binding's Fellegi-Sunter API (blindlink.model): field-level
encoding to files, model_link against the truth of the clkhash dirty pair
(data/clkhash-dirty, 1,000 x 1,000 records, 500 true pairs) and against the
CLI's `match --model` on the same files, model files, explain, and errors."""
import csv
import json
import os
import subprocess
import tempfile
import unittest

import blindlink

SRC = os.environ.get("BL_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
DIRTY = os.path.join(SRC, "data", "clkhash-dirty")
SCHEMA = os.path.join(SRC, "bench", "schemas", "clkhash-dirty.json")
CLI = os.path.join(os.environ.get("BL_BUILD", os.path.join(SRC, "build")), "blindlink")
SECRET = b"python model test secret"


class ModelLinkTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="blindlink-pymodel-")
        cls.files = []
        for k in (1, 2):
            out = os.path.join(cls.tmp.name, "f%d.clk" % k)
            n = blindlink.encode_file(os.path.join(DIRTY, "dirty_1000_50_%d.csv" % k), SCHEMA,
                                      SECRET, out, layout="fields", ids="rec_id",
                                      legacy_strip=True, header="ignore")
            assert n == 1000, n
            cls.files.append(out)
        cls.result = blindlink.model_link(cls.files, threads=1)

    @classmethod
    def tearDownClass(cls):
        cls.result.model.close()
        cls.tmp.cleanup()

    def test_quality(self):
        pairs = self.result.pairs
        true = sum(1 for p in pairs if p.a_id == p.b_id)
        precision, recall = true / len(pairs), true / 500
        self.assertGreaterEqual(2 * precision * recall / (precision + recall), 0.95)
        self.assertTrue(self.result.model.converged)
        self.assertGreater(self.result.ncandidates, len(pairs))
        weights = [p.weight for p in pairs]
        self.assertEqual(weights, sorted(weights, reverse=True))
        self.assertTrue(all(p.probability >= 0.5 for p in pairs))

    def test_same_as_cli(self):
        if not os.access(CLI, os.X_OK):
            self.skipTest("no CLI binary at %s" % CLI)
        out = os.path.join(self.tmp.name, "cli.csv")
        subprocess.run([CLI, "match", "--model", "auto", "-j", "1", "-o", out] + self.files,
                       check=True, stderr=subprocess.DEVNULL)
        with open(out, newline="") as f:
            cli = {(int(r["a_index"]), int(r["b_index"])): float(r["weight"])
                   for r in csv.DictReader(f)}
        py = {(p.a_index, p.b_index): p.weight for p in self.result.pairs}
        self.assertEqual(set(cli), set(py))
        for k, w in cli.items():
            self.assertAlmostEqual(py[k], w, places=3)  # the CSV has 4 decimals

    def test_model_file_and_candidates(self):
        path = os.path.join(self.tmp.name, "m.json")
        self.result.model.write(path)
        with open(path) as f:
            self.assertEqual(json.load(f), self.result.model.to_dict())
        again = blindlink.model_link(self.files, path, threads=1)
        self.assertEqual([(p.a_index, p.b_index, p.weight) for p in again.pairs],
                         [(p.a_index, p.b_index, p.weight) for p in self.result.pairs])
        every = blindlink.model_link(self.files, self.result.model, candidates=True, threads=1)
        self.assertEqual(len(every.pairs), every.ncandidates)
        strict = blindlink.model_link(self.files, self.result.model, min_probability=0.999999,
                                      threads=1)
        self.assertTrue(all(p.probability >= 0.999999 for p in strict.pairs))
        self.assertLessEqual({(p.a_index, p.b_index) for p in strict.pairs},
                             {(p.a_index, p.b_index) for p in self.result.pairs})
        fields = self.result.model.fields()
        self.assertEqual([f["name"] for f in fields], [f["name"] for f in
                                                       self.result.model.to_dict()["fields"]])
        self.assertTrue(all(0 < lv["m"] <= 1 and 0 < lv["u"] <= 1
                            for f in fields for lv in f["levels"]))

    def test_explain(self):
        top = self.result.pairs[0]
        e = self.result.model.explain(self.files[0], top.a_index, self.files[1], top.b_index)
        self.assertAlmostEqual(e["weight"], top.weight, places=9)
        self.assertAlmostEqual(e["probability"], top.probability, places=12)
        self.assertAlmostEqual(e["prior_weight"] + sum(f["weight"] for f in e["fields"]),
                               e["weight"], places=9)
        with self.assertRaises(IndexError):
            self.result.model.explain(self.files[0], 1000, self.files[1], 0)
        # inputs: the value frequencies of the run's inputs (here the same two)
        again = self.result.model.explain(self.files[0], top.a_index, self.files[1], top.b_index,
                                          inputs=self.files)
        self.assertEqual(again, e)
        with self.assertRaises(ValueError):
            self.result.model.explain(self.files[0], 0, self.files[1], 0, inputs=self.files[:1])

    def test_block_order(self):
        """BL_MODEL_ORDER_BLOCKS (keyed field blocks, forced by lsh=1): the
        candidates of anonlink's order, in another order that does not
        depend on the threads; bl_model_decide on them keeps exactly the
        pairs bl_model_score_decide keeps of the anonlink list."""
        import ctypes
        from blindlink import _lib
        from blindlink.model import _Sets
        lib = _lib.lib

        def cands(sets, order, threads):
            lo = _lib.ModelLinkOpts()
            lo.lsh, lo.order, lo.threads = 1, order, threads
            c, n, err = ctypes.POINTER(_lib.Candidate)(), ctypes.c_size_t(), _lib.Error()
            _lib.check(lib.bl_model_candidates(sets.array(), 2, ctypes.byref(lo), ctypes.byref(c),
                                               ctypes.byref(n), ctypes.byref(err)), err)
            return c, n.value, lo

        def keys(c, n):
            return [(c[i].score, c[i].dset[0], c[i].dset[1], c[i].rec[0], c[i].rec[1])
                    for i in range(n)]

        def kept(ptr, n):
            return sorted(bytes(ptr[i]) for i in range(n))

        m = self.result.model
        with _Sets(self.files) as sets:
            cs, ns, los = cands(sets, 0, 1)
            cb, nb, lob = cands(sets, 1, 1)
            c3, n3, _ = cands(sets, 1, 3)
            try:
                ks, kb = keys(cs, ns), keys(cb, nb)
                self.assertGreater(ns, 1000)
                self.assertEqual(sorted(kb), sorted(ks))
                self.assertNotEqual(kb, ks)
                self.assertEqual(ks, sorted(ks, key=lambda k: (-k[0],) + k[1:]))
                self.assertEqual(keys(c3, n3), kb)
                for p in (0.5, 0.05, 0.95):
                    los.min_probability = lob.min_probability = p
                    out, no, err = ctypes.POINTER(_lib.ScoredPair)(), ctypes.c_size_t(), _lib.Error()
                    _lib.check(lib.bl_model_score_decide(m.h, sets.array(), 2, cs, ns, 1, p,
                                                         ctypes.byref(out), ctypes.byref(no),
                                                         ctypes.byref(err)), err)
                    ref = kept(out, no.value)
                    _lib.libc.free(out)
                    _lib.check(lib.bl_model_decide(m.h, sets.array(), 2, cb, nb, ctypes.byref(lob),
                                                   ctypes.byref(out), ctypes.byref(no),
                                                   ctypes.byref(err)), err)
                    self.assertEqual(kept(out, no.value), ref)
                    self.assertGreater(len(ref), 0)
                    _lib.libc.free(out)
            finally:
                for c in (cs, cb, c3):
                    _lib.libc.free(c)

    def test_errors(self):
        with self.assertRaises(ValueError):
            blindlink.model_link(self.files[:1])
        with self.assertRaises(ValueError):
            blindlink.model_link(self.files, min_probability=0)
        with self.assertRaisesRegex(blindlink.BlindlinkError, "nonexist.clk"):
            blindlink.model_link([self.files[0], os.path.join(self.tmp.name, "nonexist.clk")])
        # a record-level file where a field-level one is needed: refused, naming it
        rec = os.path.join(self.tmp.name, "rec.clk")
        blindlink.encode_file(os.path.join(DIRTY, "dirty_1000_50_2.csv"), SCHEMA, SECRET, rec,
                              ids="rec_id", legacy_strip=True, header="ignore")
        with self.assertRaisesRegex(blindlink.BlindlinkError, "rec.clk"):
            blindlink.model_link([self.files[0], rec])
        with self.assertRaises(ValueError):
            blindlink.encode_file(os.path.join(DIRTY, "dirty_1000_50_2.csv"), SCHEMA, SECRET,
                                  rec, layout="columns")
        # an output that is an input is refused, the input kept
        with open(rec, "rb") as f:
            before = f.read()
        with self.assertRaisesRegex(ValueError, "is also an input"):
            blindlink.encode_file(rec, SCHEMA, SECRET, rec)
        with open(rec, "rb") as f:
            self.assertEqual(f.read(), before)
        # a bad CSV row leaves no output behind
        bad = os.path.join(self.tmp.name, "bad.csv")
        with open(os.path.join(DIRTY, "dirty_1000_50_1.csv")) as f:
            header = f.readline()
        with open(bad, "w") as f:
            f.write(header + "1,2\n")
        out = os.path.join(self.tmp.name, "bad.clk")
        with self.assertRaisesRegex(blindlink.BlindlinkError, "bad.csv:2"):
            blindlink.encode_file(bad, SCHEMA, SECRET, out, layout="fields", header="ignore")
        self.assertFalse(os.path.exists(out))
        with self.assertRaisesRegex(blindlink.BlindlinkError, "fixd"):
            d = self.result.model.to_dict()
            d["fields"][0]["levels"][0]["fixd"] = True
            blindlink.Model.from_json(d)


class GroupsTest(unittest.TestCase):
    """Three inputs (the anonlink tutorial's first three parties): groups
    merge at half their cross pairs by default, at every one with
    merge_threshold=1.0, both as the CLI's --merge-threshold does."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="blindlink-pygroups-")
        tut = os.path.join(SRC, "data", "anonlink-tutorial")
        cls.files = []
        for k in (1, 2, 3):
            out = os.path.join(cls.tmp.name, "t%d.clk" % k)
            blindlink.encode_file(os.path.join(tut, "dataset-%d.csv" % k),
                                  os.path.join(tut, "schema.json"), SECRET, out,
                                  layout="fields", ids="id")
            cls.files.append(out)
        cls.model = blindlink.model_link(cls.files, threads=1).model

    @classmethod
    def tearDownClass(cls):
        cls.model.close()
        cls.tmp.cleanup()

    def links(self, merge):
        r = blindlink.model_link(self.files, self.model, threads=1, merge_threshold=merge)
        return {((p.a_dataset, p.a_index), (p.b_dataset, p.b_index)) for p in r.pairs}, r.pairs

    def cli_links(self, merge):
        path = os.path.join(self.tmp.name, "m.json")
        self.model.write(path)
        out = os.path.join(self.tmp.name, "g.csv")
        subprocess.run([CLI, "match", "--model", path, "--merge-threshold", str(merge), "-j", "1",
                        "-o", out] + self.files, check=True, stderr=subprocess.DEVNULL)
        with open(out, newline="") as f:
            return {((int(r["a_dataset"]), int(r["a_index"])),
                     (int(r["b_dataset"]), int(r["b_index"]))) for r in csv.DictReader(f)}

    def test_merge(self):
        half, pairs = self.links(0.5)
        every, _ = self.links(1.0)
        self.assertLess(every, half)  # more links when groups merge at half
        true = sum(1 for p in pairs if p.a_id == p.b_id)
        self.assertGreaterEqual(true / len(pairs), 0.99)
        if os.access(CLI, os.X_OK):
            self.assertEqual(self.cli_links(0.5), half)
            self.assertEqual(self.cli_links(1.0), every)
        with self.assertRaises(ValueError):
            self.links(0.0)

    def test_unlinked_input_warns(self):
        other = os.path.join(self.tmp.name, "other.clk")
        tut = os.path.join(SRC, "data", "anonlink-tutorial")
        blindlink.encode_file(os.path.join(tut, "dataset-2.csv"), os.path.join(tut, "schema.json"),
                              b"another secret", other, layout="fields", ids="id")
        with self.assertWarnsRegex(RuntimeWarning, "other.clk is in no candidate pair"):
            blindlink.model_link([self.files[0], other, self.files[2]], self.model, threads=1)

    def test_repeated_ids_warn(self):
        tut = os.path.join(SRC, "data", "anonlink-tutorial")
        with open(os.path.join(tut, "dataset-1.csv")) as f:
            lines = f.readlines()
        dup = os.path.join(self.tmp.name, "dup.csv")
        with open(dup, "w") as f:
            f.writelines(lines[:4] + [lines[1]])  # row 4 repeats row 1's id
        out = os.path.join(self.tmp.name, "dup.clk")
        with self.assertWarnsRegex(RuntimeWarning, "1 records repeat the id .* row 4"):
            blindlink.encode_file(dup, os.path.join(tut, "schema.json"), SECRET, out,
                                  layout="fields", ids="id")
        self.assertTrue(os.path.exists(out))

    def test_evaluate_takes_model_link_results(self):
        tut = os.path.join(SRC, "data", "anonlink-tutorial")
        ids = []
        for k in (1, 2, 3):
            with open(os.path.join(tut, "dataset-%d.csv" % k), newline="") as f:
                ids.append([row["id"] for row in csv.DictReader(f)])
        r = blindlink.model_link(self.files, self.model, threads=1)
        whole, listed = blindlink.evaluate(r, ids=ids), blindlink.evaluate(r.pairs, ids=ids)
        self.assertEqual(whole, listed)
        self.assertEqual(whole["predicted"], len(r.pairs))
        self.assertEqual(whole["true_positives"], sum(1 for p in r.pairs if p.a_id == p.b_id))
        with self.assertRaisesRegex(TypeError, "a match must be"):
            blindlink.evaluate([1, 2], ids=ids)


if __name__ == "__main__":
    unittest.main()
