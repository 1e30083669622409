"""The blindlink Python API: encode, read/write, match, evaluate.

Filters (CLKs) are ``bytes`` (MSB-first, as clkhash's bitarray.tobytes());
inputs may also be bitarray objects, base64 strings, or a 2-D NumPy uint8
array (one row per filter). With ``as_array=True`` (NumPy installed) filters
come back as a 2-D NumPy uint8 array instead of a list of bytes.
"""
import array
import base64
import collections
import collections.abc
import ctypes
import json
import operator
import os
import struct
import tempfile
import warnings

from . import _lib
from ._lib import BlindlinkError, lib

try:  # optional
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None

__all__ = [
    "BlindlinkError", "LSH", "Match", "candidates", "dice", "encode_csv", "encode_file",
    "encode_records",
    "evaluate", "match", "read_clks", "version", "write_clks",
]

_FORMATS = {"json": 1, "bin": 2}
_HEADER = {True: 0, "check": 0, "ignore": 1, False: 2, "none": 2}
_CAND = struct.Struct("=dIIII")
assert _CAND.size == ctypes.sizeof(_lib.Candidate)

Match = collections.namedtuple("Match", ["members", "score"])
Match.__doc__ = """A matched group: ``members`` is a tuple of (dataset, record)
pairs (sorted), ``score`` the best candidate score between two members."""


def version():
    """The library's version string, e.g. "0.1.0"."""
    return lib.bl_version().decode()


def _err():
    return _lib.Error()


def _secret(secret):
    if isinstance(secret, str):
        return secret.encode("utf-8")  # clkhash UTF-8-encodes a str secret
    if isinstance(secret, (bytes, bytearray, memoryview)):
        return bytes(secret)
    raise TypeError("secret must be bytes or str, not %s" % type(secret).__name__)


def _path(p):
    return os.fsencode(p)


class _Schema:
    """Owns a parsed bl_schema. Accepts a path, JSON text, bytes, a dict or a
    file object holding a linkage schema (v1, v2 or v3)."""

    def __init__(self, schema):
        self.h = ctypes.c_void_p()
        err = _err()
        if hasattr(schema, "read"):
            schema = schema.read()
        if hasattr(schema, "schema_json"):  # blindlink.compat.clkhash.schema.Schema
            schema = schema.schema_json
        if isinstance(schema, dict):
            schema = json.dumps(schema)
        if isinstance(schema, str) and not schema.lstrip().startswith("{"):
            st = lib.bl_schema_load(_path(schema), ctypes.byref(self.h), ctypes.byref(err))
        elif isinstance(schema, os.PathLike):
            st = lib.bl_schema_load(_path(schema), ctypes.byref(self.h), ctypes.byref(err))
        else:
            text = schema.encode("utf-8") if isinstance(schema, str) else bytes(schema)
            st = lib.bl_schema_parse(text, len(text), b"schema", ctypes.byref(self.h),
                                     ctypes.byref(err))
        _lib.check(st, err)

    def nfeatures(self):
        return lib.bl_schema_nfeatures(self.h)

    def feature_ids(self):
        return [lib.bl_schema_feature_id(self.h, i).decode() for i in range(self.nfeatures())]

    def close(self):
        if self.h:
            lib.bl_schema_free(self.h)
            self.h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Encoder:
    def __init__(self, schema, secret, normalize=None, validate=True, legacy_strip=False,
                 layout="record", harden=None):
        self.h = ctypes.c_void_p()
        opts = _lib.EncodeOpts()
        opts.no_validate = 0 if validate else 1
        opts.legacy_strip = 1 if legacy_strip else 0
        opts.normalize = _normalize(normalize)
        opts.layout = lib.bl_layout_parse(str(layout).encode())
        if opts.layout < 0:
            raise ValueError("layout must be 'record' or 'fields', not %r" % (layout,))
        hb = None if harden is None else str(harden).encode("utf-8")
        opts.harden = hb
        key = _secret(secret)
        err = _err()
        st = lib.bl_encoder_new(schema.h, key, len(key), ctypes.byref(opts), ctypes.byref(self.h),
                                ctypes.byref(err))
        _lib.check(st, err)

    def close(self):
        if self.h:
            lib.bl_encoder_free(self.h)  # wipes the derived keys
            self.h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _normalize(name):
    if name is None:
        return 0
    v = lib.bl_normalize_profile_parse(str(name).encode())
    if v < 0:
        raise ValueError("unknown normalize profile %r (none, basic, names, strict)" % (name,))
    return v


