"""The one Settings object. Every environment variable SEL reads is named here or in
:mod:`sel.config_values` (each part's variables) and nowhere else.

Values come from the process environment first, then from `.env` in the working
directory (python-dotenv; the environment wins). A bad value raises
:class:`~sel.errors.ConfigError` naming the variable, the value and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from sel.config_paths import DEFAULT_EMBED_DIR as DEFAULT_EMBED_DIR  # re-exported: many tests import it from here
from sel.config_paths import DEFAULT_STT, check_gguf, default_models_dir
from sel.config_slices import SLOTS, DiscordSettings, LlmSettings, MemorySettings, RemoteSlot, VoiceSettings
from sel.config_values import discord_values, llm_values, memory_values, voice_values
from sel.env_reader import EnvReader, read_environment
from sel.errors import ConfigError

MODES = ("casual", "deep_focus", "playful", "quiet_companion")
SECRET_FIELDS = frozenset({"discord_token", "api_key", *(f"{slot}_api_key" for slot in SLOTS)})

T = TypeVar("T")
SliceT = TypeVar("SliceT")


def _slice(cls: type[SliceT], settings: Settings) -> SliceT:
    return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Settings:
    """SEL's effective configuration. Build it with :func:`load_settings`.

    Modules that need only their part take a slice: ``settings.llm``, ``.memory``, ``.voice``
    or ``.discord``.
    """

    models_dir: Path
    data_dir: Path
    discord_token: str | None = field(default=None, repr=False)
    general_model: Path = Path()
    coder_model: Path = Path()
    vision_model: Path | None = None
    vision_mmproj: Path | None = None
    embed_model: Path = Path()
    stt_model: str = DEFAULT_STT
    piper_model: Path = Path()
    tts_default: bool = False
    quant: str = "none"
    single_backend: bool = True
    mode: str = "casual"
    max_new_tokens: int = 128
    stream: bool = True
    checkins: bool = False
    checkins_per_day: int = 3
    drop_old_seconds: float = 30.0
    compile: bool = False
    gpu_layers: int | None = None
    ctx: int = 4096
    threads: int = 2
    temperature: float = 0.7
    top_p: float = 0.9
    repeat_penalty: float = 1.1
    seed: int = -1
    kv_cache_mb: int = 512
    # Model servers: a slot with a URL is served there and its *_model is the model's name on it
    general_url: str | None = None
    coder_url: str | None = None
    vision_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    general_api_key: str | None = field(default=None, repr=False)
    coder_api_key: str | None = field(default=None, repr=False)
    vision_api_key: str | None = field(default=None, repr=False)
    general_api: str = "chat"
    coder_api: str = "chat"
    vision_api: str = "chat"
    remote: tuple[RemoteSlot, ...] = field(default=(), repr=False)  # the above, resolved per slot
    max_parallel: int = 4
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    show_reasoning: str = "hide"
    log_level: str = "WARNING"
    timezone: str = ""  # IANA name for the mood's day/night rhythm; "" = the machine's local time
    settings_file: Path | None = None  # SEL_SETTINGS_FILE: the owner's sel.toml; None = SEL_DATA_DIR/sel.toml
    metrics_port: int | None = None  # SEL_METRICS_PORT: serve Prometheus metrics there (off when unset)
    metrics_host: str = "127.0.0.1"
    # Discord frontend
    prefix: str = "!"
    edit_interval: float = 1.0
    history_limit: int = 50
    allow_dms: bool = True
    ping_on_reply: bool = False  # a reply notifies the person it answers (never @everyone, @here or roles)
    allowed_users: frozenset[int] = frozenset()
    blocked_users: frozenset[int] = frozenset()
    allowed_roles: frozenset[int] = frozenset()
    blocked_roles: frozenset[int] = frozenset()
    allowed_channels: frozenset[int] = frozenset()
    blocked_channels: frozenset[int] = frozenset()
    shards: int | None = 0  # SEL_SHARDS: 0 = one gateway connection, N = N shards, None = "auto"
    # Memory
    memory_llm_extraction: bool = False
    recall_k: int = 5
    # Voice
    stt_max_mb: float = 25.0
    stt_max_seconds: float = 300.0
    voice_end_silence: float = 0.7

    @property
    def settings_path(self) -> Path:
        """The owner's settings file (sel.toml): SEL_SETTINGS_FILE, else sel.toml in SEL_DATA_DIR."""
        return self.settings_file if self.settings_file is not None else self.data_dir / "sel.toml"

    @property
    def kv_cache_type(self) -> str | None:
        """llama.cpp KV-cache type for SEL_QUANT (see LlmSettings)."""
        return self.llm.kv_cache_type

    @property
    def flash_attn(self) -> bool:
        """Whether llama.cpp runs with flash attention (see LlmSettings)."""
        return self.llm.flash_attn

    def resolve_stt_model(self) -> Path:
        """STT_MODEL is a path, or a model name resolved under the models directory."""
        return self.voice.resolve_stt_model()

    def remote_slots(self) -> dict[str, RemoteSlot]:
        """The slots served by a model server, by slot name."""
        return self.llm.remote_slots()

    @property
    def has_vision(self) -> bool:
        """A vision model is configured (a server, or a local GGUF with its projector)."""
        return self.llm.has_vision

    @property
    def llm(self) -> LlmSettings:
        return _slice(LlmSettings, self)

    @property
    def memory(self) -> MemorySettings:
        return _slice(MemorySettings, self)

    @property
    def voice(self) -> VoiceSettings:
        return _slice(VoiceSettings, self)

    @property
    def discord(self) -> DiscordSettings:
        return _slice(DiscordSettings, self)

    def redacted(self) -> dict[str, Any]:
        """Every setting as plain data, secrets replaced by a marker."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "remote":  # derived from the *_url, *_model and key fields shown beside it
                continue
            if f.name in SECRET_FIELDS:
                value = "(set, hidden)" if value else "(not set)"
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, frozenset):
                value = sorted(value)
            out[f.name] = value
        out.update({f"{r.slot}_model": r.model for r in self.remote})  # a server's model name, exactly as written
        out["settings_file"] = str(self.settings_path)  # the default (in SEL_DATA_DIR) shown resolved
        return out


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``env`` (default: environment + `.env`); raise ConfigError on a bad value."""
    r = EnvReader(read_environment() if env is None else env)
    models_dir = r.path("SEL_MODELS_DIR", default_models_dir())
    settings = Settings(
        models_dir=models_dir,
        data_dir=r.path("SEL_DATA_DIR", Path.cwd() / "data"),
        mode=r.choice("SEL_MODE", "casual", MODES),
        log_level=r.choice("SEL_LOG_LEVEL", "WARNING", ("DEBUG", "INFO", "WARNING", "ERROR"), upper=True),
        timezone=r.timezone("SEL_TIMEZONE"),
        settings_file=r.optional_path("SEL_SETTINGS_FILE"),
        metrics_port=r.optional_integer("SEL_METRICS_PORT", 1, 65535),
        metrics_host=r.text("SEL_METRICS_HOST") or "127.0.0.1",
        **llm_values(r, models_dir),
        **memory_values(r, models_dir),
        **voice_values(r, models_dir),
        **discord_values(r),
    )
    _check_together(settings, r)
    return settings


def _check_together(settings: Settings, r: EnvReader) -> None:
    """Checks that need more than one value, or the file system."""
    if settings.data_dir.exists() and not settings.data_dir.is_dir():
        raise ConfigError(f"SEL_DATA_DIR={settings.data_dir} is a file, not a folder; point it at a folder")
    if settings.vision_url is not None:
        if settings.vision_mmproj is not None:
            raise ConfigError(
                "SEL_VISION_MMPROJ is for a local vision GGUF; with SEL_VISION_URL the server reads pictures: unset it"
            )
        return
    for name in ("SEL_VISION_MODEL", "SEL_VISION_MMPROJ"):
        path = r.optional_path(name)
        if path is not None:
            check_gguf(name, path)
    if (settings.vision_model is None) != (settings.vision_mmproj is None):
        raise ConfigError(
            "SEL_VISION_MODEL and SEL_VISION_MMPROJ go together: set both (a vision GGUF and its mmproj) or neither"
        )
