"""anonlink-compatible entry points backed by blindlink (anonlink 0.15.3
semantics: same arguments, same candidate order and scores, same groups)."""
from . import candidate_generation, similarities, solving  # noqa: F401
