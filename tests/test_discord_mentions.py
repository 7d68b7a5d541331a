"""SEL never pings @everyone, @here or roles, whatever its replies say.

Replies are model output, one prompt injection away from "@everyone". Every message SEL creates
or edits must carry ``allowed_mentions`` that rules those out: without the field Discord pings
everything the text names. These tests drive every path that sends or edits a message through
the real bot and the loopback stand-in, then check every recorded payload.
"""

from __future__ import annotations

import time
from typing import Any

from tests.discord_fixtures import mention, prefix, replies_in, slash
from tests.standin.rest import RecordedRequest

CREATES_AND_EDITS = {
    ("POST", "/channels/{channel_id}/messages"): "message",
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): "edit",
    ("POST", "/interactions/{interaction_id}/{token}/callback"): "interaction response",
    ("POST", "/webhooks/{application_id}/{token}"): "follow-up",
    ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}"): "interaction edit",
}
DEFERRED_CALLBACKS = (5, 6)  # "is thinking..." and deferred updates carry no text to ping with


def message_fields(request: RecordedRequest) -> dict[str, Any] | None:
    """The message part of a create or edit request; None for requests that carry no message."""
    if (request.method, request.route) not in CREATES_AND_EDITS:
        return None
    body = request.json or {}
    if request.route and request.route.endswith("/callback"):
        if body.get("type") in DEFERRED_CALLBACKS:
            assert not (body.get("data") or {}).get("content"), f"a deferred response carries text: {body}"
            return None
        return body.get("data") or {}
    return body


def mention_problem(fields: dict[str, Any], *, ping_on_reply: bool) -> str | None:
    """Why this payload could ping more than SEL means to, or None when it is safe."""
    allowed = fields.get("allowed_mentions")
    if allowed is None:
        return "no allowed_mentions (Discord then pings @everyone, roles and users named in the text)"
    parse = allowed.get("parse")
    if parse is None or set(parse) & {"everyone", "roles", "users"}:
        return f"parse={parse!r} lets the text ping a crowd"
    if allowed.get("roles") or allowed.get("users"):
        return f"explicit roles/users may be pinged: {allowed}"
    if bool(allowed.get("replied_user", False)) != ping_on_reply:
        return f"replied_user={allowed.get('replied_user')!r} but SEL_PING_ON_REPLY={int(ping_on_reply)}"
    return None


def check_every_payload(requests: list[RecordedRequest], *, ping_on_reply: bool) -> dict[str, int]:
    """Assert every create/edit is safe; return how many of each kind there were."""
    kinds: dict[str, int] = {}
    problems = []
    for request in requests:
        fields = message_fields(request)
        if fields is None:
            continue
        kind = CREATES_AND_EDITS[(request.method, request.route or "")]
        kinds[kind] = kinds.get(kind, 0) + 1
        problem = mention_problem(fields, ping_on_reply=ping_on_reply)
        if problem:
            problems.append(f"{kind} {request.method} {request.path} {str(fields.get('content'))[:50]!r}: {problem}")
    assert not problems, "messages SEL sent could ping more than it means to:\n" + "\n".join(problems)
    return kinds


