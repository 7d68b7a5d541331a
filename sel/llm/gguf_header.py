"""Reading a GGUF file's ``general.architecture`` without loading the model.

llama.cpp cannot open a projector (mmproj) file as a model, so `sel doctor` reads the
header itself to tell a vision projector ("clip") from a language model.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

# GGUF value types and the byte size of the fixed-size ones
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
MAX_KEYS_SCANNED = 64  # the architecture is among the first keys in every converter's output


def architecture(path: Path) -> str | None:
    """``general.architecture`` of a GGUF file, or None when it is not found in the header."""
    with path.open("rb") as fh:
        if fh.read(4) != b"GGUF":
            return None
        version, _tensors, keys = struct.unpack("<IQQ", fh.read(20))
        if version < 2:
            return None
        for _ in range(min(keys, MAX_KEYS_SCANNED)):
            key = _string(fh)
            kind = struct.unpack("<I", fh.read(4))[0]
            if key == "general.architecture" and kind == _STRING:
                return _string(fh)
            _skip(fh, kind)
    return None


def _string(fh: BinaryIO) -> str:
    (length,) = struct.unpack("<Q", fh.read(8))
    return fh.read(length).decode("utf-8", errors="replace")


def _skip(fh: BinaryIO, kind: int) -> None:
    if kind in _FIXED:
        fh.seek(_FIXED[kind], 1)
    elif kind == _STRING:
        _string(fh)
    elif kind == _ARRAY:
        item_kind, count = struct.unpack("<IQ", fh.read(12))
        if item_kind in _FIXED:
            fh.seek(_FIXED[item_kind] * count, 1)
        else:
            for _ in range(count):
                _skip(fh, item_kind)
    else:
        raise ValueError(f"unknown GGUF value type {kind}")
