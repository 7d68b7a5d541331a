"""SEL's brain: decide(message) -> silence or a reply plan; mood, modes and style mirroring.

Frontends use only :class:`Brain` and the message types re-exported here.
"""

from sel.brain.brain import Brain
from sel.brain.decision import Decision
from sel.brain.memory_port import MemoryPort
from sel.brain.message import AttachmentInfo, IncomingMessage

__all__ = ["AttachmentInfo", "Brain", "Decision", "IncomingMessage", "MemoryPort"]
