"""Fellegi-Sunter linkage of field-level encodings from Python: the library's
model API (include/blindlink/model.h, docs/model.md) over ctypes.

    import blindlink
    for x, csv in (("a", "A.csv"), ("b", "B.csv")):
        blindlink.encode_file(csv, "schema.json", secret, x + ".clk", layout="fields",
                              normalize="names", ids="rec_id")
    result = blindlink.model_link(["a.clk", "b.clk"])      # train by EM, score, resolve
    for p in result.pairs:
        print(p.a_index, p.b_index, p.weight, p.probability)
    result.model.write("model.json")
    print(result.model.explain("a.clk", 0, "b.clk", 0))

Inputs are files written by ``encode_file(..., layout="fields")`` or
``blindlink encode --layout fields --format bin``: the model needs the field
layout and fingerprint they carry.
"""
import collections
import ctypes
import json
import math
import os
import warnings

from . import _lib
from ._lib import lib
from .core import _ClkSet, _err, _path, _threads

__all__ = ["Model", "ModelLinkage", "ScoredPair", "model_link"]

ScoredPair = collections.namedtuple(
    "ScoredPair", "a_dataset a_index b_dataset b_index weight probability a_id b_id")
ScoredPair.__doc__ = """A scored record pair: datasets are input positions,
indexes record numbers in them, ids the files' record ids (or None); the
match weight is log2 of the Bayes factor with the prior, the probability the
posterior."""


class Model:
    """A trained (or read) Fellegi-Sunter model; owns the library handle."""

    def __init__(self, handle):
        self.h = handle

    @classmethod
    def read(cls, path):
        """Read a model file (JSON, docs/model.md); errors name the JSON path."""
        h = ctypes.c_void_p()
        err = _err()
        _lib.check(lib.bl_model_read(_path(path), ctypes.byref(h), ctypes.byref(err)), err)
        return cls(h)

    @classmethod
    def from_json(cls, text, name="model"):
        """A model from its JSON text (str, bytes or a dict)."""
        if isinstance(text, dict):
            text = json.dumps(text)
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        h = ctypes.c_void_p()
        err = _err()
        st = lib.bl_model_from_json(data, len(data), str(name).encode("utf-8"), ctypes.byref(h),
                                    ctypes.byref(err))
        _lib.check(st, err)
        return cls(h)

    def _live(self):
        if not self.h:
            raise ValueError("the model is closed")
        return self.h

    def write(self, path):
        """Write the model file atomically."""
        err = _err()
        _lib.check(lib.bl_model_write(self._live(), _path(path), ctypes.byref(err)), err)

    def to_dict(self):
        """The model file's content as a dict."""
        out = ctypes.c_void_p()
        err = _err()
        _lib.check(lib.bl_model_to_json(self._live(), ctypes.byref(out), ctypes.byref(err)), err)
        try:
            return json.loads(ctypes.string_at(out).decode("utf-8"))
        finally:
            _lib.libc.free(out)

    def _training(self):
        it, prior = ctypes.c_uint32(), ctypes.c_double()
        conv = lib.bl_model_converged(self._live(), ctypes.byref(it), ctypes.byref(prior))
        return bool(conv), it.value, prior.value

    @property
    def converged(self):
        """True when EM converged (False: it hit the iteration limit)."""
        return self._training()[0]

    @property
    def iterations(self):
        return self._training()[1]

    @property
    def prior(self):
        """The prior match probability of a random record pair."""
        return self._training()[2]

    def fields(self):
        """Per field: {"name", "levels": [{"label", "m", "u", "weight"}, ...]}."""
        h = self._live()
        res = []
        for f in range(lib.bl_model_nfields(h)):
            levels = []
            for lv in range(lib.bl_model_nlevels(h, f)):
                label = ctypes.c_char_p()
                m, u, w = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
                lib.bl_model_level(h, f, lv, ctypes.byref(label), ctypes.byref(m),
                                   ctypes.byref(u), ctypes.byref(w))
                levels.append({"label": label.value.decode("utf-8"), "m": m.value,
                               "u": u.value, "weight": w.value})
            res.append({"name": lib.bl_model_field_name(h, f).decode("utf-8"), "levels": levels})
        return res

    def explain(self, a, i, b, j, inputs=None):
        """Record i of file (or open set) a against record j of b, field by
        field: {"prior_weight", "weight", "probability", "fields": [{"name",
        "dice" (None when missing), "level" (None when missing), "label",
        "weight", "tf_adjust"}]}. Value frequencies come from a and b, or
        from `inputs` (every input of the match run, a and b among them, as
        the CLI's --input): then the weight is the one link() gave."""
        ka, kb = 0, 1
        if inputs is not None:
            inputs = list(inputs)
            ka, kb = (_input_index(inputs, x) for x in (a, b))
        with _Sets(inputs if inputs is not None else [a, b]) as sets:
            for k, s in enumerate(sets.sets):
                err = _err()
                name = str(sets.names[k]).encode("utf-8")
                _lib.check(lib.bl_model_check_set(self._live(), s.p, name, ctypes.byref(err)), err)
            sa, sb = sets.sets[ka].p, sets.sets[kb].p
            for idx, s, nm in ((i, sa, sets.names[ka]), (j, sb, sets.names[kb])):
                if not 0 <= int(idx) < s.contents.count:
                    raise IndexError("record index %d out of range: %s has %d records"
                                     % (idx, nm, s.contents.count))
            nf = lib.bl_model_nfields(self.h)
            fields = (_lib.ExplainField * max(nf, 1))()
            tf = sets.array()
            pw, w, p = ctypes.c_double(), ctypes.c_double(), ctypes.c_double()
            err = _err()
            st = lib.bl_model_explain(self.h, sa, int(i), sb, int(j), tf, len(sets.sets), fields,
                                      ctypes.byref(pw), ctypes.byref(w), ctypes.byref(p),
                                      ctypes.byref(err))
            _lib.check(st, err)
            out = []
            for f in fields[:nf]:
                missing = f.level < 0
                out.append({"name": f.name.decode("utf-8"),
                            "dice": None if math.isnan(f.dice) else f.dice,
                            "level": None if missing else f.level,
                            "label": f.label.decode("utf-8") if f.label else "missing",
                            "weight": f.weight, "tf_adjust": f.tf_adjust})
            return {"prior_weight": pw.value, "weight": w.value, "probability": p.value,
                    "fields": out}

    def close(self):
        if self.h:
            lib.bl_model_free(self.h)
            self.h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass


