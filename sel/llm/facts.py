"""LLM-assisted fact extraction for memory (SEL_MEMORY_LLM_EXTRACTION=1).

The memory store's rule-based extractor always runs; this adds what a capable
instruction model finds. On a local general model it runs on the engine's worker thread
like any generation; on a model server it is one more (short) request to the general slot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sel.domain import PromptPlan, Turn

if TYPE_CHECKING:
    from sel.llm.engine import Engine

MAX_FACTS = 3
MAX_TOKENS = 96
# A fact the speaker states about themselves names them: "I ...", "my ...", "... me". A line
# about someone else ("Bob is a nurse") is that person's to share, and they never consented.
FIRST_PERSON = re.compile(r"\b(?:i|me|my|mine|myself)\b", re.IGNORECASE)
INSTRUCTION = (
    "List the lasting personal facts the speaker states about themselves in the message below, "
    "one per line starting with '- ', written in the first person. Write '- none' if there are none."
)
PROMPT = INSTRUCTION + "\n\nMessage: {text}\n\nFacts:\n- "
CONVERSATION = "sel-fact-extraction"  # a server's cache for it is kept apart from any chat's


def parse_facts(completion: str) -> list[str]:
    """The model's bullet lines about the speaker, without 'none' answers, empty lines or other people's facts."""
    facts = []
    for line in ("- " + completion).splitlines():
        line = line.strip()
        if not line.startswith("- "):
            break  # the list ended; what follows is the model rambling on
        fact = line[2:].strip()
        if FIRST_PERSON.search(fact) and fact.lower().rstrip(".") != "none":
            facts.append(fact)
    return facts[:MAX_FACTS]


def fact_extractor(engine: Engine) -> Callable[[str], list[str]]:
    """A blocking ``text -> facts`` function for MemoryStore.open(llm_extract=...).

    With a local general model it runs on whichever model is loaded (no swap just for
    extraction) and parks the conversation in the KV cache first, so the reply that follows
    still reuses its prefix. With a server it asks the general slot's model.
    """
    if not engine.is_local("general"):
        return _server_extractor(engine)

    def extract(text: str) -> list[str]:
        def run(llm: Any) -> str:
            out = llm.create_completion(PROMPT.format(text=text), max_tokens=MAX_TOKENS, temperature=0.0, stop=["\n\n"])
            return str(out["choices"][0]["text"])

        return parse_facts(engine.run_blocking(run, slot=None, park=True))

    return extract


def _server_extractor(engine: Engine) -> Callable[[str], list[str]]:
    def extract(text: str) -> list[str]:
        plan = PromptPlan(persona=INSTRUCTION, turns=(Turn("message", text),))
        answer = engine.complete_from_thread("general", plan, conversation=CONVERSATION, max_tokens=MAX_TOKENS)
        # A chat model writes the list whole, its first "- " included; parse_facts expects it cut off.
        return parse_facts(answer.strip().removeprefix("- "))

    return extract
