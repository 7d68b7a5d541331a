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
# The fewest bytes one value of a type can take: a string or an array has at least its length field.
_SMALLEST = {**_FIXED, _STRING: 8, _ARRAY: 12}
MAX_KEYS_SCANNED = 64  # the architecture is among the first keys in every converter's output


def architecture(path: Path) -> str | None:
    """``general.architecture`` of a GGUF file, or None when it is not found in the header.

    Raises ValueError for a damaged header (e.g. a length that runs past the end of the file).
    """
    with path.open("rb") as fh:
        header = _Header(fh, path.stat().st_size)
        if header.read(4) != b"GGUF":
            return None
        version, _tensors, keys = header.unpack("<IQQ")
        if version < 2:
            return None
        for _ in range(min(keys, MAX_KEYS_SCANNED)):
            key = header.string()
            (kind,) = header.unpack("<I")
            if key == "general.architecture" and kind == _STRING:
                return header.string()
            header.skip_value(kind)
    return None


class _Header:
    """Reads within the file: every length is checked against the bytes left, so a damaged
    length (2**62) is an error instead of a huge allocation or a scan of nothing."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh = fh
        self.size = size

    def _claim(self, length: int) -> None:
        if length > self.size - self.fh.tell():
            raise ValueError("a length runs past the end of the file")

    def read(self, length: int) -> bytes:
        self._claim(length)
        return self.fh.read(length)

    def unpack(self, layout: str) -> tuple[int, ...]:
        return struct.unpack(layout, self.read(struct.calcsize(layout)))

    def string(self) -> str:
        (length,) = self.unpack("<Q")
        return self.read(length).decode("utf-8", errors="replace")

    def skip_value(self, kind: int) -> None:
        if kind not in _SMALLEST:
            raise ValueError(f"unknown value type {kind}")
        if kind in _FIXED:
            self._skip(_FIXED[kind])
        elif kind == _STRING:
            self._skip(self.unpack("<Q")[0])
        else:
            item_kind, count = self.unpack("<IQ")
            if item_kind not in _SMALLEST:
                raise ValueError(f"unknown value type {item_kind}")
            self._claim(_SMALLEST[item_kind] * count)
            if item_kind in _FIXED:
                self._skip(_FIXED[item_kind] * count)
            else:
                for _ in range(count):
                    self.skip_value(item_kind)

    def _skip(self, length: int) -> None:
        self._claim(length)
        self.fh.seek(length, 1)
