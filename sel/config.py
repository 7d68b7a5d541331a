"""The one Settings object. Every environment variable SEL reads is named here and nowhere else.

Values come from the process environment first, then from `.env` in the working
directory (python-dotenv; the environment wins). A bad value raises
:class:`~sel.errors.ConfigError` naming the variable, the value and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from sel.env_reader import EnvReader, read_environment
from sel.errors import ConfigError, ModelError
from sel.undecodable import replace_undecodable

MODES = ("casual", "deep_focus", "playful", "quiet_companion")
QUANTS = {"none": None, "f16": None, "4bit": "q4_0", "8bit": "q8_0"}
SLOTS = ("general", "coder", "vision")
APIS = ("chat", "completions")
REASONING_VIEWS = ("hide", "spoiler")
SECRET_FIELDS = frozenset({"discord_token", "api_key", *(f"{slot}_api_key" for slot in SLOTS)})

T = TypeVar("T")


def default_models_dir() -> Path:
    """`models/` beside the source checkout, else `./models` (e.g. an installed wheel)."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").exists():
        return checkout / "models"
    return Path.cwd() / "models"


# File names the bundled models are written to under the models directory (see sel.cli.models).
DEFAULT_GGUF = "gemma-3-270m-Q4_K_M.gguf"
DEFAULT_EMBED_DIR = "all-MiniLM-L6-v2-int8"
DEFAULT_STT = "tiny.en"
DEFAULT_PIPER = "en_US-joe-medium.onnx"


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
        **_llm_values(r, models_dir),
        **_memory_values(r, models_dir),
        **_voice_values(r, models_dir),
        **_discord_values(r),
    )
    _check_together(settings, r)
    return settings


def _llm_values(r: EnvReader, models_dir: Path) -> dict[str, Any]:
    return {
        "general_model": r.path("SEL_GENERAL_MODEL", models_dir / DEFAULT_GGUF),
        "coder_model": r.path("SEL_CODER_MODEL", models_dir / DEFAULT_GGUF),
        "vision_model": r.optional_path("SEL_VISION_MODEL"),
        "vision_mmproj": r.optional_path("SEL_VISION_MMPROJ"),
        **_server_values(r),
        "quant": r.choice("SEL_QUANT", "none", tuple(QUANTS)),
        "single_backend": r.flag("SEL_SINGLE_BACKEND", True),
        "max_new_tokens": r.integer("SEL_MAX_NEW_TOKENS", 128, 1, 8192),
        "compile": r.flag("SEL_COMPILE", False),
        "gpu_layers": r.optional_integer("SEL_GPU_LAYERS", -1, 100000),
        "ctx": r.integer("SEL_CTX", 4096, 256, 262144),
        "threads": r.integer("SEL_THREADS", max(1, os.cpu_count() or 1), 1, 512),
        "temperature": r.number("SEL_TEMPERATURE", 0.7, 0.0, 5.0),
        "top_p": r.number("SEL_TOP_P", 0.9, 0.0, 1.0),
        "repeat_penalty": r.number("SEL_REPEAT_PENALTY", 1.1, 0.5, 3.0),
        "seed": r.integer("SEL_SEED", -1, -1, 2**31 - 1),
        "kv_cache_mb": r.integer("SEL_KV_CACHE_MB", 512, 0, 1 << 20),
    }


def _server_values(r: EnvReader) -> dict[str, Any]:
    """Model-server settings; a remote slot's *_model becomes the model name as written (not a path)."""
    values: dict[str, Any] = {
        "api_key": r.text("SEL_API_KEY") or None,
        "max_parallel": r.integer("SEL_MAX_PARALLEL", 4, 1, 64),
        "connect_timeout": r.number("SEL_CONNECT_TIMEOUT", 5.0, 0.1, 600.0),
        "read_timeout": r.number("SEL_READ_TIMEOUT", 120.0, 1.0, 3600.0),
        "show_reasoning": r.choice("SEL_SHOW_REASONING", "hide", REASONING_VIEWS),
    }
    remote = []
    for slot in SLOTS:
        url, key = r.url(f"SEL_{slot.upper()}_URL"), r.text(f"SEL_{slot.upper()}_API_KEY") or None
        api = r.choice(f"SEL_{slot.upper()}_API", "chat", APIS)
        values.update({f"{slot}_url": url, f"{slot}_api_key": key, f"{slot}_api": api})
        if url is None:
            continue
        model = r.raw(f"SEL_{slot.upper()}_MODEL")
        if model is None:
            raise ConfigError(
                f"SEL_{slot.upper()}_URL is set: set SEL_{slot.upper()}_MODEL to the model's name on that server "
                "(`sel doctor` lists the names it serves)"
            )
        remote.append(RemoteSlot(slot, url, replace_undecodable(model), key or values["api_key"], api))
        values[f"{slot}_model"] = Path(model)  # shown by `sel config`; the exact name is in RemoteSlot
    values["remote"] = tuple(remote)
    return values


