"""Where a memory may come back: the scope rules, as pure functions over plain strings.

A *place* is where a message was said or a reply is being written: ``"dm"`` (a DM with the
person, or the terminal, the owner's private chat) or ``"guild:<id>"`` (a server; the brain
names it, sel.brain.memory_port.place_of). A memory's
*scope* says where it may be recalled:

* ``"dm"``: learned in a DM, recalled only in DMs with that person;
* ``"guild:<id>"`` (several are space-separated, ``"guild:1 guild:2"``): learned in that server,
  recalled there and in DMs with the same person;
* ``"any"``: everywhere. Memories stored before scopes existed, and the owner's imports and
  ``sel memory add``, are "any": they keep coming back wherever they did before.

Recall is always of the asking person's own memories, so "in DMs" means DMs with them.
A person's preference for new memories is ``"here"`` (the place they were said, the default),
``"anywhere"`` or ``"dm"``.
"""

from __future__ import annotations

import re

ANY = "any"
DM = "dm"
PREFERENCES = {"here": None, "anywhere": ANY, "dm": DM}  # preference -> fixed scope (None: the place)
DEFAULT_PREFERENCE = "here"
_GUILD = re.compile(r"guild:[0-9A-Za-z_-]{1,64}")


def scope_for(place: str | None, preference: str = DEFAULT_PREFERENCE) -> str:
    """The scope a memory said at ``place`` gets under the person's ``preference`` (no place: "any")."""
    fixed = PREFERENCES.get(preference)
    if fixed is not None:
        return fixed
    return ANY if place is None else place


def visible(scope: str, where: str | None) -> bool:
    """Whether a memory of ``scope`` may come back in a reply at ``where`` (None: the owner's tools, everywhere)."""
    if where is None or where == DM or scope == ANY:
        return True  # every memory recalled is the asker's own, and a DM is with them
    return where in scope.split()


def covers(wide: str, narrow: str) -> bool:
    """Whether ``wide`` lets a memory come back everywhere ``narrow`` does."""
    if wide == ANY:
        return True
    if narrow == ANY:
        return False
    return set(_guilds(narrow)) <= set(_guilds(wide))


def merged(one: str, other: str) -> str:
    """The scope of a fact said in both scopes: everywhere either lets it come back."""
    if covers(one, other):
        return one
    if covers(other, one):
        return other
    return " ".join(sorted(set(_guilds(one)) | set(_guilds(other))))


def parse_scope(value: str) -> str:
    """A scope as written in an import line or a stored record; ValueError if it is not one."""
    if value in (ANY, DM):
        return value
    words = value.split()
    if words and all(_GUILD.fullmatch(word) for word in words):
        return " ".join(sorted(set(words)))
    raise ValueError(f'scope {value[:40]!r} is not "any", "dm" or "guild:<server id>"')


def _guilds(scope: str) -> list[str]:
    return [] if scope == DM else scope.split()
