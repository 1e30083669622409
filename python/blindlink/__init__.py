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

Fellegi-Sunter linkage of field-level encodings (``encode_file(...,
layout="fields")``, ``model_link``, ``Model.explain``): see
``blindlink.model``.

Drop-in replacements for the most used clkhash and anonlink calls are in
``blindlink.compat`` (docs/python.md).
"""
from ._lib import BlindlinkError, path as library_path
from .core import (LSH, Match, candidates, dice, encode_csv, encode_file, encode_records,
                   evaluate, match, read_clks, version, write_clks)
from .model import Model, ModelLinkage, ScoredPair, model_link

__version__ = version()
__all__ = [
    "BlindlinkError", "LSH", "Match", "Model", "ModelLinkage", "ScoredPair", "candidates",
    "dice", "encode_csv", "encode_file", "encode_records", "evaluate", "library_path", "match",
    "model_link", "read_clks", "version", "write_clks",
]