def _memory_values(r: EnvReader, models_dir: Path) -> dict[str, Any]:
    return {
        "embed_model": r.path("SEL_EMBED_MODEL", models_dir / DEFAULT_EMBED_DIR),
        "memory_llm_extraction": r.flag("SEL_MEMORY_LLM_EXTRACTION", False),
        "recall_k": r.integer("SEL_RECALL_K", 5, 1, 50),
    }


def _voice_values(r: EnvReader, models_dir: Path) -> dict[str, Any]:
    return {
        "stt_model": r.text("STT_MODEL") or DEFAULT_STT,
        "piper_model": r.path("PIPER_MODEL", models_dir / DEFAULT_PIPER),
        "tts_default": r.flag("SEL_TTS_DEFAULT", False),
        "stt_max_mb": r.number("SEL_STT_MAX_MB", 25.0, 0.1, 1024.0),
        "stt_max_seconds": r.number("SEL_STT_MAX_SECONDS", 300.0, 1.0, 7200.0),
        "voice_end_silence": r.number("SEL_VOICE_END_SILENCE", 0.7, 0.2, 5.0),
    }


def _discord_values(r: EnvReader) -> dict[str, Any]:
    return {
        "discord_token": r.text("DISCORD_TOKEN") or None,
        "stream": r.flag("SEL_STREAM", True),
        "checkins": r.flag("SEL_CHECKINS", False),
        "checkins_per_day": r.integer("SEL_CHECKINS_PER_DAY", 3, 0, 100),
        "drop_old_seconds": r.number("SEL_DROP_OLD_SECONDS", 30.0, 0.0, 86400.0),
        "prefix": r.text("SEL_PREFIX") or "!",
        "edit_interval": r.number("SEL_EDIT_INTERVAL", 1.0, 0.2, 60.0),
        "history_limit": r.integer("SEL_HISTORY_LIMIT", 50, 1, 500),
        "allow_dms": r.flag("SEL_ALLOW_DMS", True),
        "ping_on_reply": r.flag("SEL_PING_ON_REPLY", False),
        "shards": _shards(r),
        **{
            f"{kind}_{what}": r.ids(f"SEL_{kind.upper()}_{what.upper()}")
            for kind in ("allowed", "blocked")
            for what in ("users", "roles", "channels")
        },
    }


def _shards(r: EnvReader) -> int | None:
    """SEL_SHARDS: unset or 0 for one gateway connection, N for N shards, "auto" (None) for Discord's advice."""
    value = r.raw("SEL_SHARDS")
    if value is not None and value.lower() == "auto":
        return None
    if value is not None and not value.isdigit():
        raise ConfigError(
            f"SEL_SHARDS={value!r} is not a shard count; set it to auto or a number of shards in .env, "
            "or unset it for one connection"
        )
    return r.integer("SEL_SHARDS", 0, 0, 4096)


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


def folder_error(variable: str, folder: Path, err: OSError) -> ConfigError:
    """The one line for a folder SEL cannot create, write or lock: which path failed, why, and the fix."""
    where = Path(err.filename) if err.filename else folder
    reason = err.strerror or str(err)
    if isinstance(err, (FileExistsError, NotADirectoryError)):  # a file stands where a folder must be
        blocker = next((p for p in (where, *where.parents) if p.exists() and not p.is_dir()), where)
        reason = f"{blocker} is a file, not a folder"
    return ConfigError(
        f"{variable}={folder}: cannot use {where} ({reason}); "
        f"fix its permissions or point {variable} at a writable folder"
    )


def check_gguf(variable: str, path: Path) -> None:
    """Raise ModelError unless ``path`` is a readable GGUF file."""
    hint = f"point {variable} at a .gguf file in .env, or run `make setup` to install the default models"
    if not path.exists():
        raise ModelError(f"{variable}={path}: file not found; {hint}")
    if not path.is_file():
        raise ModelError(f"{variable}={path}: not a file; {hint}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(4)
    except OSError as err:
        raise ModelError(f"{variable}={path}: cannot be read ({err.strerror}); fix its permissions or {hint}") from None
    if magic != b"GGUF":
        raise ModelError(f"{variable}={path}: not a GGUF file; {hint}")
