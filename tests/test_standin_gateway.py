"""The main gateway at the websocket level: handshake, sequences, compression, intents, resume."""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.standin import DiscordStandin

GUILDS, GUILD_MEMBERS, GUILD_MESSAGES, DIRECT_MESSAGES, MESSAGE_CONTENT = 1, 2, 1 << 9, 1 << 12, 1 << 15
ZLIB_SUFFIX = b"\x00\x00\xff\xff"


class RawGateway:
    """A bare gateway client: enough to see exactly what the stand-in sends."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, compressed: bool) -> None:
        self.ws = ws
        self.inflate = zlib.decompressobj() if compressed else None
        self.frame_kinds: list[aiohttp.WSMsgType] = []

    async def receive(self) -> dict[str, Any]:
        message = await self.ws.receive(timeout=2)
        self.frame_kinds.append(message.type)
        if message.type is aiohttp.WSMsgType.BINARY:
            assert self.inflate is not None and message.data.endswith(ZLIB_SUFFIX)
            return json.loads(self.inflate.decompress(message.data))
        if message.type is aiohttp.WSMsgType.TEXT:
            return json.loads(message.data)
        raise ConnectionError(f"gateway closed: {message.type} {self.ws.close_code}")

    async def send(self, op: int, d: Any) -> None:
        await self.ws.send_str(json.dumps({"op": op, "d": d}))

    async def identify(self, token: str, intents: int) -> list[dict[str, Any]]:
        """IDENTIFY and return the READY and GUILD_CREATE dispatches."""
        await self.send(2, {"token": token, "intents": intents, "properties": {}})
        return [await self.receive(), await self.receive()]


@pytest.fixture
async def connect(standin: DiscordStandin) -> AsyncIterator[Any]:
    session = aiohttp.ClientSession(connector=standin.connector())

    async def open_gateway(query: str = "?v=10&encoding=json&compress=zlib-stream") -> RawGateway:
        ws = await session.ws_connect("wss://gateway.discord.gg/" + query)
        return RawGateway(ws, compressed="zlib-stream" in query)

    yield open_gateway
    await session.close()


async def test_handshake_hello_heartbeat_ready_guild_create(standin: DiscordStandin, connect) -> None:
    gateway = await connect()
    hello = await gateway.receive()
    assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0 and hello["s"] is None
    await gateway.send(1, None)
    assert (await gateway.receive())["op"] == 11
    ready, guild_create = await gateway.identify(standin.token, GUILDS | GUILD_MESSAGES)
    assert (ready["t"], ready["s"]) == ("READY", 1)
    assert ready["d"]["session_id"] and ready["d"]["resume_gateway_url"] == "wss://gateway.discord.gg"
    assert ready["d"]["guilds"] == [{"id": str(standin.guild.id), "unavailable": True}]
    assert (guild_create["t"], guild_create["s"]) == ("GUILD_CREATE", 2)
    assert set(gateway.frame_kinds) == {aiohttp.WSMsgType.BINARY}, "zlib-stream was asked for"
    assert standin.gateway.connect_queries[0] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}


async def test_without_compression_frames_are_plain_text(standin: DiscordStandin, connect) -> None:
    gateway = await connect("?v=10&encoding=json")
    await gateway.receive()
    await gateway.identify(standin.token, GUILDS)
    assert set(gateway.frame_kinds) == {aiohttp.WSMsgType.TEXT}


async def test_bad_token_closes_with_4004(standin: DiscordStandin, connect) -> None:
    gateway = await connect()
    await gateway.receive()
    await gateway.send(2, {"token": "wrong", "intents": GUILDS, "properties": {}})
    with pytest.raises(ConnectionError):
        await gateway.receive()
    assert gateway.ws.close_code == 4004


async def test_unapproved_privileged_intent_closes_with_4014(standin: DiscordStandin, connect) -> None:
    standin.approved_intents = GUILD_MEMBERS
    gateway = await connect()
    await gateway.receive()
    await gateway.send(2, {"token": standin.token, "intents": GUILDS | MESSAGE_CONTENT, "properties": {}})
    with pytest.raises(ConnectionError):
        await gateway.receive()
    assert gateway.ws.close_code == 4014


async def test_message_content_is_blanked_without_the_intent_except_mentions_and_dms(
    standin: DiscordStandin, connect
) -> None:
    gateway = await connect()
    await gateway.receive()
    await gateway.identify(standin.token, GUILDS | GUILD_MESSAGES | DIRECT_MESSAGES)
    await standin.send_message(standin.general.id, standin.alice, "secret")
    await standin.send_message(standin.general.id, standin.alice, f"hey <@{standin.world.bot.id}>")
    await standin.send_message(standin.dm_channel(standin.alice).id, standin.alice, "in a dm")
    contents = [(await gateway.receive())["d"]["content"] for _ in range(3)]
    assert contents == ["", f"hey <@{standin.world.bot.id}>", "in a dm"]


async def test_events_need_their_intent(standin: DiscordStandin, connect) -> None:
    gateway = await connect()
    await gateway.receive()
    await gateway.identify(standin.token, GUILDS | DIRECT_MESSAGES | MESSAGE_CONTENT)
    await standin.send_message(standin.general.id, standin.alice, "guild message: filtered out")
    await standin.send_message(standin.dm_channel(standin.alice).id, standin.alice, "dm: delivered")
    event = await gateway.receive()
    assert (event["t"], event["d"]["content"], event["s"]) == ("MESSAGE_CREATE", "dm: delivered", 3)


async def test_resume_replays_what_the_bot_missed_then_sends_resumed(standin: DiscordStandin, connect) -> None:
    first = await connect()
    await first.receive()
    ready, _ = await first.identify(standin.token, GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT)
    await standin.drop_gateway()
    await standin.send_message(standin.general.id, standin.alice, "while you were away")
    second = await connect()
    await second.receive()
    await second.send(6, {"token": standin.token, "session_id": ready["d"]["session_id"], "seq": 2})
    replayed, resumed = await second.receive(), await second.receive()
    assert (replayed["t"], replayed["s"], replayed["d"]["content"]) == ("MESSAGE_CREATE", 3, "while you were away")
    assert (resumed["t"], resumed["s"]) == ("RESUMED", 4)


async def test_resuming_an_unknown_session_is_invalid_session(standin: DiscordStandin, connect) -> None:
    gateway = await connect()
    await gateway.receive()
    await gateway.send(6, {"token": standin.token, "session_id": "nope", "seq": 5})
    assert await gateway.receive() == {"op": 9, "d": False, "s": None, "t": None}


async def test_request_guild_members_gets_a_chunk(standin: DiscordStandin, connect) -> None:
    gateway = await connect()
    await gateway.receive()
    await gateway.identify(standin.token, GUILDS | GUILD_MEMBERS)
    await gateway.send(
        8, {"guild_id": str(standin.guild.id), "limit": 0, "nonce": "n1", "user_ids": [str(standin.bob.id)]}
    )
    chunk = await gateway.receive()
    assert chunk["t"] == "GUILD_MEMBERS_CHUNK" and chunk["d"]["nonce"] == "n1"
    assert [m["user"]["username"] for m in chunk["d"]["members"]] == ["bob"]


async def test_sequence_numbers_rise_by_one_per_dispatch_only(standin: DiscordStandin, connect) -> None:
    gateway = await connect()
    await gateway.receive()
    await gateway.identify(standin.token, GUILDS | GUILD_MESSAGES)
    await gateway.send(1, 2)
    assert (await gateway.receive())["op"] == 11
    await standin.typing_start(standin.general.id, standin.alice)  # needs GUILD_MESSAGE_TYPING: not sent
    await standin.send_message(standin.general.id, standin.alice, "hi")
    assert (await gateway.receive())["s"] == 3
    out = [(f.op, f.s) for f in standin.gateway_log if f.direction == "out"]
    assert out == [(10, None), (0, 1), (0, 2), (11, None), (0, 3)]
