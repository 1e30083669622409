"""Loading libblindlink.so and declaring the C functions the binding calls.

ctypes (standard library) rather than a compiled extension: the binding then
needs no compiler and no package from outside Debian, and works with any
Python 3 that can load the library. Only the public C API (the functions the
shared library exports) is used.

Where the library is looked for, in order:
  1. the file named by the environment variable BLINDLINK_LIBRARY;
  2. beside the installed package (``_libpath.py``, written at install time,
     holds the library's path relative to the package);
  3. ``libblindlink.so`` inside the package folder;
  4. the system loader (``libblindlink.so.0``, ldconfig, LD_LIBRARY_PATH).
"""
import ctypes
import ctypes.util
import os

_HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libblindlink.so.0"

# Status codes (include/blindlink/common.h), by value.
STATUS_NAMES = (
    "BL_OK", "BL_EOF", "BL_EINVAL", "BL_EINPUT", "BL_ESCHEMA", "BL_EIO", "BL_ENOMEM",
    "BL_ELIMIT", "BL_ECRYPTO", "BL_ENET", "BL_EPROTO", "BL_EAUTH", "BL_ESTATE",
    "BL_ENOTFOUND", "BL_EINTERNAL",
)
BL_OK = 0
BL_EINVAL = 2
BL_EINPUT = 3
ERROR_MSG_MAX = 512


class BlindlinkError(Exception):
    """A failing library call. ``status`` is the C status name (e.g.
    "BL_EINPUT"), ``code`` its value; the message is the library's own, with
    file, line, column or JSON path where the library gives them."""

    def __init__(self, code, message):
        self.code = code
        self.status = STATUS_NAMES[code] if 0 <= code < len(STATUS_NAMES) else str(code)
        super().__init__(message)


class Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("msg", ctypes.c_char * ERROR_MSG_MAX)]


class ClkSet(ctypes.Structure):
    """bl_clkset (include/blindlink/clk.h); read-only from Python."""
    _fields_ = [
        ("nbits", ctypes.c_uint32), ("nbytes", ctypes.c_uint32),
        ("stride", ctypes.c_size_t), ("count", ctypes.c_size_t),
        ("capacity", ctypes.c_size_t), ("data", ctypes.c_void_p),
        ("ids", ctypes.POINTER(ctypes.c_char_p)), ("has_fingerprint", ctypes.c_int),
        ("fingerprint", ctypes.c_uint8 * 32), ("meta", ctypes.c_char_p),
    ]


class Candidate(ctypes.Structure):
    _fields_ = [("score", ctypes.c_double), ("dset", ctypes.c_uint32 * 2),
                ("rec", ctypes.c_uint32 * 2)]


# Option structs are zero-initialised by contract and may grow at the end in
# later library versions; a zeroed tail keeps new fields at their defaults.
_TAIL = ("_reserved", ctypes.c_uint8 * 256)


class EncodeOpts(ctypes.Structure):
    _fields_ = [("no_validate", ctypes.c_int), ("legacy_strip", ctypes.c_int),
                ("normalize", ctypes.c_int), ("layout", ctypes.c_int),
                ("harden", ctypes.c_char_p), _TAIL]


class EncodeIdReport(ctypes.Structure):
    _fields_ = [("empty", ctypes.c_uint64), ("repeated", ctypes.c_uint64),
                ("first_repeat", ctypes.c_uint64)]


class EncodeCsvOpts(ctypes.Structure):
    _fields_ = [("header", ctypes.c_int), ("format", ctypes.c_int), ("threads", ctypes.c_int),
                ("id_column", ctypes.c_char_p), ("progress", ctypes.c_int),
                ("batch_rows", ctypes.c_size_t), ("id_report", ctypes.POINTER(EncodeIdReport)),
                _TAIL]


class MatchOpts(ctypes.Structure):
    _fields_ = [("threshold", ctypes.c_double), ("top_k", ctypes.c_uint32),
                ("threads", ctypes.c_int), ("max_candidates", ctypes.c_size_t),
                ("blocking", ctypes.c_void_p), ("progress", ctypes.c_void_p),
                ("progress_ctx", ctypes.c_void_p), ("top_k_one_sided", ctypes.c_int), _TAIL]


class ModelTrainOpts(ctypes.Structure):
    _fields_ = [("max_iter", ctypes.c_uint32), ("tol", ctypes.c_double),
                ("u_pairs", ctypes.c_uint64), ("seed", ctypes.c_uint64), ("threads", ctypes.c_int),
                ("init", ctypes.c_void_p), ("progress", ctypes.c_int), _TAIL]


