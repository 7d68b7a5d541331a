"""A Discord message as SEL reads it: readable text, the brain's IncomingMessage and a history Entry."""

from __future__ import annotations

import dataclasses
import re

import discord

from sel.domain import AttachmentInfo, IncomingMessage
from sel.frontends.discord.attachments import AttachmentText
from sel.frontends.discord.history import Entry
from sel.frontends.discord.reasoning import is_reasoning_post
from sel.owner_settings import DEFAULT_NAME

BARE_MENTION = "(mentions SEL without saying anything else)"


def clean_text(message: discord.Message, me: discord.ClientUser, name: str = DEFAULT_NAME) -> str:
    """Message text with SEL's mention turned into ``name`` (sel.toml's) and other user mentions readable."""
    # "@SEL my turtle is called Shelly": the leading mention only addresses SEL
    text = re.sub(rf"^\s*<@!?{me.id}>[\s,:]*", "", message.content)
    text = re.sub(rf"<@!?{me.id}>", lambda _: name, text)  # a function: the name is text, not a pattern
    for user in message.mentions:
        if user.id != me.id:
            text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
    return text.strip()


def entry_of(message: discord.Message, me: discord.ClientUser, name: str = DEFAULT_NAME) -> Entry:
    """``message`` as a line of SEL's conversation history (SEL's reasoning posts have no text: prompts skip them)."""
    reference = message.reference.message_id if message.reference is not None else None
    from_sel = message.author.id == me.id
    text = "" if is_reasoning_post(message.content, from_sel) else clean_text(message, me, name)
    return Entry(message.id, message.author.id, message.author.display_name, text, from_sel, reference)


def incoming_of(
    message: discord.Message, me: discord.ClientUser, *, reply_to_sel: bool, name: str = DEFAULT_NAME
) -> IncomingMessage:
    """What the brain decides on: the text as posted and the attachments' names, types and sizes."""
    text = clean_text(message, me, name)
    mentioned = me in message.mentions
    if not text and mentioned:
        text = BARE_MENTION  # "@SEL" alone (or with only files) still deserves an answer
    return IncomingMessage(
        author_id=str(message.author.id),
        author_name=message.author.display_name,
        channel_id=str(message.channel.id),
        text=text,
        attachments=tuple(AttachmentInfo(a.filename, a.content_type or "", a.size) for a in message.attachments),
        mentioned=mentioned,
        is_dm=message.guild is None,
        reply_to_sel=reply_to_sel,
        created_at=message.created_at.timestamp(),
        guild_id=str(message.guild.id) if message.guild is not None else "",
    )


def own_words(incoming: IncomingMessage) -> str:
    """What the person typed: empty for a bare mention."""
    return "" if incoming.text == BARE_MENTION else incoming.text


def with_attachments(incoming: IncomingMessage, read: AttachmentText, images: tuple[str, ...]) -> IncomingMessage:
    """``incoming`` with what its attachments said: heard speech, then the typed words, then files."""
    text = "\n".join(t for t in (read.heard, own_words(incoming), read.files) if t)
    return dataclasses.replace(incoming, text=text, images=images)


def shown_above(read: AttachmentText) -> str:
    """Small print above the reply: what SEL heard in a voice message, and files it skipped."""
    return (f"-# heard: “{read.heard}”\n" if read.heard else "") + (f"-# {read.note}\n" if read.note else "")