def _as_output(blob, n, stride, nbytes, as_array):
    if as_array:
        if _np is None:
            raise RuntimeError("as_array=True needs NumPy")
        a = _np.frombuffer(blob, dtype=_np.uint8).reshape(n, stride)
        return _np.ascontiguousarray(a[:, :nbytes])
    return [blob[i * stride:i * stride + nbytes] for i in range(n)]


_SIZE_T = {4: "I", 8: "Q"}[ctypes.sizeof(ctypes.c_size_t)]
_PTR = {4: "I", 8: "Q"}[ctypes.sizeof(ctypes.c_void_p)]


def _cell_arrays(cells):
    """C arrays (char *cells[], size_t lens[]) over one copy of all cells.
    Built from array.array and one buffer: a ctypes array of c_char_p made
    element by element costs more than the encoding itself."""
    buf = bytearray(b"".join(cells)) or bytearray(1)
    base = ctypes.addressof((ctypes.c_char * len(buf)).from_buffer(buf))
    lens = array.array(_SIZE_T, map(len, cells))
    ptrs = array.array(_PTR, [0]) * len(cells)
    off = 0
    for i, ln in enumerate(lens):
        ptrs[i] = base + off
        off += ln
    n = max(1, len(cells))
    if not cells:
        lens, ptrs = array.array(_SIZE_T, [0]), array.array(_PTR, [base])
    return ((ctypes.c_char_p * n).from_buffer(ptrs), (ctypes.c_size_t * n).from_buffer(lens),
            buf)


def encode_records(rows, schema, secret, *, normalize=None, validate=True, legacy_strip=False,
                   threads=0, as_array=False):
    """Encode records held in memory into CLKs, equal to clkhash's for the
    same schema and secret. ``rows``: a sequence of records, each a sequence
    of strings in schema order (ignored features included) or a mapping from
    feature identifier to string. Returns a list of bytes (or a NumPy array
    with ``as_array``)."""
    with _Schema(schema) as sch, _Encoder(sch, secret, normalize, validate, legacy_strip) as enc:
        ids = sch.feature_ids()
        nf = len(ids)
        cells = []
        for r, row in enumerate(rows):
            if isinstance(row, collections.abc.Mapping):
                try:
                    row = [row[f] for f in ids]
                except KeyError as e:
                    raise BlindlinkError(_lib.BL_EINPUT,
                                         "record %d: no field %s" % (r, e)) from None
            if len(row) != nf:
                raise BlindlinkError(_lib.BL_EINPUT, "record %d has %d fields, the schema has %d"
                                     % (r, len(row), nf))
            for c in row:
                cells.append(c.encode("utf-8") if isinstance(c, str) else bytes(c))
        n = len(cells) // nf if nf else 0
        cptr, lens, keep = _cell_arrays(cells)
        nbytes = lib.bl_encoder_nbytes(enc.h)
        out = ctypes.create_string_buffer(max(1, n * nbytes))
        bad = ctypes.c_size_t()
        err = _err()
        st = lib.bl_encoder_encode_batch(enc.h, cptr, lens, nf, n, _threads(threads), out, nbytes,
                                         None, ctypes.byref(bad), ctypes.byref(err))
        _lib.check(st, err)
        return _as_output(out.raw[:n * nbytes], n, nbytes, nbytes, as_array)


