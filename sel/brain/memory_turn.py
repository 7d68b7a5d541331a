"""What one message does with the memory store: the store observes it (consent phrases, facts), the
author's own memories are recalled for the reply, and a question about memory gets its hint.

Blocking memory calls run in threads; one user's memories never reach another user's reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sel.brain import prompt
from sel.brain.memory_port import MemoryPort, RecalledLike, place_of
from sel.brain.style_book import StyleBook
from sel.domain import Decision, IncomingMessage, Turn

RECALL_MIN_WORDS = 4
RECALL_NEIGHBOURS = 1  # the author's turn before and after each recalled episode of theirs


def standing_hint(memory: MemoryPort | None, decision: Decision, consented: bool) -> str:
    """The memory hint a question about memory gets without the store observing the message again."""
    if decision.route.intent != "memory":
        return ""
    if memory is None:
        return prompt.NO_MEMORY
    return "" if consented else prompt.NO_CONSENT


async def observe_memory(
    memory: MemoryPort | None, styles: StyleBook, msg: IncomingMessage, decision: Decision, now: float, *, here: bool
) -> tuple[str, bool]:
    """Let the memory store see the message (consent phrases, facts); returns (hint, consented).
    ``here`` is False where sel.toml turns memory off: there SEL neither stores nor recalls."""
    intent = decision.route.intent
    if memory is None or not here:
        return (prompt.NO_MEMORY if intent == "memory" else ""), False
    result = await asyncio.to_thread(
        memory.observe,
        msg.author_id,
        decision.route.text,
        tags=(intent,),
        now=now,
        where=place_of(msg),
        channel=msg.channel_id,  # the author's own turn is kept as an episode of this conversation
    )
    if result.consent_changed is False:
        styles.forget(msg.author_id)
    consented = bool(await asyncio.to_thread(memory.has_consent, msg.author_id))
    hint = result.reply_hint
    if not hint and intent == "memory" and not consented:
        hint = prompt.NO_CONSENT
    return hint, consented


async def recall(
    memory: MemoryPort | None,
    msg: IncomingMessage,
    decision: Decision,
    consented: bool,
    now: float,
    *,
    here: bool,
    k: int,
) -> Sequence[RecalledLike]:
    """The author's own memories relevant to the message — never anyone else's."""
    text = decision.route.text
    if memory is None or not consented or not here:
        return ()
    if len(text.split()) < RECALL_MIN_WORDS and decision.route.intent != "memory":
        return ()
    return await asyncio.to_thread(
        memory.recall,
        msg.author_id,
        text,
        k=k,
        now=now,
        where=place_of(msg),  # a DM's memories never come back in a server, nor one server's in another
        neighbours=RECALL_NEIGHBOURS,
    )


def unseen_episodes(
    memories: Sequence[RecalledLike], msg: IncomingMessage, decision: Decision, history: Sequence[Turn]
) -> tuple[RecalledLike, ...]:
    """``memories`` without the person's earlier turns the prompt already shows: this message (kept as an
    episode before recall runs) and the turns still in the conversation history. Repeating them would say
    the same thing twice and change the prompt's start every turn, costing the model its warm cache."""
    in_view = {_words(msg.text), _words(decision.route.text)} | {_words(t.text) for t in history if not t.from_sel}
    return tuple(m for m in memories if m.kind != "episode" or _words(m.text) not in in_view)


def _words(text: str) -> str:
    return " ".join(text.casefold().split())
