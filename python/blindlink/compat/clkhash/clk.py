"""clkhash.clk.generate_clk_from_csv and generate_clks, backed by blindlink.

The CSV is read with Python's csv module exactly as clkhash 0.18.3 reads it
(default dialect, no stripping), and the records are encoded by the library
on all cores. Results are bitarrays where the bitarray module is installed
(as clkhash returns), bytes otherwise (bitarray.tobytes() of the same).
"""
import csv

from ... import _lib, core
from .serialization import _bits


def _schema_arg(schema):
    return getattr(schema, "schema_json", schema)


def generate_clk_from_csv(input_f, secret, schema, validate=True, header=True,
                          progress_bar=True, max_workers=None):
    """As clkhash: ``input_f`` a text file object of CSV data, ``secret`` str
    or bytes, ``schema`` from blindlink.compat.clkhash.schema (or a path,
    dict or JSON text), ``header`` True / False / 'ignore'. ``progress_bar``
    is accepted and ignored; ``max_workers`` is the number of threads."""
    if header not in {False, True, "ignore"}:
        raise ValueError("header must be False, True or 'ignore' but is {!s}.".format(header))
    reader = csv.reader(input_f)
    rows = list(reader)
    if header and rows:
        names = rows.pop(0)
        if header != "ignore":
            with core._Schema(_schema_arg(schema)) as s:
                ids = s.feature_ids()
            if names != ids:
                raise core.BlindlinkError(
                    _lib.BL_EINPUT,
                    "header %r does not match the schema's identifiers %r" % (names, ids))
    return generate_clks(rows, schema, secret, validate=validate, max_workers=max_workers)


def generate_clks(pii_data, schema, secret, validate=True, callback=None, max_workers=None):
    """As clkhash: one filter per record of ``pii_data`` (sequences of str)."""
    out = core.encode_records(pii_data, _schema_arg(schema), secret, validate=validate,
                              threads=max_workers or 0)
    if callback is not None:
        callback(len(out), [bin(int.from_bytes(c, "big")).count("1") for c in out])
    return [_bits(c) for c in out]