def encode_csv(csv_path, schema_path, secret, *, normalize=None, threads=0, header=True,
               validate=True, legacy_strip=False, as_array=False):
    """Encode every row of a CSV file (the library's streaming encoder, all
    cores unless ``threads``). Returns the raw filters in input order, equal
    to clkhash's ``generate_clk_from_csv`` (bitarray.tobytes()). ``header``:
    True (must equal the schema identifiers), "ignore" or False (no header)."""
    if header not in _HEADER:
        raise ValueError("header must be True, False or 'ignore'")
    with _Schema(schema_path) as sch, \
            _Encoder(sch, secret, normalize, validate, legacy_strip) as enc, \
            tempfile.TemporaryDirectory(prefix="blindlink-") as tmp:
        out = os.path.join(tmp, "clks.bin")
        opts = _lib.EncodeCsvOpts()
        opts.header = _HEADER[header]
        opts.format = _FORMATS["bin"]
        opts.threads = _threads(threads)
        err = _err()
        n = ctypes.c_uint64()
        st = lib.bl_encode_csv(enc.h, _path(csv_path), _path(out), ctypes.byref(opts),
                               ctypes.byref(n), ctypes.byref(err))
        _lib.check(st, err)
        return read_clks(out, as_array=as_array)


def _not_an_input(out_path, *inputs):
    """Refuse an output that is one of the inputs (the atomic rename would
    replace it: encode_file("a.csv", S, k, "a.csv") wrote CLKs over the CSV)."""
    out = os.path.join(os.path.realpath(os.path.dirname(os.fspath(out_path)) or "."),
                       os.path.basename(os.fspath(out_path)))
    for p in inputs:
        if p is not None and os.path.exists(p) and os.path.realpath(p) == out:
            raise ValueError(f"output {os.fspath(out_path)!r} is also an input: it would be "
                             "overwritten; write the output elsewhere")


def encode_file(csv_path, schema_path, secret, out_path, *, layout="record", format="bin",
                ids=None, normalize=None, harden=None, threads=0, header=True, validate=True,
                legacy_strip=False):
    """Encode a CSV file into a CLK file, as ``blindlink encode`` does: all
    cores unless ``threads``, the output written atomically (no file is left
    on an error). ``layout="fields"`` writes field-level encodings (one
    filter per schema feature, binary format only) for ``model_link``;
    ``ids`` names a column carried as record ids (binary format). Returns
    the number of records written."""
    if header not in _HEADER:
        raise ValueError("header must be True, False or 'ignore'")
    if format not in _FORMATS:
        raise ValueError("format must be 'json' or 'bin'")
    if ids is not None and format != "bin":
        raise ValueError("ids need format='bin' (clkhash JSON carries no ids)")
    _not_an_input(out_path, csv_path, schema_path)
    with _Schema(schema_path) as sch, \
            _Encoder(sch, secret, normalize, validate, legacy_strip, layout, harden) as enc:
        opts = _lib.EncodeCsvOpts()
        opts.header = _HEADER[header]
        opts.format = _FORMATS[format]
        opts.threads = _threads(threads)
        idcol = None if ids is None else str(ids).encode("utf-8")
        opts.id_column = idcol
        report = _lib.EncodeIdReport()
        if idcol is not None:
            opts.id_report = ctypes.pointer(report)
        err = _err()
        n = ctypes.c_uint64()
        st = lib.bl_encode_csv(enc.h, _path(csv_path), _path(out_path), ctypes.byref(opts),
                               ctypes.byref(n), ctypes.byref(err))
        _lib.check(st, err)
        # as encode warns: ids that cannot tell records apart (none printed)
        if report.repeated:
            warnings.warn("%d records repeat the id (%s) of an earlier record (the first: row "
                          "%d)" % (report.repeated, ids, report.first_repeat), RuntimeWarning,
                          stacklevel=2)
        if report.empty:
            warnings.warn("%d records have an empty id (%s)" % (report.empty, ids),
                          RuntimeWarning, stacklevel=2)
        return n.value


