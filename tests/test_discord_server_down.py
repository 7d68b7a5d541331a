"""A model server that dies in the middle of a reply, on Discord: a real llama-cpp-python server on loopback
(behind a loopback proxy that holds the answer at the chosen moment), the real discord.py and the stand-in.

The person is told kindly, in one line without a URL or a traceback; the owner's log has the details;
once the server is back on its port, the next message is answered as usual, with no restart of SEL.
"""

from __future__ import annotations

import asyncio
import logging

from sel.frontends.discord.responder import SERVER_DOWN
from sel.frontends.discord.stream import MARKER
from tests.discord_fixtures import mention, replies_in
from tests.fault_proxy import FaultProxy
from tests.model_server import API_KEY, ModelServer, own_server  # noqa: F401


async def test_a_server_killed_mid_reply_is_told_kindly_and_sel_answers_again_once_it_is_back(
    sel_env,
    standin,
    own_server: ModelServer,  # noqa: F811
    caplog,
) -> None:
    proxy = FaultProxy(own_server.port)
    await proxy.start()
    try:
        env = {"SEL_GENERAL_URL": proxy.url, "SEL_GENERAL_MODEL": "tiny-chat", "SEL_API_KEY": API_KEY}
        bot = await sel_env(SEL_MAX_NEW_TOKENS="200", **env)
        channel = standin.general.id
        await standin.send_message(channel, standin.alice, f"{mention(bot)} hi, how are you today?")
        await replies_in(standin, channel, timeout=60)

        proxy.hold_after(3)  # the next answer stops after its first events, as if the server froze
        await standin.send_message(channel, standin.alice, f"{mention(bot)} tell me about your day please")
        await standin.wait_for(proxy.holding.is_set, 60, what="the server to start answering")
        own_server.kill()
        proxy.cut()  # what was still in flight dies with the server
        told = await standin.wait_for(
            lambda: [m for m in standin.bot_messages(channel) if m.content == SERVER_DOWN], 60, what="SEL to say so"
        )
        assert told[0].reply_to is not None, "the person who asked is answered"
        said = [m.content for m in standin.bot_messages(channel)]
        assert not [s for s in said if "127.0.0.1" in s or "Traceback" in s or "SEL_GENERAL_URL" in s], said
        assert not [s for s in said if s.endswith(MARKER.strip())], f"a cut reply kept its in-progress marker: {said}"
        assert any(proxy.url in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR), (
            "the owner's log must name the server that failed"
        )

        proxy.stop_holding()
        await asyncio.to_thread(own_server.start)  # back on the same port
        before = len(standin.bot_messages(channel))
        await standin.send_message(channel, standin.alice, f"{mention(bot)} are you back?")
        await replies_in(standin, channel, count=before + 1, timeout=60)
        answer = standin.bot_messages(channel)[-1].content
        assert answer.strip() and answer != SERVER_DOWN, f"SEL did not recover by itself: {answer!r}"
    finally:
        await proxy.close()
