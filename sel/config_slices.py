"""The parts of the settings each layer takes (``settings.llm``, ``.memory``, ``.voice``, ``.discord``)
and the choices their fields allow."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

QUANTS = {"none": None, "f16": None, "4bit": "q4_0", "8bit": "q8_0"}
SLOTS = ("general", "coder", "vision")
APIS = ("chat", "completions")
REASONING_VIEWS = ("hide", "spoiler")


@dataclass(frozen=True)
class RemoteSlot:
    """A slot served by an OpenAI-compatible server: its base URL (ending in /v1) and the model's name there.

    ``api`` is the endpoint SEL prompts through: ``chat`` (/chat/completions, the server applies the
    model's chat template) or ``completions`` (/completions with SEL's transcript prompt, for base models).
    """

    slot: str
    base_url: str
    model: str
    api_key: str | None = field(repr=False)
    api: str = "chat"


@dataclass(frozen=True)
class LlmSettings:
    """What the llama.cpp engine needs: model slots, context, threads, sampling, KV cache."""

    general_model: Path
    coder_model: Path
    vision_model: Path | None
    vision_mmproj: Path | None
    quant: str
    single_backend: bool
    max_new_tokens: int
    compile: bool
    gpu_layers: int | None
    ctx: int
    threads: int
    temperature: float
    top_p: float
    repeat_penalty: float
    seed: int
    kv_cache_mb: int
    remote: tuple[RemoteSlot, ...] = ()
    max_parallel: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    show_reasoning: str = "hide"

    @property
    def kv_cache_type(self) -> str | None:
        """llama.cpp KV-cache type for SEL_QUANT (None keeps llama.cpp's f16 default)."""
        return QUANTS[self.quant]

    @property
    def flash_attn(self) -> bool:
        """SEL_COMPILE maps to flash attention; quantized V caches need it too."""
        return self.compile or self.kv_cache_type is not None

    def remote_slots(self) -> dict[str, RemoteSlot]:
        """The slots served by a model server (SEL_*_URL set), by slot name; the others are local GGUFs."""
        return {r.slot: r for r in self.remote}

    @property
    def has_vision(self) -> bool:
        """A vision model is configured: a server for the vision slot, or a local GGUF with its projector."""
        if "vision" in self.remote_slots():
            return True
        return self.vision_model is not None and self.vision_mmproj is not None


@dataclass(frozen=True)
class MemorySettings:
    """What the memory store needs."""

    data_dir: Path
    embed_model: Path
    memory_llm_extraction: bool
    recall_k: int


@dataclass(frozen=True)
class VoiceSettings:
    """What speech-to-text and text-to-speech need."""

    models_dir: Path
    stt_model: str
    piper_model: Path
    tts_default: bool
    stt_max_mb: float
    stt_max_seconds: float
    threads: int
    voice_end_silence: float  # seconds of silence that end a spoken turn in a voice channel

    def resolve_stt_model(self) -> Path:
        """STT_MODEL is a path, or a model name resolved under the models directory."""
        candidate = Path(self.stt_model).expanduser()
        if candidate.is_absolute() or candidate.exists():
            return candidate
        return self.models_dir / f"faster-whisper-{self.stt_model}"


@dataclass(frozen=True)
class DiscordSettings:
    """What the Discord frontend needs (the token stays hidden from repr)."""

    discord_token: str | None = field(repr=False)
    prefix: str
    edit_interval: float
    history_limit: int
    allow_dms: bool
    ping_on_reply: bool
    stream: bool
    drop_old_seconds: float
    checkins: bool
    checkins_per_day: int
    tts_default: bool
    allowed_users: frozenset[int]
    blocked_users: frozenset[int]
    allowed_roles: frozenset[int]
    blocked_roles: frozenset[int]
    allowed_channels: frozenset[int]
    blocked_channels: frozenset[int]
    shards: int | None = 0  # 0: one gateway connection; N: N shards; None ("auto"): as many as Discord recommends