class _ClkSet:
    """Owns a bl_clkset built from Python filters or read from a file."""

    def __init__(self, ptr):
        self.p = ptr

    @classmethod
    def read(cls, path):
        p = ctypes.POINTER(_lib.ClkSet)()
        err = _err()
        _lib.check(lib.bl_clkset_read(_path(path), 0, 0, ctypes.byref(p), ctypes.byref(err)), err)
        return cls(p)

    @classmethod
    def build(cls, clks, ids=None):
        if isinstance(clks, (str, os.PathLike)):
            if ids is not None:
                raise ValueError("ids cannot be given with a file")
            return cls.read(clks)
        blob, n, nbytes = _pack(clks)
        p = ctypes.POINTER(_lib.ClkSet)()
        err = _err()
        if n == 0:
            raise BlindlinkError(_lib.BL_EINVAL, "no filters given")
        _lib.check(lib.bl_clkset_new(nbytes * 8, n, ctypes.byref(p), ctypes.byref(err)), err)
        self = cls(p)
        try:
            if ids is None:
                st = lib.bl_clkset_append_packed(p, blob, n, nbytes, ctypes.byref(err))
                _lib.check(st, err)
            else:
                if len(ids) != n:
                    raise ValueError("%d ids for %d filters" % (len(ids), n))
                for i in range(n):
                    st = lib.bl_clkset_append(p, blob[i * nbytes:(i + 1) * nbytes],
                                              str(ids[i]).encode("utf-8"), ctypes.byref(err))
                    _lib.check(st, err)
        except BaseException:
            self.close()
            raise
        return self

    def filters(self, as_array=False):
        s = self.p.contents
        if s.count == 0:
            return _as_output(b"", 0, s.stride, s.nbytes, as_array)
        blob = ctypes.string_at(s.data, s.count * s.stride)
        return _as_output(blob, s.count, s.stride, s.nbytes, as_array)

    def ids(self):
        s = self.p.contents
        if not s.ids:
            return None
        return [s.ids[i].decode("utf-8", "replace") for i in range(s.count)]

    def close(self):
        if self.p:
            lib.bl_clkset_free(self.p)
            self.p = ctypes.POINTER(_lib.ClkSet)()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _filter_bytes(c):
    if isinstance(c, (bytes, bytearray, memoryview)):
        return bytes(c)
    if isinstance(c, str):
        return base64.b64decode(c, validate=True)  # clkhash's serialised form
    if hasattr(c, "tobytes"):  # bitarray (big endian), NumPy row
        return c.tobytes()
    raise TypeError("a filter must be bytes, a base64 str or a bitarray, not %s"
                    % type(c).__name__)


def _pack(clks):
    """(one contiguous bytes blob, count, bytes per filter)."""
    if _np is not None and isinstance(clks, _np.ndarray):
        if clks.ndim != 2:
            raise ValueError("a NumPy array of filters must be 2-D (one row per filter)")
        a = _np.ascontiguousarray(clks, dtype=_np.uint8)
        return a.tobytes(), a.shape[0], a.shape[1]
    rows = [_filter_bytes(c) for c in clks]
    if not rows:
        return b"", 0, 0
    nbytes = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != nbytes:
            raise BlindlinkError(_lib.BL_EINPUT, "filter %d has %d bytes, filter 0 has %d"
                                 % (i, len(r), nbytes))
    if nbytes == 0:
        raise BlindlinkError(_lib.BL_EINPUT, "filters are empty")
    return b"".join(rows), len(rows), nbytes


def read_clks(path, *, with_ids=False, as_array=False):
    """Read a CLK file (clkhash JSON or blindlink binary, detected). Returns
    the filters, or (filters, ids) with ``with_ids`` (ids None when the file
    carries none)."""
    with _ClkSet.read(path) as s:
        f = s.filters(as_array)
        return (f, s.ids()) if with_ids else f


def write_clks(path, clks, format="json", *, ids=None):
    """Write filters atomically as clkhash JSON (``format="json"``) or the
    blindlink binary format (``"bin"``, which can carry record ``ids``)."""
    if format not in _FORMATS:
        raise ValueError("format must be 'json' or 'bin'")
    if ids is not None and format != "bin":
        raise ValueError("ids need format='bin' (clkhash JSON carries no ids)")
    with _ClkSet.build(clks, ids) as s:
        err = _err()
        st = lib.bl_clkset_write(s.p, _path(path), _FORMATS[format], 1 if ids is not None else 0,
                                 ctypes.byref(err))
        _lib.check(st, err)


def dice(a, b):
    """Dice coefficient of two filters of equal length."""
    a, b = _filter_bytes(a), _filter_bytes(b)
    if len(a) != len(b):
        raise ValueError("filters differ in length")
    return lib.bl_dice(a, b, len(a))


