"""`forget about WORDS` and `forget memory N`: a person picks one of their memories to delete.

Discord's select menus need component interactions; a numbered list answered by a second
command works the same with `/sel` and `!` and is what the tests can drive. The list holds the
person's memory texts, so it is only ever shown to them (ephemeral, or by DM; see the commands Cog).
The numbers refer to the last list shown to that person; ids from `sel memory list` work too.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from discord.utils import escape_markdown

if TYPE_CHECKING:
    from sel.memory.records import Memory

MESSAGE_CHARS = 2000  # Discord's limit for one message
MAX_SHOWN_CHARS = 150  # of each memory in a list: ten of them stay well inside one Discord message
OFFERS_KEPT = 1000  # people whose last list is remembered for `forget memory N`
NO_MATCH = "Nothing I remember about you matches that. (`{prefix}forget` alone explains the options.)"
UNKNOWN_CHOICE = "I have no memory of yours with that number or id; `{prefix}forget about WORDS` lists them."
PICK = "Which one should I forget? Use `{prefix}forget memory NUMBER` (or `/sel forget memory:NUMBER`)."


@dataclass(frozen=True, slots=True)
class ForgetRequest:
    """What `forget` was asked: everything (``confirm``), a list of matches (``about``) or one memory (``memory``)."""

    confirm: bool = False
    about: str = ""
    memory: str = ""


def prefix_request(command: str) -> ForgetRequest:
    """`forget confirm`, `forget about my cat`, `forget memory 2` (the message without its prefix);
    other words after `forget` are what to look for."""
    words = (command.split(maxsplit=1)[1:] or [""])[0].strip()
    first, _, rest = words.partition(" ")
    keyword = first.lower()
    if keyword == "confirm":
        return ForgetRequest(confirm=True)
    if keyword == "memory":
        return ForgetRequest(memory=rest.strip())
    if keyword == "about":
        return ForgetRequest(about=rest.strip())
    return ForgetRequest(about=words)


def numbered(memories: Sequence[Memory], prefix: str) -> str:
    """The matches as a numbered list with what to do next, cut to fit one Discord message."""
    pick = PICK.format(prefix=prefix)
    lines: list[str] = []
    room = MESSAGE_CHARS - len(pick) - 1
    for n, memory in enumerate(memories, start=1):
        line = f"{n}. {_shown(memory.text)}"
        room -= len(line) + 1
        if room < 0:
            break  # escaping can double a text's length; the best matches come first anyway
        lines.append(line)
    return "\n".join([*lines, pick])


def _shown(text: str) -> str:
    short = text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"
    return escape_markdown(short)


def forgotten_line(memory: Memory) -> str:
    return f"Done. I've forgotten: {_shown(memory.text)}"


class Offers:
    """The ids of the last list shown to each person, so `forget memory 2` means the second of them."""

    def __init__(self, limit: int = OFFERS_KEPT) -> None:
        self._limit = limit
        self._by_person: OrderedDict[int, tuple[str, ...]] = OrderedDict()

    def offer(self, person: int, memories: Sequence[Memory]) -> None:
        self._by_person[person] = tuple(m.id for m in memories)
        self._by_person.move_to_end(person)
        while len(self._by_person) > self._limit:
            self._by_person.popitem(last=False)

    def chosen(self, person: int, choice: str) -> str:
        """The memory id ``choice`` names: a number from the person's last list (with or without "#"), else as given."""
        offered = self._by_person.get(person, ())
        number = choice.strip().removeprefix("#")
        if number.isdigit() and 1 <= int(number) <= len(offered):
            return offered[int(number) - 1]
        return choice.strip()

    def drop(self, person: int) -> None:
        """Forget the person's list (after everything of theirs is erased, or a memory was deleted)."""
        self._by_person.pop(person, None)
