"""Server-sent events, as OpenAI-compatible servers stream them: the ``data:`` payloads, up to ``[DONE]``."""

from __future__ import annotations

from collections.abc import AsyncIterator

DONE = "[DONE]"


async def sse_data(lines: AsyncIterator[str]) -> AsyncIterator[str]:
    """Each event's data (its ``data:`` lines joined by newlines); ends at ``[DONE]`` or when the lines end.

    Comments (``: ping``), ``event:``/``id:``/``retry:`` fields and blank keep-alive events are skipped.
    """
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if line:
            if line.startswith("data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(" ") else value)
            continue
        payload, data = "\n".join(data), []  # a blank line ends the event
        if payload == DONE:
            return
        if payload:
            yield payload
    if data and (payload := "\n".join(data)) != DONE:  # a last event without its blank line
        yield payload