class LSH:
    """Keyed LSH blocking for match()/candidates(): ``tables`` hash tables of
    ``bits`` sampled bit positions derived from ``key`` (bytes, a secret the
    parties share). Without tables/bits they are chosen from the data to keep
    a pair at the threshold with probability ``recall`` (on large inputs: the
    share ``recall`` of the sampled real pairs above it), or, where LSH would
    compare more pairs than all of them (low thresholds), the comparison is
    exhaustive, as `blindlink match --blocking lsh` does. ``keep`` says which
    sampled pairs ``recall`` applies to: "all" pairs at or above the
    threshold, or each record's "best" one (what the solvers use); None
    means "best" in match() and "all" in candidates(), as the CLI's
    --lsh-keep defaults for pairs and candidates outputs."""

    def __init__(self, key, tables=None, bits=None, recall=0.99, keep=None):
        self.key = _secret(key)
        if not self.key:
            raise ValueError("LSH needs a non-empty key")
        if not (isinstance(recall, (int, float)) and not isinstance(recall, bool) and 0 < recall < 1):
            raise ValueError(f"recall must be a number in (0, 1), got {recall!r}")
        if keep not in (None, "all", "best"):
            raise ValueError("keep must be None, 'all' or 'best'")
        self.tables, self.bits, self.recall, self.keep = tables, bits, recall, keep


def _blocking(blocking, sets, threshold, keep="all"):
    """A bl_blocking handle (or None) for the given sets; the caller frees it.
    ``keep``: the plan's default when the LSH object names none."""
    if blocking is None:
        return None
    if not isinstance(blocking, LSH):
        raise TypeError("blocking must be None or blindlink.LSH(key, ...)")
    tables, bits = blocking.tables, blocking.bits
    if tables is None or bits is None:
        t, b, share = ctypes.c_uint32(), ctypes.c_uint32(), ctypes.c_double()
        keep = {"all": 0, "best": 1}[blocking.keep or keep]  # bl_lsh_keep
        worth = lib.bl_blocking_lsh_plan_keep(sets, len(sets), threshold, blocking.recall, keep,
                                              ctypes.byref(t), ctypes.byref(b),
                                              ctypes.byref(share))
        if not worth:
            return None  # exhaustive comparison is cheaper and loses nothing
        tables = t.value if tables is None else tables
        bits = b.value if bits is None else bits
    h = ctypes.c_void_p()
    err = _err()
    st = lib.bl_blocking_new_lsh(sets[0].contents.nbits, int(tables), int(bits), blocking.key,
                                 len(blocking.key), ctypes.byref(h), ctypes.byref(err))
    _lib.check(st, err)
    return h


class _Candidates:
    """Candidate pairs owned by the library (malloc'd array)."""

    def __init__(self, ptr, n):
        self.p, self.n = ptr, n

    def tuples(self):
        """[(score, dset0, dset1, rec0, rec1), ...] in anonlink order."""
        if not self.n:
            return []
        blob = ctypes.string_at(self.p, self.n * _CAND.size)
        return list(_CAND.iter_unpack(blob))

    def close(self):
        if self.p:
            _lib.libc.free(self.p)
            self.p = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _count(name, v, lo, hi):
    """A whole-number option in [lo, hi] (the CLI's ranges): anything else
    was passed on to the library as a wrapped or truncated number."""
    try:  # any integer type (NumPy's too), not floats or strings
        n = None if isinstance(v, bool) else operator.index(v)
    except TypeError:
        n = None
    if n is None or not lo <= n <= hi:
        raise ValueError(f"{name} must be a whole number in {lo}..{hi}, got {v!r}")
    return n


def _threads(v):
    return _count("threads", v, 0, 1024)  # 0: all cores


