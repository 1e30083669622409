"""clkhash-compatible entry points backed by blindlink (clkhash 0.18.3
semantics: same arguments, same CLKs)."""
from . import clk, schema, serialization  # noqa: F401