def _input_index(inputs, x):
    """Where x (a path or an open set) is among inputs (paths compared as
    strings, sets by identity), for explain(inputs=...)."""
    for k, y in enumerate(inputs):
        if x is y or (isinstance(x, (str, os.PathLike)) and isinstance(y, (str, os.PathLike))
                      and os.fspath(x) == os.fspath(y)):
            return k
    raise ValueError("%r is not among the inputs" % (x,))


class _Sets:
    """Field-level sets read from paths (or given as open _ClkSet objects)."""

    def __init__(self, inputs):
        self.sets, self.names, self.owned = [], [], []
        try:
            for x in inputs:
                if isinstance(x, _ClkSet):
                    self.sets.append(x)
                    self.names.append("input %d" % len(self.names))
                else:
                    s = _ClkSet.read(x)
                    self.sets.append(s)
                    self.owned.append(s)
                    self.names.append(str(x))
        except BaseException:
            self.close()
            raise

    def array(self):
        return (ctypes.POINTER(_lib.ClkSet) * len(self.sets))(*[s.p for s in self.sets])

    def close(self):
        for s in self.owned:
            s.close()
        self.owned = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class ModelLinkage:
    """What ``model_link`` returns: ``pairs`` (ScoredPair, heaviest first;
    every scored candidate with ``candidates=True``), ``model`` (the trained
    or given Model), ``ncandidates`` (blocked candidate pairs)."""

    def __init__(self, pairs, model, ncandidates):
        self.pairs, self.model, self.ncandidates = pairs, model, ncandidates

    def __iter__(self):
        return iter(self.pairs)

    def __len__(self):
        return len(self.pairs)


def _scored_list(ptr, n, sets):
    ids = [s.ids() for s in sets]
    res = []
    for k in range(n):
        p = ptr[k]
        da, db = p.c.dset[0], p.c.dset[1]
        ra, rb = p.c.rec[0], p.c.rec[1]
        res.append(ScoredPair(da, ra, db, rb, p.weight, p.probability,
                              ids[da][ra] if ids[da] else None, ids[db][rb] if ids[db] else None))
    return res


def _warn_unlinked(sets, cand, n):
    """As match and train warn: an input (of records) in no candidate pair
    was most likely encoded with another secret or schema."""
    if any(s.p.contents.count == 0 for s in sets.sets):
        return
    seen = set()
    for i in range(min(n, 10000)):  # the usual case: every input early on
        seen.add(cand[i].dset[0])
        seen.add(cand[i].dset[1])
        if len(seen) == len(sets.sets):
            return
    if n > 10000:  # the rest at C speed: the dataset words of each 24-byte candidate
        assert ctypes.sizeof(_lib.Candidate) == 24
        raw = (ctypes.c_char * (24 * n)).from_address(ctypes.addressof(cand.contents))
        words = memoryview(raw).cast("B").cast("I")
        seen |= set(words[2::6]) | set(words[3::6])
    for k, name in enumerate(sets.names):
        if k not in seen:
            warnings.warn("%s is in no candidate pair: was it encoded with the same secret and "
                          "schema as the other inputs?" % name, RuntimeWarning, stacklevel=3)