def _find_candidates(datasets, threshold, k=None, threads=0, blocking=None, one_sided=False,
                     max_candidates=0, keep="all"):
    if len(datasets) < 2:
        raise ValueError("need at least two datasets")
    owned = []
    try:
        for d in datasets:
            owned.append(_ClkSet.build(d))
        arr = (ctypes.POINTER(_lib.ClkSet) * len(owned))(*[s.p for s in owned])
        opts = _lib.MatchOpts()
        opts.threshold = float(threshold)
        opts.top_k = 0 if k is None else _count("k", k, 1, 1 << 30)
        opts.threads = _threads(threads)
        opts.max_candidates = int(max_candidates)
        opts.top_k_one_sided = 1 if one_sided else 0
        bh = _blocking(blocking, arr, float(threshold), keep)
        try:
            opts.blocking = bh
            out = ctypes.POINTER(_lib.Candidate)()
            n = ctypes.c_size_t()
            err = _err()
            st = lib.bl_match_candidates(arr, len(owned), ctypes.byref(opts), ctypes.byref(out),
                                         ctypes.byref(n), ctypes.byref(err))
            _lib.check(st, err)
            return _Candidates(ctypes.cast(out, ctypes.c_void_p).value, n.value)
        finally:
            if bh:
                lib.bl_blocking_free(bh)
    finally:
        for s in owned:
            s.close()


def candidates(a, b, threshold, k=None, *, threads=0, blocking=None):
    """Candidate pairs between filter sets ``a`` and ``b`` with Dice >=
    ``threshold`` (at most ``k`` per record, in both directions, as anonlink's
    find_candidate_pairs), as [(score, a_index, b_index), ...] ordered by
    score descending, then index. ``a``/``b``: filters or CLK file paths."""
    with _find_candidates([a, b], threshold, k, threads, blocking) as c:
        return [(t[0], t[3], t[4]) for t in c.tuples()]


def _solve(c, solver, merge_threshold, deduplicated):
    g = ctypes.c_void_p()
    err = _err()
    arr = ctypes.cast(c.p, ctypes.POINTER(_lib.Candidate))
    if solver == "greedy":
        st = lib.bl_match_solve_greedy(arr, c.n, ctypes.byref(g), ctypes.byref(err))
    elif solver == "probabilistic":
        st = lib.bl_match_solve_probabilistic(arr, c.n, float(merge_threshold),
                                              1 if deduplicated else 0, ctypes.byref(g),
                                              ctypes.byref(err))
    else:
        raise ValueError("solver must be 'greedy' or 'probabilistic'")
    _lib.check(st, err)
    try:
        groups = []
        dsets = ctypes.POINTER(ctypes.c_uint32)()
        recs = ctypes.POINTER(ctypes.c_uint32)()
        for i in range(lib.bl_groups_count(g)):
            size = lib.bl_groups_get(g, i, ctypes.byref(dsets), ctypes.byref(recs))
            groups.append(tuple(sorted((dsets[j], recs[j]) for j in range(size))))
        return groups
    finally:
        lib.bl_groups_free(g)


def match(datasets, threshold, *, solver="greedy", blocking=None, k=None, threads=0,
          merge_threshold=0.5, deduplicated=True):
    """Match two or more datasets of filters (or CLK file paths): candidate
    pairs with Dice >= threshold (top ``k`` per record if given), then the
    greedy 1:1 solver (anonlink greedy_solve) or the probabilistic N-party
    solver (probabilistic_greedy_solve). Returns a list of Match(members,
    score), best score first; ``members`` are (dataset, record) pairs."""
    if solver not in ("greedy", "probabilistic"):
        raise ValueError("solver must be 'greedy' or 'probabilistic'")
    with _find_candidates(datasets, threshold, k, threads, blocking, keep="best") as c:
        groups = _solve(c, solver, merge_threshold, deduplicated)
        scores = {}
        for s, d0, d1, r0, r1 in c.tuples():
            scores[(d0, r0, d1, r1)] = s
    out = []
    for members in groups:
        best = None
        for i, (d0, r0) in enumerate(members):
            for d1, r1 in members[i + 1:]:
                s = scores.get((d0, r0, d1, r1))
                if s is not None and (best is None or s > best):
                    best = s
        out.append(Match(members, best))
    out.sort(key=lambda m: (-(m.score if m.score is not None else -1.0), m.members))
    return out