async def test_no_message_sel_sends_or_edits_can_ping_everyone_here_or_roles(sel_env, standin) -> None:
    from tests.standin.server import FileSpec

    now = [time.time()]
    bot = await sel_env(
        SEL_MAX_NEW_TOKENS="2000",
        SEL_CTX="4096",
        SEL_EDIT_INTERVAL="0.2",
        SEL_MODE="deep_focus",
        SEL_CHECKINS="1",
        clock=lambda: now[0],
    )
    ch = standin.general.id

    # Command replies that repeat what the user typed: the text says "@everyone" and a role mention.
    role = f"<@&{standin.guild.id}>"
    echoed = await prefix(standin, standin.alice, f'!mode "@everyone {role} @here"')
    assert "@everyone" in echoed and role in echoed, f"the refusal should quote the bad mode: {echoed!r}"
    assert "only the bot owner" in (await prefix(standin, standin.bob, "!mode playful")).lower()  # error handler
    assert "remember on|off" in await prefix(standin, standin.alice, "!help")

    # Slash commands: an immediate response, a deferred one filled by a follow-up, a DM with a file.
    assert "memsvg" in (await slash(standin, standin.bob, "help")).content
    assert "tokens/s" in (await slash(standin, standin.bob, "status")).content
    assert "remember" in (await slash(standin, standin.alice, "remember", setting="on")).content.lower()
    assert "Sent you a DM" in (await slash(standin, standin.alice, "export")).content
    assert "Sent you a DM" in await prefix(standin, standin.alice, "!memsvg")

    # A refusal SEL says itself, a long streamed reply (edits and continuations), a DM conversation.
    big = FileSpec("huge.txt", b"x" * (150 * 1024), "text/plain")
    await standin.send_message(ch, standin.alice, f"{mention(bot)} read this", attachments=[big])
    await replies_in(standin, ch, len(standin.bot_messages(ch)) + 1)
    before = len(standin.bot_messages(ch))
    ask = "write a lot please, a really long and detailed story about turtles, tea, trains and the moon"
    await standin.send_message(ch, standin.alice, f"{mention(bot)} {ask}")
    await standin.wait_for(lambda: len(standin.bot_messages(ch)) > before, 20, what="the long reply to start")
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 240, what="the long reply to finish")
    dm = standin.dm_channel(standin.bob)
    await standin.send_message(dm.id, standin.bob, "hey, are you around? @everyone")
    await replies_in(standin, dm.id, timeout=240)
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 240, what="the DM reply to finish")

    # A check-in after a lull (SEL_CHECKINS=1, time moved on by the injected clock).
    checkins_before = len(standin.bot_messages(ch))
    now[0] += 7 * 3600
    await bot.conversation.tick()
    await standin.wait_for(lambda: len(standin.bot_messages(ch)) > checkins_before, 10, what="a check-in")
    await standin.idle(300)

    long_reply = standin.bot_messages(ch)[before:checkins_before]
    assert len(long_reply) >= 2, "the long reply should continue in a new message (over 2000 characters)"
    assert any(m.edits for m in long_reply), "the long reply should have been edited while it streamed"
    kinds = check_every_payload(standin.requests, ping_on_reply=False)
    for kind in ("message", "edit", "interaction response", "follow-up"):
        assert kinds.get(kind), f"the session sent no {kind}, so it was not checked: {kinds}"
    dm_files = [
        r for r in standin.requests_to("POST", f"/channels/{standin.dm_channel(standin.alice).id}/messages") if r.files
    ]
    assert len(dm_files) == 2, "export and memsvg should each have sent a DM with a file"


async def test_ping_on_reply_notifies_only_the_person_answered(sel_env, standin) -> None:
    bot = await sel_env(SEL_PING_ON_REPLY="1")
    await standin.send_message(standin.general.id, standin.alice, f"{mention(bot)} hello @everyone")
    msgs = await replies_in(standin, standin.general.id)
    await standin.wait_for(lambda: not bot.conversation.lanes.running, 30, what="the reply to finish")
    await standin.idle(200)
    assert msgs[0].reply_to is not None
    echoed = await prefix(standin, standin.alice, "!mode @everyone")
    assert "@everyone" in echoed
    kinds = check_every_payload(standin.requests, ping_on_reply=True)
    assert kinds.get("message"), kinds


def test_no_call_in_sel_overrides_the_clients_allowed_mentions() -> None:
    """The client's setting (sel_mentions) is the only say; a per-call value would bypass it."""
    import ast
    from pathlib import Path

    import sel

    overrides = []
    for path in sorted(Path(sel.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "mention_author" or (
                    keyword.arg == "allowed_mentions" and "sel_mentions" not in ast.unparse(keyword.value)
                ):
                    overrides.append(f"{path.name}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert not overrides, "calls that set their own mentions instead of the client's:\n" + "\n".join(overrides)