class ModelLinkOpts(ctypes.Structure):
    _fields_ = [("block_threshold", ctypes.c_double), ("top_k", ctypes.c_uint32),
                ("min_probability", ctypes.c_double), ("threads", ctypes.c_int),
                ("lsh", ctypes.c_int), ("max_candidates", ctypes.c_size_t),
                ("order", ctypes.c_int), _TAIL]


class ScoredPair(ctypes.Structure):
    _fields_ = [("c", Candidate), ("weight", ctypes.c_double), ("probability", ctypes.c_double)]


class ExplainField(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dice", ctypes.c_double), ("level", ctypes.c_int),
                ("label", ctypes.c_char_p), ("weight", ctypes.c_double),
                ("tf_adjust", ctypes.c_double)]


class EvalResult(ctypes.Structure):
    _fields_ = [("predicted", ctypes.c_uint64), ("true_positives", ctypes.c_uint64),
                ("true_pairs", ctypes.c_uint64), ("precision", ctypes.c_double),
                ("recall", ctypes.c_double), ("f1", ctypes.c_double)]


def _candidates():
    env = os.environ.get("BLINDLINK_LIBRARY")
    if env:
        yield env
        return  # an explicit choice: do not fall back silently
    try:
        from . import _libpath  # written by the install rules
        yield os.path.normpath(os.path.join(_HERE, _libpath.LIBRARY_RELPATH))
    except ImportError:
        pass
    yield os.path.join(_HERE, "libblindlink.so")
    yield SONAME
    found = ctypes.util.find_library("blindlink")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (no such file)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("blindlink: cannot load libblindlink.so; tried: " + "; ".join(tried)
                      + ". Set BLINDLINK_LIBRARY to the library's path.")


lib, path = _load()
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.free.argtypes = [ctypes.c_void_p]
libc.free.restype = None

P = ctypes.POINTER
vp = ctypes.c_void_p
cs = ctypes.c_char_p
sz = ctypes.c_size_t
i32 = ctypes.c_int
u32 = ctypes.c_uint32
u64 = ctypes.c_uint64
ERR = P(Error)

