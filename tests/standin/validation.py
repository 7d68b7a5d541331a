"""Discord's request validation and its JSON error codes, as the stand-in enforces them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_CONTENT = 2000
MAX_FILES = 10
MAX_EMBEDS = 10
MAX_EMBED_DESCRIPTION = 4096
MAX_EMBED_TOTAL = 6000
COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")

UNKNOWN_CHANNEL = 10003
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_EMOJI = 10014
UNKNOWN_WEBHOOK = 10015
UNKNOWN_USER = 10013
UNKNOWN_INTERACTION = 10062
REQUEST_TOO_LARGE = 40005
ALREADY_ACKNOWLEDGED = 40060
NOT_AUTHOR = 50005
EMPTY_MESSAGE = 50006
CANNOT_DM = 50007
DM_ACTION = 50003
MISSING_PERMISSIONS = 50013
INVALID_FORM_BODY = 50035


@dataclass
class ApiError(Exception):
    """A Discord JSON error: HTTP status, Discord error code, message and optional field errors."""

    status: int
    code: int
    message: str
    errors: dict[str, Any] | None = None


@dataclass(frozen=True)
class UploadedFile:
    """One `files[n]` part of a multipart request."""

    field: str
    filename: str
    data: bytes

    @property
    def index(self) -> int | None:
        match = re.fullmatch(r"files\[(\d+)\]", self.field)
        return int(match.group(1)) if match else None


def field_error(path: list[str | int], code: str, message: str) -> ApiError:
    """A 50035 Invalid Form Body naming the offending field, nested the way Discord nests it."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for key in reversed(path):
        errors = {str(key): errors}
    return ApiError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def check_message_body(payload: dict[str, Any], files: list[UploadedFile], *, upload_limit: int) -> None:
    """Reject what Discord rejects in a message create or edit body (emptiness is checked by the caller)."""
    content = payload.get("content")
    if content is not None and len(str(content)) > MAX_CONTENT:
        raise field_error(["content"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    if len(files) > MAX_FILES:
        raise field_error(["files"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
    for upload in files:
        if len(upload.data) > upload_limit:
            raise ApiError(413, REQUEST_TOO_LARGE, "Request entity too large")
    check_embeds(payload.get("embeds") or [])


def check_embeds(embeds: list[dict[str, Any]]) -> None:
    if len(embeds) > MAX_EMBEDS:
        raise field_error(["embeds"], "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for index, embed in enumerate(embeds):
        description = embed.get("description") or ""
        if len(description) > MAX_EMBED_DESCRIPTION:
            raise field_error(
                ["embeds", index, "description"],
                "BASE_TYPE_MAX_LENGTH",
                f"Must be {MAX_EMBED_DESCRIPTION} or fewer in length.",
            )
        total += len(description) + len(embed.get("title") or "")
        total += sum(len(f.get("name", "")) + len(f.get("value", "")) for f in embed.get("fields") or [])
        total += len((embed.get("footer") or {}).get("text", "")) + len((embed.get("author") or {}).get("name", ""))
    if total > MAX_EMBED_TOTAL:
        raise field_error(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def check_not_empty(content: str, attachment_count: int, embeds: list[dict[str, Any]]) -> None:
    if not content and not attachment_count and not embeds:
        raise ApiError(400, EMPTY_MESSAGE, "Cannot send an empty message")


def check_commands(payloads: Any) -> None:
    if not isinstance(payloads, list):
        raise field_error([], "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType.")
    for index, command in enumerate(payloads):
        name = str(command.get("name", ""))
        if not COMMAND_NAME.match(name) or name != name.lower():
            raise field_error([index, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        if command.get("type", 1) == 1 and not 1 <= len(command.get("description", "")) <= 100:
            raise field_error([index, "description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