def _pairs_of(matches):
    """Predicted pairs ((d0, r0, d1, r1) with d0 < d1) from matches, groups,
    (score, a, b) triples, ((d0, r0), (d1, r1)) pairs, or model_link()'s
    result or its ScoredPair list."""
    out = []
    matches = getattr(matches, "pairs", matches)  # a ModelLinkage
    for m in matches:
        if hasattr(m, "a_dataset") and hasattr(m, "b_index"):  # a ScoredPair
            d0, r0, d1, r1 = m.a_dataset, m.a_index, m.b_dataset, m.b_index
            out.append((d0, r0, d1, r1) if d0 < d1 else (d1, r1, d0, r0))
            continue
        members = m.members if isinstance(m, Match) else m
        if not isinstance(members, (tuple, list)):
            raise TypeError("a match must be a Match, a ScoredPair, a (score, a, b) triple or "
                            "a group of (dataset, record) pairs, not %r" % (m,))
        if len(members) == 3 and not isinstance(members[0], (tuple, list)):
            out.append((0, int(members[1]), 1, int(members[2])))
            continue
        for i, (d0, r0) in enumerate(members):
            for d1, r1 in members[i + 1:]:
                if d0 == d1:
                    continue
                out.append((d0, r0, d1, r1) if d0 < d1 else (d1, r1, d0, r0))
    return out


def _cand_array(pairs):
    arr = (_lib.Candidate * max(1, len(pairs)))()
    for i, (d0, r0, d1, r1) in enumerate(pairs):
        arr[i].dset[0], arr[i].rec[0], arr[i].dset[1], arr[i].rec[1] = d0, r0, d1, r1
    return arr


def evaluate(matches, *, ids=None, mode="id", truth=None, true_pairs=0):
    """Precision, recall and F1 of ``matches`` (from match() or
    model_link(), groups, (score, a, b) triples, or ((d0, r0), (d1, r1))
    pairs) against ground
    truth: ``ids`` (one list of record ids per dataset; ``mode="id"``: equal
    ids are one entity, ``mode="febrl"``: rec-N-org / rec-N-dup-K) or
    ``truth`` (the true pairs, in any of the forms above). Returns a dict
    with predicted, true_positives, true_pairs, precision, recall, f1."""
    if (ids is None) == (truth is None):
        raise ValueError("give exactly one of ids= or truth=")
    if isinstance(true_pairs, bool) or not isinstance(true_pairs, int) or true_pairs < 0:
        raise ValueError("true_pairs must be a whole number >= 0 (0: count them from the truth)")
    t = ctypes.c_void_p()
    err = _err()
    if ids is not None:
        modes = {"id": 0, "febrl": 1}
        if mode not in modes:
            raise ValueError("mode must be 'id' or 'febrl'")
        keep = []
        per = (ctypes.POINTER(ctypes.c_char_p) * len(ids))()
        counts = (ctypes.c_size_t * len(ids))()
        for d, lst in enumerate(ids):
            a = (ctypes.c_char_p * max(1, len(lst)))(
                *[None if x is None else str(x).encode("utf-8") for x in lst])
            keep.append(a)
            per[d] = ctypes.cast(a, ctypes.POINTER(ctypes.c_char_p))
            counts[d] = len(lst)
        st = lib.bl_eval_truth_from_ids(per, counts, len(ids), modes[mode], ctypes.byref(t),
                                        ctypes.byref(err))
    else:
        tp = _pairs_of(truth)
        st = lib.bl_eval_truth_from_pairs(_cand_array(tp), len(tp), ctypes.byref(t),
                                          ctypes.byref(err))
    _lib.check(st, err)
    try:
        pred = _pairs_of(matches)
        r = lib.bl_eval_score(t, _cand_array(pred), len(pred), int(true_pairs))
        if r.true_positives > r.true_pairs:
            raise ValueError(f"true_pairs={r.true_pairs} but {r.true_positives} true positives "
                             "among the matches: there are at least that many true pairs")
        return {"predicted": r.predicted, "true_positives": r.true_positives,
                "true_pairs": r.true_pairs, "precision": r.precision, "recall": r.recall,
                "f1": r.f1}
    finally:
        lib.bl_eval_truth_free(t)
