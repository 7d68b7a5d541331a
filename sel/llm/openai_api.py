"""The OpenAI-compatible wire format: request bodies from a PromptPlan, and streamed chunks back into
reply text and :class:`~sel.domain.Thought` items.

Two endpoints, chosen per slot (``SEL_*_API``):

- ``/chat/completions`` (default): the plan as chat messages (sel.llm.prompt.chat_messages: persona
  first, the conversation, the late note last), so the server applies the model's own template;
  pictures travel as ``image_url`` content parts.
- ``/completions``: SEL's multi-user transcript (``name: text`` lines ending in ``SEL:``) with its
  stop strings, for base models without a chat template.

Fields only llama.cpp's server knows (``cache_prompt``, ``repeat_penalty``) are sent only to a
server that said it is llama.cpp, so vLLM, Ollama or a hosted API never see an unknown field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sel.config import LlmSettings, RemoteSlot
from sel.domain import GenerationStats, PromptPlan, Thought
from sel.errors import ModelError
from sel.llm.prompt import TranscriptFormat, chat_messages
from sel.llm.reasoning import ThinkSplitter
from sel.undecodable import replace_undecodable

CHARS_PER_TOKEN = 3  # a cautious guess without the server's tokenizer: English runs nearer 4
Piece = str | Thought


@dataclass(frozen=True)
class ServerRequest:
    """One generation request: the endpoint below the base URL and the JSON body, as UTF-8 bytes."""

    path: str
    body: bytes


def estimate_tokens(plan: PromptPlan) -> int:
    """Roughly how many tokens ``plan`` takes (the transcript's length in characters / CHARS_PER_TOKEN)."""
    return len(TranscriptFormat().render(plan).text) // CHARS_PER_TOKEN


def build_request(
    remote: RemoteSlot, plan: PromptPlan, settings: LlmSettings, *, api: str, max_tokens: int, llama_cpp: bool
) -> ServerRequest:
    """The request for ``plan`` on ``api`` ("chat" or "completions")."""
    sampling = plan.sampling.over(  # the owner's sampling for the reply's mode (sel.toml) over .env's
        temperature=settings.temperature, top_p=settings.top_p, repeat_penalty=settings.repeat_penalty
    )
    body: dict[str, Any] = {
        "model": remote.model,
        "max_tokens": max_tokens,
        "temperature": sampling["temperature"],
        "top_p": sampling["top_p"],
        "stream": True,
        "stream_options": {"include_usage": True},  # token counts in the last chunk, where supported
    }
    if settings.seed >= 0:
        body["seed"] = settings.seed
    if llama_cpp:  # keep the conversation's prefix in the server's KV cache; llama.cpp's own penalty name
        body.update(cache_prompt=True, repeat_penalty=sampling["repeat_penalty"])
    if api == "chat":
        body["messages"] = chat_messages(plan)
        path = "/chat/completions"
    else:
        if plan.images:
            raise ModelError(
                f"SEL_{remote.slot.upper()}_API=completions cannot send pictures; set it to chat for a vision model"
            )
        rendered = TranscriptFormat().render(plan)
        body.update(prompt=rendered.text, stop=list(rendered.stop))
        path = "/completions"
    # A lone surrogate (an undecodable byte in a message) cannot be encoded as UTF-8: show it as U+FFFD.
    return ServerRequest(path, replace_undecodable(json.dumps(body, ensure_ascii=False)).encode("utf-8"))


@dataclass
class ChunkDecoder:
    """Turns one stream's decoded JSON chunks into pieces, filling ``stats`` as it goes.

    Reasoning sent apart (``delta.reasoning_content`` or ``delta.reasoning``) is collected into one
    Thought, handed out when the answer starts; ``<think>`` blocks inside the text go through a
    :class:`ThinkSplitter`. ``now`` is a monotonic time the caller passes, so no clock lives here.
    """

    stats: GenerationStats
    started: float
    hold_start: bool = False
    splitter: ThinkSplitter = field(init=False)
    leading: bool = True  # the transcript's "SEL:" is followed by a space the reader does not need
    _reasoning: list[str] = field(default_factory=list)
    _first_at: float | None = None

    def __post_init__(self) -> None:
        self.splitter = ThinkSplitter(hold_start=self.hold_start)

    @property
    def received(self) -> bool:
        """Whether the server has sent any generated text yet (after that, a request is never retried)."""
        return self._first_at is not None

    def feed(self, chunk: dict[str, Any], now: float) -> list[Piece]:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.stats.prompt_tokens = int(usage.get("prompt_tokens") or self.stats.prompt_tokens)
            self.stats.completion_tokens = int(usage.get("completion_tokens") or self.stats.completion_tokens)
        choices = chunk.get("choices") or []
        if not choices or not isinstance(choices[0], dict):
            return []
        choice = choices[0]
        if isinstance(choice.get("finish_reason"), str):
            self.stats.finish_reason = choice["finish_reason"]
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            delta = {}
        reasoning = delta.get("reasoning_content") or delta.get("reasoning") or ""
        text = delta.get("content") or choice.get("text") or ""
        if not isinstance(reasoning, str) or not isinstance(text, str) or not (reasoning or text):
            return []
        self._count(now)
        if reasoning:
            self._reasoning.append(reasoning)
            return []
        if self.leading:
            text = text.lstrip()
            self.leading = not text
        return self._thought() + self.splitter.feed(text)

    def finish(self, now: float) -> list[Piece]:
        if self._first_at is not None:
            self.stats.decode_seconds = now - self._first_at
        return self._thought() + self.splitter.finish()

    def _count(self, now: float) -> None:
        if self._first_at is None:
            self._first_at = now
            self.stats.time_to_first_token = now - self.started
        self.stats.completion_tokens += 1  # overwritten by the server's usage figures when it sends them

    def _thought(self) -> list[Piece]:
        text, self._reasoning = "".join(self._reasoning).strip(), []
        return [Thought(text)] if text else []
