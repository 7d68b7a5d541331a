"""Per-conversation KV-cache snapshots, so switching conversations does not re-prefill.

llama.cpp keeps one conversation's tokens in its KV cache; llama-cpp-python reuses the
longest common prefix of the previous evaluation. When SEL answers in channel B and then
returns to channel A, A's prefix is gone. Here we copy the sequence's KV state out with
the low-level ``llama_state_seq_*`` functions into a buffer sized to the tokens actually
used (the high-level ``save_state`` copies the whole context and was measured as slow as
re-prefilling), and copy it back when the conversation returns.
"""

from __future__ import annotations

import ctypes
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SEQ = 0  # llama-cpp-python's high-level API evaluates everything in sequence 0


@dataclass
class KVSnapshot:
    tokens: list[int]
    data: Any  # a ctypes uint8 array holding llama_state_seq data
    nbytes: int


def save(llm: Any) -> KVSnapshot | None:
    """Copy sequence 0's KV state and tokens out of ``llm`` (None if empty or unsupported)."""
    import llama_cpp

    if llm.n_tokens == 0:
        return None
    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, SEQ)
    if size <= 0:
        return None
    buf = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_seq_get_data(ctx, buf, size, SEQ)
    if written <= 0:
        log.warning("could not snapshot the KV cache (%d bytes expected)", size)
        return None
    return KVSnapshot(tokens=list(llm._input_ids), data=buf, nbytes=int(written))


def restore(llm: Any, snap: KVSnapshot) -> bool:
    """Replace ``llm``'s sequence 0 with ``snap``; on failure leave it empty (a cold start)."""
    import llama_cpp

    llm._ctx.kv_cache_seq_rm(SEQ, 0, -1)
    llm.n_tokens = 0
    read = llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, snap.data, snap.nbytes, SEQ)
    if read == 0:
        log.warning("could not restore a KV snapshot of %d tokens; prefilling instead", len(snap.tokens))
        llm._ctx.kv_cache_seq_rm(SEQ, 0, -1)
        return False
    n = len(snap.tokens)
    llm.input_ids[:n] = snap.tokens
    llm.n_tokens = n
    # The logits of the last token are not part of the snapshot: make llama-cpp-python
    # re-evaluate at least one token before sampling.
    llm._requires_eval = True
    return True


class SnapshotCache:
    """Least-recently-used snapshots keyed by (model path, conversation), bounded in bytes."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget = budget_bytes
        self._items: OrderedDict[tuple[str, str], KVSnapshot] = OrderedDict()
        self.used = 0

    def put(self, key: tuple[str, str], snap: KVSnapshot) -> None:
        self.pop(key)
        if snap.nbytes > self.budget:
            return
        self._items[key] = snap
        self.used += snap.nbytes
        while self.used > self.budget:
            _, old = self._items.popitem(last=False)
            self.used -= old.nbytes

    def pop(self, key: tuple[str, str]) -> KVSnapshot | None:
        snap = self._items.pop(key, None)
        if snap is not None:
            self.used -= snap.nbytes
        return snap

    def drop_model(self, model: str) -> None:
        for key in [k for k in self._items if k[0] == model]:
            self.pop(key)

    def __len__(self) -> int:
        return len(self._items)
