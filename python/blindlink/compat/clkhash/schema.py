"""Stand-ins for clkhash.schema.from_json_file / from_json_dict: they return
a Schema that blindlink.compat.clkhash.clk accepts (the schema is validated
by the library when loaded)."""
import json

from ... import core


class Schema:
    """A linkage schema (v1, v2 or v3) as JSON text."""

    def __init__(self, schema_json):
        self.schema_json = schema_json
        with core._Schema(schema_json) as s:  # validate now, as clkhash does
            self.fields = s.feature_ids()


def from_json_dict(dct, validate=True):
    return Schema(json.dumps(dct))


def from_json_file(schema_file, validate=True):
    return Schema(schema_file.read())