def model_link(inputs, model="auto", *, min_probability=0.5, threads=0, candidates=False,
               blocking=None, merge_threshold=0.5):
    """Link field-level CLK files (two or more) with a Fellegi-Sunter model,
    as ``blindlink match --model``: block, train by EM on the candidates
    (``model="auto"``) or use a Model / model file, score every candidate by
    match weight and posterior, and resolve 1:1 (two inputs) or into groups
    (more) at posterior >= ``min_probability``; groups merge when at least
    ``merge_threshold`` of their cross pairs are matches (1.0: every one).
    ``candidates=True`` returns every scored candidate instead, unresolved.
    ``blocking``: None (keyed field-value blocks above 4e9 record pairs),
    "lsh" or "none"."""
    inputs = list(inputs)
    if len(inputs) < 2:
        raise ValueError("need at least two inputs")
    if not 0.0 < float(min_probability) <= 1.0:
        raise ValueError("min_probability must be in (0, 1]")
    if not 0.0 < float(merge_threshold) <= 1.0:
        raise ValueError("merge_threshold must be in (0, 1]")
    lsh = {None: 0, "lsh": 1, "none": -1}
    if blocking not in lsh:
        raise ValueError("blocking must be None, 'lsh' or 'none'")
    own_model = None
    if isinstance(model, Model):
        m = model
    elif model == "auto":
        m = None
    else:
        m = own_model = Model.read(model)
    with _Sets(inputs) as sets:
        arr = sets.array()
        names = (ctypes.c_char_p * len(inputs))(*[str(n).encode("utf-8") for n in sets.names])
        err = _err()
        try:
            _lib.check(lib.bl_model_check_inputs(arr, names, len(inputs), ctypes.byref(err)), err)
            if m is not None:
                for k, s in enumerate(sets.sets):
                    _lib.check(lib.bl_model_check_set(m._live(), s.p, names[k], ctypes.byref(err)),
                               err)
            lo = _lib.ModelLinkOpts()
            lo.threads, lo.min_probability, lo.lsh = _threads(threads), float(min_probability), \
                lsh[blocking]
            # a decision scores in the blocks' order; candidates=True lists
            # them in anonlink's
            lo.order = 0 if candidates else 1  # BL_MODEL_ORDER_SCORE / _BLOCKS
            cand, nc = ctypes.POINTER(_lib.Candidate)(), ctypes.c_size_t()
            _lib.check(lib.bl_model_candidates(arr, len(inputs), ctypes.byref(lo),
                                               ctypes.byref(cand), ctypes.byref(nc),
                                               ctypes.byref(err)), err)
            _warn_unlinked(sets, cand, nc.value)
            scored = ctypes.POINTER(_lib.ScoredPair)()
            try:
                if m is None:
                    to = _lib.ModelTrainOpts()
                    to.threads = _threads(threads)
                    h = ctypes.c_void_p()
                    _lib.check(lib.bl_model_train(arr, len(inputs), cand, nc.value,
                                                  ctypes.byref(to), ctypes.byref(h),
                                                  ctypes.byref(err)), err)
                    m = Model(h)
                # a decision needs exact scores only of the pairs that can
                # reach it (bl_model_decide); candidates=True wants all
                ns = ctypes.c_size_t(nc.value)
                if candidates:
                    _lib.check(lib.bl_model_score(m.h, arr, len(inputs), cand, nc.value, _threads(threads),
                                                  ctypes.byref(scored), ctypes.byref(err)), err)
                else:
                    _lib.check(lib.bl_model_decide(m.h, arr, len(inputs), cand, nc.value,
                                                   ctypes.byref(lo), ctypes.byref(scored),
                                                   ctypes.byref(ns), ctypes.byref(err)), err)
            finally:
                _lib.libc.free(cand)
            try:
                if candidates:
                    pairs = _scored_list(scored, nc.value, sets.sets)
                else:
                    res, nr = ctypes.POINTER(_lib.ScoredPair)(), ctypes.c_size_t()
                    _lib.check(lib.bl_model_resolve_merge(scored, ns.value, len(inputs),
                                                          float(min_probability),
                                                          float(merge_threshold),
                                                          ctypes.byref(res), ctypes.byref(nr),
                                                          ctypes.byref(err)), err)
                    try:
                        pairs = _scored_list(res, nr.value, sets.sets)
                    finally:
                        _lib.libc.free(res)
            finally:
                _lib.libc.free(scored)
        except BaseException:
            if own_model is not None:
                own_model.close()
            raise
    return ModelLinkage(pairs, m, nc.value)

