"""clkhash.serialization stand-ins: base64 text of a filter, and back."""
import base64

from ... import core


def serialize_bitarray(ba):
    """Standard base64 (with padding) of a filter's bytes, as in clkhash JSON."""
    return base64.b64encode(core._filter_bytes(ba)).decode("ascii")


def deserialize_bitarray(s):
    """The filter of a base64 string (a bitarray where that module is
    installed, bytes otherwise)."""
    return _bits(base64.b64decode(s, validate=True))


def _bits(b):
    try:
        from bitarray import bitarray
    except ImportError:
        return b
    ba = bitarray(endian="big")
    ba.frombytes(b)
    return ba
