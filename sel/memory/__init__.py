"""Consent-based long-term memory (see :class:`sel.memory.store.MemoryStore`).

Importing this package is cheap: numpy, fastembed and hnswlib load on first use.
"""

from sel.memory.pruner import run_pruner
from sel.memory.records import Memory, ObserveResult, Recalled
from sel.memory.store import MemoryStore

__all__ = ["Memory", "MemoryStore", "ObserveResult", "Recalled", "run_pruner"]
