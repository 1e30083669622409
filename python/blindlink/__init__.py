"""blindlink: privacy-preserving record linkage from Python.

A ctypes binding (standard library only) over libblindlink.so: clkhash-
compatible CLK encoding, anonlink-compatible Dice matching and solvers, and
linkage quality figures. NumPy arrays are accepted, and returned on request
(``as_array=True``), where NumPy is installed.

    import blindlink
    a = blindlink.encode_csv("a.csv", "schema.json", secret)
    b = blindlink.encode_csv("b.csv", "schema.json", secret)
    for m in blindlink.match([a, b], 0.8):
        print(m.members, m.score)

Drop-in replacements for the most used clkhash and anonlink calls are in
``blindlink.compat`` (docs/python.md).
"""
from ._lib import BlindlinkError, path as library_path
from .core import (LSH, Match, candidates, dice, encode_csv, encode_records, evaluate, match,
                   read_clks, version, write_clks)

__version__ = version()
__all__ = [
    "BlindlinkError", "LSH", "Match", "candidates", "dice", "encode_csv", "encode_records",
    "evaluate", "library_path", "match", "read_clks", "version", "write_clks",
]