_PROTOS = {
    # name: (restype, argtypes)
    "bl_version": (cs, []),
    "bl_strerror": (cs, [i32]),
    "bl_init": (i32, []),
    "bl_schema_parse": (i32, [cs, sz, cs, P(vp), ERR]),
    "bl_schema_load": (i32, [cs, P(vp), ERR]),
    "bl_schema_free": (None, [vp]),
    "bl_schema_nfeatures": (sz, [vp]),
    "bl_schema_feature_id": (cs, [vp, sz]),
    "bl_schema_filter_bits": (u32, [vp]),
    "bl_normalize_profile_parse": (i32, [cs]),
    "bl_encoder_new": (i32, [vp, cs, sz, P(EncodeOpts), P(vp), ERR]),
    "bl_encoder_free": (None, [vp]),
    "bl_encoder_nbytes": (sz, [vp]),
    "bl_encoder_nbits": (u32, [vp]),
    "bl_encoder_encode_batch": (i32, [vp, P(cs), P(sz), sz, sz, i32, vp, sz, P(u32), P(sz), ERR]),
    "bl_encode_csv": (i32, [vp, cs, cs, P(EncodeCsvOpts), P(u64), ERR]),
    "bl_clkset_new": (i32, [u32, sz, P(P(ClkSet)), ERR]),
    "bl_clkset_free": (None, [P(ClkSet)]),
    "bl_clkset_append": (i32, [P(ClkSet), cs, cs, ERR]),
    "bl_clkset_append_packed": (i32, [P(ClkSet), cs, sz, sz, ERR]),
    "bl_clkset_read": (i32, [cs, i32, sz, P(P(ClkSet)), ERR]),
    "bl_clkset_write": (i32, [P(ClkSet), cs, i32, i32, ERR]),
    "bl_match_candidates": (i32, [P(P(ClkSet)), sz, P(MatchOpts), P(P(Candidate)), P(sz), ERR]),
    "bl_match_solve_greedy": (i32, [P(Candidate), sz, P(vp), ERR]),
    "bl_match_solve_probabilistic": (i32, [P(Candidate), sz, ctypes.c_double, i32, P(vp), ERR]),
    "bl_groups_count": (sz, [vp]),
    "bl_groups_get": (sz, [vp, sz, P(P(u32)), P(P(u32))]),
    "bl_groups_free": (None, [vp]),
    "bl_blocking_new_lsh": (i32, [u32, u32, u32, cs, sz, P(vp), ERR]),
    "bl_blocking_free": (None, [vp]),
    "bl_blocking_lsh_plan": (i32, [P(P(ClkSet)), sz, ctypes.c_double, ctypes.c_double, P(u32),
                                   P(u32), P(ctypes.c_double)]),
    "bl_blocking_lsh_plan_keep": (i32, [P(P(ClkSet)), sz, ctypes.c_double, ctypes.c_double, i32,
                                        P(u32), P(u32), P(ctypes.c_double)]),
    "bl_dice": (ctypes.c_double, [cs, cs, sz]),
    "bl_layout_parse": (i32, [cs]),
    "bl_model_check_inputs": (i32, [P(P(ClkSet)), P(cs), sz, ERR]),
    "bl_model_candidates": (i32, [P(P(ClkSet)), sz, P(ModelLinkOpts), P(P(Candidate)), P(sz),
                                  ERR]),
    "bl_model_train": (i32, [P(P(ClkSet)), sz, P(Candidate), sz, P(ModelTrainOpts), P(vp), ERR]),
    "bl_model_free": (None, [vp]),
    "bl_model_write": (i32, [vp, cs, ERR]),
    "bl_model_to_json": (i32, [vp, P(vp), ERR]),
    "bl_model_read": (i32, [cs, P(vp), ERR]),
    "bl_model_from_json": (i32, [cs, sz, cs, P(vp), ERR]),
    "bl_model_check_set": (i32, [vp, P(ClkSet), cs, ERR]),
    "bl_model_converged": (i32, [vp, P(u32), P(ctypes.c_double)]),
    "bl_model_nfields": (sz, [vp]),
    "bl_model_field_name": (cs, [vp, sz]),
    "bl_model_nlevels": (sz, [vp, sz]),
    "bl_model_level": (None, [vp, sz, sz, P(cs), P(ctypes.c_double), P(ctypes.c_double),
                              P(ctypes.c_double)]),
    "bl_model_score": (i32, [vp, P(P(ClkSet)), sz, P(Candidate), sz, i32, P(P(ScoredPair)),
                             ERR]),
    "bl_model_score_decide": (i32, [vp, P(P(ClkSet)), sz, P(Candidate), sz, i32, ctypes.c_double,
                                    P(P(ScoredPair)), P(sz), ERR]),
    "bl_model_decide": (i32, [vp, P(P(ClkSet)), sz, P(Candidate), sz, P(ModelLinkOpts),
                              P(P(ScoredPair)), P(sz), ERR]),
    "bl_model_resolve": (i32, [P(ScoredPair), sz, sz, ctypes.c_double, P(P(ScoredPair)), P(sz),
                               ERR]),
    "bl_model_resolve_merge": (i32, [P(ScoredPair), sz, sz, ctypes.c_double, ctypes.c_double,
                                     P(P(ScoredPair)), P(sz), ERR]),
    "bl_model_explain": (i32, [vp, P(ClkSet), sz, P(ClkSet), sz, P(P(ClkSet)), sz,
                               P(ExplainField), P(ctypes.c_double), P(ctypes.c_double),
                               P(ctypes.c_double), ERR]),
    "bl_match_kernel_name": (cs, []),
    "bl_eval_truth_from_ids": (i32, [P(P(cs)), P(sz), sz, i32, P(vp), ERR]),
    "bl_eval_truth_from_pairs": (i32, [P(Candidate), sz, P(vp), ERR]),
    "bl_eval_truth_pairs": (u64, [vp]),
    "bl_eval_truth_free": (None, [vp]),
    "bl_eval_score": (EvalResult, [vp, P(Candidate), sz, u64]),
}

for _name, (_res, _args) in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args


def check(status, err):
    """Raise BlindlinkError for a failing status, with the library's message."""
    if status != BL_OK:
        msg = err.msg.decode("utf-8", "replace") if err.msg else ""
        if not msg:
            msg = lib.bl_strerror(status).decode()
        raise BlindlinkError(status, msg)


if lib.bl_init() != BL_OK:
    raise ImportError("blindlink: the library could not initialise libsodium")
