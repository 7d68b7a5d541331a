"""The stand-in's REST surface at the HTTP level: transport details, validation, rate limits, knobs."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.standin import BucketRule, DiscordStandin, RateLimitPolicy

API = "https://discord.com/api/v10"
RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Reset-After")


@pytest.fixture
async def http(standin: DiscordStandin) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bot {standin.token}"}
    async with aiohttp.ClientSession(connector=standin.connector(), headers=headers) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
    async with http.request(method, API + path, **kwargs) as response:
        text = await response.text()
        body = json.loads(text) if response.headers.get("content-type") == "application/json" else text
        return response.status, body, response.headers


def multipart(payload: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> aiohttp.FormData:
    """The form discord.py builds: payload_json plus literal files[n] parts, all octet-stream."""
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", json.dumps(payload), content_type="application/json")
    for field, (filename, data) in files.items():
        form.add_field(field, data, filename=filename, content_type="application/octet-stream")
    return form


async def test_json_content_type_is_exactly_application_json(standin: DiscordStandin, http) -> None:
    status, body, headers = await call(http, "GET", "/users/@me")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert body["id"] == str(standin.world.bot.id) and body["bot"] is True


async def test_every_response_carries_rate_limit_headers_and_204s_have_no_body(standin: DiscordStandin, http) -> None:
    for method, path, expected in [
        ("GET", "/oauth2/applications/@me", 200),
        ("POST", f"/channels/{standin.general.id}/typing", 204),
        ("GET", f"/channels/{standin.general.id}/messages/1", 404),
    ]:
        status, body, headers = await call(http, method, path)
        assert status == expected, (method, path, body)
        missing = [h for h in (*RATE_LIMIT_HEADERS, "X-RateLimit-Bucket") if h not in headers]
        assert not missing, f"{method} {path} lacks {missing}"
        if status == 204:
            assert body == ""


async def test_a_wrong_token_is_refused_with_401(standin: DiscordStandin) -> None:
    async with aiohttp.ClientSession(connector=standin.connector()) as http:
        status, body, _ = await call(http, "GET", "/users/@me", headers={"Authorization": "Bot nope"})
    assert status == 401 and body["message"] == "401: Unauthorized"


async def test_unknown_route_is_a_404_the_test_can_see(standin: DiscordStandin, http) -> None:
    status, _, _ = await call(http, "GET", "/guilds/1/audit-logs")
    assert status == 404
    assert [(r.method, r.path) for r in standin.unknown_requests] == [("GET", "/guilds/1/audit-logs")]
    standin.unknown_requests.clear()  # the fixture fails tests that leave unknown routes behind


async def test_creates_beyond_the_channel_bucket_get_a_discord_shaped_429(standin: DiscordStandin, http) -> None:
    standin.set_rate_limits(RateLimitPolicy(message_create=BucketRule(2, 5.0)))
    path = f"/channels/{standin.general.id}/messages"
    remaining = []
    for text in ("one", "two"):
        status, _, headers = await call(http, "POST", path, json={"content": text})
        assert status == 200
        remaining.append(headers["X-RateLimit-Remaining"])
    status, body, headers = await call(http, "POST", path, json={"content": "three"})
    assert remaining == ["1", "0"]
    assert status == 429 and headers["Via"] and headers["X-RateLimit-Scope"] == "user"
    assert body["global"] is False and 0 < body["retry_after"] <= 5.0
    assert [r.json["content"] for r in standin.ratelimited] == ["three"]
    other_channel = await call(http, "POST", f"/channels/{standin.random.id}/messages", json={"content": "x"})
    assert other_channel[0] == 200, "buckets are per channel"


async def test_disabled_rate_limits_never_answer_429(standin: DiscordStandin, http) -> None:
    standin.set_rate_limits(RateLimitPolicy.disabled())
    for n in range(12):
        status, _, _ = await call(http, "POST", f"/channels/{standin.general.id}/messages", json={"content": str(n)})
        assert status == 200
    assert standin.ratelimited == []


async def test_content_over_2000_characters_is_invalid_form_body(standin: DiscordStandin, http) -> None:
    path = f"/channels/{standin.general.id}/messages"
    assert (await call(http, "POST", path, json={"content": "x" * 2000}))[0] == 200
    status, body, _ = await call(http, "POST", path, json={"content": "x" * 2001})
    assert status == 400 and body["code"] == 50035
    assert body["errors"]["content"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    status, body, _ = await call(http, "POST", path, json={"content": ""})
    assert (status, body["code"]) == (400, 50006)


async def test_file_count_and_size_limits(standin: DiscordStandin, http) -> None:
    path = f"/channels/{standin.general.id}/messages"
    eleven = {f"files[{n}]": (f"{n}.txt", b"x") for n in range(11)}
    status, body, _ = await call(http, "POST", path, data=multipart({"content": "many"}, eleven))
    assert (status, body["code"]) == (400, 50035)
    standin.upload_limit = 1024
    status, body, _ = await call(http, "POST", path, data=multipart({}, {"files[0]": ("big.bin", b"x" * 1025)}))
    assert (status, body["code"]) == (413, 40005)


async def test_multipart_upload_infers_content_type_and_is_served_by_the_cdn(standin: DiscordStandin, http) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
    form = multipart(
        {"content": "plot", "attachments": [{"id": 0, "filename": "plot.svg"}]}, {"files[0]": ("plot.svg", svg)}
    )
    status, body, _ = await call(http, "POST", f"/channels/{standin.general.id}/messages", data=form)
    assert status == 200
    (attachment,) = body["attachments"]
    assert attachment["content_type"] == "image/svg+xml" and attachment["size"] == len(svg)
    async with http.get(attachment["url"]) as response:
        assert response.status == 200 and await response.read() == svg
    assert standin.bot_messages(standin.general.id)[0].attachments[0].data == svg


async def test_edits_keep_history_and_respect_authorship(standin: DiscordStandin, http) -> None:
    channel = standin.general.id
    _, created, _ = await call(http, "POST", f"/channels/{channel}/messages", json={"content": "draft"})
    status, edited, _ = await call(
        http, "PATCH", f"/channels/{channel}/messages/{created['id']}", json={"content": "final"}
    )
    assert status == 200 and edited["content"] == "final" and edited["edited_timestamp"]
    (message,) = standin.bot_messages(channel)
    assert [r.content for r in message.history] == ["draft", "final"] and len(message.edits) == 1
    assert message.history[0].at <= message.edits[0].at
    theirs = standin.world.create_message(channel, standin.alice.id, "mine", now=standin.clock())
    status, body, _ = await call(http, "PATCH", f"/channels/{channel}/messages/{theirs.id}", json={"content": "hijack"})
    assert (status, body["code"]) == (403, 50005)
    status, body, _ = await call(http, "PATCH", f"/channels/{channel}/messages/123", json={"content": "?"})
    assert (status, body["code"]) == (404, 10008)


async def test_history_is_newest_first_for_before_after_and_default(standin: DiscordStandin, http) -> None:
    channel = standin.general.id
    ids = [standin.world.create_message(channel, standin.alice.id, str(n), now=standin.clock()).id for n in range(5)]
    _, newest, _ = await call(http, "GET", f"/channels/{channel}/messages", params={"limit": "2"})
    assert [m["content"] for m in newest] == ["4", "3"]
    _, before, _ = await call(
        http, "GET", f"/channels/{channel}/messages", params={"before": str(ids[3]), "limit": "2"}
    )
    assert [m["content"] for m in before] == ["2", "1"]
    _, after, _ = await call(http, "GET", f"/channels/{channel}/messages", params={"after": str(ids[0]), "limit": "2"})
    assert [m["content"] for m in after] == ["2", "1"]


async def test_reaction_emoji_in_the_path_is_url_decoded(standin: DiscordStandin, http) -> None:
    message = standin.world.create_message(standin.general.id, standin.alice.id, "hi", now=standin.clock())
    path = f"/channels/{standin.general.id}/messages/{message.id}/reactions"
    status, _, _ = await call(http, "PUT", f"{path}/%E2%9C%85/@me")
    assert status == 204 and message.reactions == {"✅": {standin.world.bot.id}}
    status, body, _ = await call(http, "PUT", f"{path}/custom:123/@me")
    assert (status, body["code"]) == (400, 10014)
    assert (await call(http, "DELETE", f"{path}/%E2%9C%85/@me"))[0] == 204 and message.reactions == {}


async def test_interaction_routes_work_without_authorization(standin: DiscordStandin) -> None:
    interaction = standin.world.create_interaction(standin.general.id, standin.alice.id, "sel", [], now=standin.clock())
    callback = f"/interactions/{interaction.id}/{interaction.token}/callback"
    webhook = f"/webhooks/{standin.world.application_id}/{interaction.token}"
    async with aiohttp.ClientSession(connector=standin.connector()) as http:
        status, body, _ = await call(
            http, "POST", callback, params={"with_response": "1"}, json={"type": 4, "data": {"content": "hello"}}
        )
        assert status == 200
        assert body["resource"]["type"] == 4 and body["resource"]["message"]["content"] == "hello"
        assert body["interaction"]["response_message_id"] == str(interaction.original_message_id)
        status, body, _ = await call(http, "POST", callback, json={"type": 4, "data": {"content": "again"}})
        assert (status, body["code"]) == (400, 40060)
        status, body, _ = await call(http, "PATCH", f"{webhook}/messages/@original", json={"content": "edited"})
        assert status == 200 and body["content"] == "edited"
        status, body, _ = await call(http, "POST", webhook, params={"wait": "1"}, json={"content": "more"})
        assert status == 200 and body["webhook_id"] == str(standin.world.application_id)
    sent = [(r.method, r.authorized) for r in standin.requests]
    assert sent == [("POST", False), ("POST", False), ("PATCH", False), ("POST", False)], sent
    assert [m.content for m in standin.bot_messages(standin.general.id)] == ["edited", "more"]


async def test_an_interaction_answered_after_three_seconds_is_unknown(standin: DiscordStandin, http) -> None:
    interaction = standin.world.create_interaction(
        standin.general.id, standin.alice.id, "sel", [], now=standin.clock() - 4
    )
    path = f"/interactions/{interaction.id}/{interaction.token}/callback"
    status, body, _ = await call(http, "POST", path, json={"type": 5})
    assert (status, body["code"]) == (404, 10062)


async def test_deferred_response_is_a_loading_message_until_the_original_is_edited(
    standin: DiscordStandin, http
) -> None:
    interaction = standin.world.create_interaction(standin.general.id, standin.alice.id, "sel", [], now=standin.clock())
    path = f"/interactions/{interaction.id}/{interaction.token}/callback"
    status, body, _ = await call(http, "POST", path, params={"with_response": "1"}, json={"type": 5})
    assert status == 200 and body["interaction"]["response_message_loading"] is True
    assert standin.interaction_response(interaction) is None, "a thinking placeholder is not an answer yet"
    original = f"/webhooks/{standin.world.application_id}/{interaction.token}/messages/@original"
    _, body, _ = await call(http, "PATCH", original, json={"content": "done thinking"})
    assert body["flags"] & 128 == 0 and body["content"] == "done thinking"
    assert standin.interaction_response(interaction).content == "done thinking"


async def test_injected_errors_hit_only_matching_requests_and_run_out(standin: DiscordStandin, http) -> None:
    standin.inject_error("POST", "/channels/*/messages", 500, 0, times=1)
    standin.inject_error("*", "/users/@me", 429, retry_after=0.2, is_global=True)
    assert (await call(http, "GET", f"/channels/{standin.general.id}"))[0] == 200
    assert (await call(http, "POST", f"/channels/{standin.general.id}/messages", json={"content": "a"}))[0] == 500
    assert (await call(http, "POST", f"/channels/{standin.general.id}/messages", json={"content": "b"}))[0] == 200
    status, body, headers = await call(http, "GET", "/users/@me")
    assert status == 429 and body == {"message": "You are being rate limited.", "retry_after": 0.2, "global": True}
    assert headers["X-RateLimit-Global"] == "true" and headers["Via"]


async def test_dm_open_and_command_sync(standin: DiscordStandin, http) -> None:
    status, dm, _ = await call(http, "POST", "/users/@me/channels", json={"recipient_id": str(standin.bob.id)})
    assert status == 200 and dm["type"] == 1 and dm["recipients"][0]["id"] == str(standin.bob.id)
    path = f"/applications/{standin.world.application_id}/commands"
    command = {"name": "sel", "description": "SEL", "type": 1}
    _, first, _ = await call(http, "PUT", path, json=[command])
    _, second, _ = await call(http, "PUT", path, json=[command])
    assert first[0]["id"] == second[0]["id"] and first[0]["version"] != second[0]["version"]
    _, listed, _ = await call(http, "GET", path)
    assert [c["name"] for c in listed] == ["sel"]
    status, body, _ = await call(http, "PUT", path, json=[{"name": "Bad Name", "description": "x"}])
    assert (status, body["code"]) == (400, 50035)


async def test_idle_waits_for_a_quiet_spell_and_wait_for_timeouts_explain_themselves(
    standin: DiscordStandin, http
) -> None:
    loop = asyncio.get_running_loop()
    await call(http, "POST", f"/channels/{standin.general.id}/typing")
    started = loop.time()
    await standin.idle(100)
    assert 0.1 <= loop.time() - started < 1.0
    with pytest.raises(AssertionError, match="waiting for a miracle") as raised:
        await standin.wait_for(lambda: False, timeout=0.05, what="a miracle")
    assert f"POST /channels/{standin.general.id}/typing -> 204" in str(raised.value)


async def test_upload_names_are_sanitised_like_discord_does(standin: DiscordStandin, http) -> None:
    form = multipart({}, {"files[0]": ("my plot (v2).svg", b"<svg/>")})
    _, body, _ = await call(http, "POST", f"/channels/{standin.general.id}/messages", data=form)
    assert body["attachments"][0]["filename"] == "my_plot__v2_.svg"


async def test_requests_to_matches_api_paths_with_or_without_the_version_prefix(standin: DiscordStandin, http) -> None:
    await call(http, "POST", f"/channels/{standin.general.id}/typing")
    assert standin.requests_to("POST", f"/channels/{standin.general.id}/typing")
    assert standin.requests_to("POST", f"/api/v10/channels/{standin.general.id}/typing")
    assert not standin.requests_to("POST", f"/api/v10/channels/{standin.random.id}/typing")
