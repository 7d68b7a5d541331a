"""Undecodable bytes in text that enters SEL become U+FFFD, the Unicode replacement character.

Python turns bytes that are not valid UTF-8 in argv, environment values, file names and
(under a C or C.UTF-8 locale) stdin into lone surrogates such as "\\udcff". Those cannot be
encoded as UTF-8 again, so they crash whatever encodes later: llama.cpp's tokenizer, orjson,
print(). SEL replaces them where text enters, so everything after sees valid text.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_undecodable(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the result always encodes as UTF-8)."""
    return _SURROGATE.sub(REPLACEMENT, text)
