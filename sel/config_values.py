"""Each part of the settings read from the environment: the variables' names, defaults and allowed ranges."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sel.config_paths import DEFAULT_EMBED_DIR, DEFAULT_GGUF, DEFAULT_PIPER, DEFAULT_STT
from sel.config_slices import APIS, QUANTS, REASONING_VIEWS, SLOTS, RemoteSlot
from sel.env_reader import EnvReader
from sel.errors import ConfigError
from sel.undecodable import replace_undecodable


def llm_values(r: EnvReader, models_dir: Path) -> dict[str, Any]:
    """The model slots, sampling, context and server variables (SEL_GENERAL_MODEL, SEL_CTX …)."""
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


def memory_values(r: EnvReader, models_dir: Path) -> dict[str, Any]:
    """The memory store's variables (SEL_EMBED_MODEL, SEL_RECALL_K …)."""
    return {
        "embed_model": r.path("SEL_EMBED_MODEL", models_dir / DEFAULT_EMBED_DIR),
        "memory_llm_extraction": r.flag("SEL_MEMORY_LLM_EXTRACTION", False),
        "recall_k": r.integer("SEL_RECALL_K", 5, 1, 50),
    }


def voice_values(r: EnvReader, models_dir: Path) -> dict[str, Any]:
    """Speech-to-text and text-to-speech variables (STT_MODEL, PIPER_MODEL …)."""
    return {
        "stt_model": r.text("STT_MODEL") or DEFAULT_STT,
        "piper_model": r.path("PIPER_MODEL", models_dir / DEFAULT_PIPER),
        "tts_default": r.flag("SEL_TTS_DEFAULT", False),
        "stt_max_mb": r.number("SEL_STT_MAX_MB", 25.0, 0.1, 1024.0),
        "stt_max_seconds": r.number("SEL_STT_MAX_SECONDS", 300.0, 1.0, 7200.0),
        "voice_end_silence": r.number("SEL_VOICE_END_SILENCE", 0.7, 0.2, 5.0),
    }


def discord_values(r: EnvReader) -> dict[str, Any]:
    """The Discord frontend's variables (DISCORD_TOKEN, SEL_PREFIX, access lists …)."""
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
