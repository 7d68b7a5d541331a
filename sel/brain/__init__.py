"""SEL's brain: decide(message) -> silence or a reply plan; mood, modes and style mirroring.

The app (sel.app) builds the :class:`Brain`; the plain message and decision types live in sel.domain.
"""

from sel.brain.brain import Brain
from sel.brain.memory_port import MemoryPort

__all__ = ["Brain", "MemoryPort"]
