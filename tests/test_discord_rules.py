"""Pure rules of the Discord frontend: splitting, streaming cadence, check-ins, access, history."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from sel.config import load_settings
from sel.domain import CUT_NOTE
from sel.frontends.discord.access import allowed
from sel.frontends.discord.checkins import DAY, CheckinBook
from sel.frontends.discord.history import ConversationLog, Entry, to_turns
from sel.frontends.discord.split import split_for_discord
from sel.frontends.discord.stream import MARKER, StreamingReply


def fences_balanced(piece: str) -> bool:
    return len(re.findall(r"^\s*```", piece, flags=re.M)) % 2 == 0


def test_short_text_is_one_piece() -> None:
    assert split_for_discord("hello") == ["hello"]
    assert split_for_discord("") == []


def test_long_prose_splits_at_paragraphs_under_the_limit() -> None:
    text = "\n\n".join(f"Paragraph {i}. " + "words " * 60 for i in range(20))
    pieces = split_for_discord(text)
    assert len(pieces) > 1
    assert all(len(p) <= 2000 for p in pieces)
    assert all(p.startswith("Paragraph") for p in pieces), "a piece started mid-paragraph"
    assert " ".join(" ".join(pieces).split()) == " ".join(text.split()), "text was lost or changed"


def test_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step {i}" for i in range(200))
    text = f"Here you go:\n\n```python\n{code}\n```\n\nThat's it."
    pieces = split_for_discord(text)
    assert len(pieces) >= 3
    for piece in pieces:
        assert len(piece) <= 2000
        assert fences_balanced(piece), f"unbalanced fence in:\n{piece[:200]}...{piece[-200:]}"
    assert all(p.startswith("```python\n") for p in pieces[1:-1])
    joined = "\n".join(pieces)
    assert all(f"value_{i} = compute({i})" in joined for i in range(200))


def test_one_giant_word_is_hard_cut() -> None:
    pieces = split_for_discord("x" * 4500)
    assert [len(p) for p in pieces] == [1996, 1996, 508]


class FakeMessage:
    def __init__(self, log: list[tuple[str, float, str]], clock: list[float], content: str) -> None:
        self.log, self.clock, self.content = log, clock, content
        self.log.append(("send", clock[0], content))

    async def edit(self, *, content: str) -> None:
        self.content = content
        self.log.append(("edit", self.clock[0], content))


@pytest.fixture
def fake_channel():
    log: list[tuple[str, float, str]] = []
    clock = [0.0]

    async def send(content: str) -> FakeMessage:
        return FakeMessage(log, clock, content)

    return log, clock, send


async def test_first_chunk_is_posted_at_once_then_edits_wait_for_the_interval(fake_channel) -> None:
    log, clock, send = fake_channel
    reply = StreamingReply(send, send, interval=1.0, clock=lambda: clock[0])
    await reply.add("Hello")
    assert log == [("send", 0.0, "Hello" + MARKER)]
    for t in (0.3, 0.6, 0.9):
        clock[0] = t
        await reply.add(" more")
    assert len(log) == 1, "edited before the interval passed"
    clock[0] = 1.2
    await reply.add(" text")
    assert log[-1] == ("edit", 1.2, "Hello more more more text" + MARKER)
    clock[0] = 5.0
    await reply.finish()
    assert log[-1] == ("edit", 5.0, "Hello more more more text")


async def test_stream_off_posts_once_at_the_end(fake_channel) -> None:
    log, clock, send = fake_channel
    reply = StreamingReply(send, send, interval=1.0, stream=False, clock=lambda: clock[0])
    for word in ("a ", "b ", "c"):
        await reply.add(word)
    assert log == []
    await reply.finish()
    assert log == [("send", 0.0, "a b c")]


async def test_empty_reply_becomes_an_ellipsis(fake_channel) -> None:
    log, clock, send = fake_channel
    reply = StreamingReply(send, send, clock=lambda: clock[0])
    await reply.add("   ")
    await reply.finish()
    assert log == [("send", 0.0, "…")]


async def test_overflow_continues_in_a_new_message(fake_channel) -> None:
    _log, clock, send = fake_channel
    reply = StreamingReply(send, send, interval=0.0, clock=lambda: clock[0])
    for _ in range(300):
        clock[0] += 0.01
        await reply.add("twelve chars ")
    await reply.finish()
    assert len(reply.messages) == 2
    assert all(len(m.content) <= 2000 and not m.content.endswith(MARKER) for m in reply.messages)


def settings(**env: str):
    return load_settings(env).discord


def message(author_id: int = 1, channel_id: int = 10, guild: bool = True, roles: tuple[int, ...] = (), parent=None):
    author = SimpleNamespace(id=author_id, roles=[SimpleNamespace(id=r) for r in roles])
    channel = SimpleNamespace(id=channel_id, parent_id=parent)
    return SimpleNamespace(author=author, channel=channel, guild=object() if guild else None)


def test_access_rules() -> None:
    assert allowed(settings(), message(), owners=())
    assert not allowed(settings(SEL_BLOCKED_USERS="1"), message(), owners=())
    assert allowed(settings(SEL_BLOCKED_USERS="1"), message(), owners={1}), "the owner is never locked out"
    assert allowed(settings(SEL_ALLOW_DMS="0"), message(guild=False), owners={1}), "the owner can always DM"
    assert not allowed(settings(SEL_ALLOWED_CHANNELS="11"), message(), owners={1}), "channel lists bind everyone"
    assert not allowed(settings(SEL_ALLOWED_USERS="2"), message(), owners=())
    assert not allowed(settings(SEL_ALLOW_DMS="0"), message(guild=False), owners=())
    assert not allowed(settings(SEL_ALLOWED_CHANNELS="11"), message(), owners=())
    assert allowed(settings(SEL_ALLOWED_CHANNELS="11"), message(channel_id=99, parent=11), owners=())
    assert not allowed(settings(SEL_BLOCKED_ROLES="5"), message(roles=(5,)), owners=())
    assert not allowed(settings(SEL_ALLOWED_ROLES="6"), message(roles=(5,)), owners=())
    assert allowed(settings(SEL_ALLOWED_ROLES="6"), message(roles=(5, 6)), owners=())


HOUR = 3600.0


def test_checkin_only_after_a_lull_in_a_recent_channel_and_never_twice_per_lull() -> None:
    book = CheckinBook(settings(SEL_CHECKINS="1", SEL_CHECKINS_PER_DAY="2"))
    high = {"dopamine": 0.8}
    book.sel_spoke(1, 0.0)
    assert book.due(1 * HOUR, high) == [], "no check-in before a two-hour lull"
    assert book.due(3 * HOUR, high) == [1]
    book.checked_in(1, 3 * HOUR)
    assert book.due(4 * HOUR, high) == [], "only one check-in per lull"
    assert book.due(3 * HOUR, {"dopamine": 0.4}) == [], "a low mood does not check in after a short lull"


def test_checkin_rules_for_silent_channels_typing_and_the_daily_cap() -> None:
    book = CheckinBook(settings(SEL_CHECKINS="1", SEL_CHECKINS_PER_DAY="1"))
    low = {"dopamine": 0.4}
    book.sel_spoke(2, 0.0)
    assert book.due(7 * HOUR, low) == [2], "a long lull is reason enough"
    assert book.due(DAY + 3 * HOUR, low) == [], "never in a channel silent for days"
    book.saw_typing(2, 7 * HOUR - 5)
    assert book.due(7 * HOUR, low) == [], "never while someone is typing"
    book.checked_in(2, 8 * HOUR)
    book.saw_message(2, 9 * HOUR, to_sel=False)
    assert book.due(16 * HOUR, low) == [], "the daily cap is reached"
    assert book.due(8 * HOUR + DAY + 1, low) == [], "and the channel has been silent for too long by then"


def test_history_is_bounded_and_knows_when_it_was_cut() -> None:
    log = ConversationLog(limit=3)
    for i in range(5):
        log.record(7, Entry(i, 100 + i % 2, f"user{i % 2}", f"message {i}", False))
    entries, cut = log.before(7, 999)
    assert [e.text for e in entries] == ["message 2", "message 3", "message 4"] and cut
    turns = to_turns(entries, cut=cut)
    assert turns[0].text == CUT_NOTE


def test_back_to_back_messages_of_one_author_are_one_turn() -> None:
    entries = [
        Entry(1, 5, "ana", "hey", False),
        Entry(2, 5, "ana", "are you there?", False),
        Entry(3, 9, "SEL", "yes!", True),
        Entry(4, 5, "ana", "cool", False),
    ]
    turns = to_turns(entries, cut=False)
    assert [(t.speaker, t.text, t.from_sel) for t in turns] == [
        ("ana", "hey\nare you there?", False),
        ("SEL", "yes!", True),
        ("ana", "cool", False),
    ]


def test_forgetting_a_user_drops_their_messages_from_history() -> None:
    log = ConversationLog(limit=10)
    log.record(1, Entry(1, 5, "ana", "my secret", False))
    log.record(1, Entry(2, 6, "ben", "hi", False))
    log.drop_author(5)
    entries, _ = log.before(1, 0)
    assert [e.text for e in entries] == ["hi"]


def test_every_command_carries_exactly_one_access_check() -> None:
    """Access is fail-closed: a command without `@allowed_here()` or `@data_right()` would be open to
    people the access lists block."""
    from sel.frontends.discord.checks import ACCESS_CHECK
    from sel.frontends.discord.commands import SelCommands

    cog = SelCommands(app=None, settings=settings(), history=ConversationLog(), voice=None)  # type: ignore[arg-type]
    access_checks = {c.name: sum(hasattr(check, ACCESS_CHECK) for check in c.checks) for c in cog.get_commands()}
    assert len(access_checks) == 19, sorted(access_checks)
    unguarded = {name: n for name, n in access_checks.items() if n != 1}
    assert not unguarded, f"commands without exactly one access check: {unguarded}"
