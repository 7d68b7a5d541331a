"""`sel doctor`: what is installed, what is missing, and how to fix each."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import struct
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from sel.config import Settings
from sel.config_paths import check_gguf
from sel.errors import ModelError, render_error


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK, MISSING, WARN, INFO
    detail: str
    fix: str = ""
    required: bool = True

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `doctor`."""
    doctor = subparsers.add_parser("doctor", help="check the environment, models and optional libraries")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(func=doctor_command)


def doctor_command(args: argparse.Namespace, settings: Settings) -> int:
    """Print every check; exit 1 when something required is missing."""
    checks = run_checks(settings)
    if args.json:
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            line = f"{c.status:<7} {c.name:<{width}}  {c.detail}"
            if c.fix and c.status != "OK":
                line += f"  -> {c.fix}"
            print(line)
    return 0 if all(c.status != "MISSING" or not c.required for c in checks) else 1


def run_checks(settings: Settings) -> list[Check]:
    """Every check, in the order `sel doctor` prints them."""
    return [
        _python(),
        *_llama(),
        *_gguf_models(settings),
        *_servers(settings),
        _embedder(settings),
        _stt(settings),
        _piper(settings),
        *_voice(),
        _data_dir(settings.data_dir),
        _discord_token(settings),
    ]


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", "OK" if ok else "MISSING", platform.python_version(), "install Python 3.11 or newer")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _llama() -> list[Check]:
    version = _version("llama-cpp-python")
    if version is None:
        return [Check("llama-cpp-python", "MISSING", "not installed", "run `make setup`")]
    from sel.llm.engine import gpu_offload_supported

    gpu = gpu_offload_supported()
    return [
        Check("llama-cpp-python", "OK", version),
        Check(
            "gpu offload",
            "OK" if gpu else "INFO",
            "compiled in: all layers go to the GPU by default" if gpu else "CPU-only build",
            "for an NVIDIA GPU: `make setup GPU=cuda` (needs the CUDA toolkit)",
            required=False,
        ),
    ]


def _gguf_models(settings: Settings) -> list[Check]:
    slots = {
        "general": ("SEL_GENERAL_MODEL", settings.general_model),
        "coder": ("SEL_CODER_MODEL", settings.coder_model),
    }
    if settings.vision_model is not None and settings.vision_mmproj is not None:
        slots["vision"] = ("SEL_VISION_MODEL", settings.vision_model)
        slots["vision mmproj"] = ("SEL_VISION_MMPROJ", settings.vision_mmproj)
    remote = settings.remote_slots()  # a server's slot names a model there, not a file: _servers checks it
    return [_gguf_model(slot, variable, path) for slot, (variable, path) in slots.items() if slot not in remote]


def _servers(settings: Settings) -> list[Check]:
    """Each model server: does it answer, take the key and serve the model named for its slot?"""
    remote = settings.remote_slots()
    if not remote:
        return []
    import asyncio

    from sel.llm.http_engine import HttpEngine

    async def probe() -> list[str | None]:
        engine = HttpEngine(remote, settings.llm)
        try:
            return list(await asyncio.gather(*(engine.check_slot(slot) for slot in remote)))
        finally:
            await engine.aclose()

    checks = []
    for slot, problem in zip(remote, asyncio.run(probe()), strict=True):
        name, where = f"{slot} server", f"{remote[slot].base_url} ({remote[slot].model})"
        if problem is None:
            checks.append(Check(name, "OK", f"{where} answers and serves the model"))
        else:
            what, _, fix = problem.partition("; ")
            checks.append(Check(name, "MISSING", what, fix))
    return checks


def _gguf_model(slot: str, variable: str, path: Path) -> Check:
    try:
        check_gguf(variable, path)
    except ModelError as err:
        message = render_error(err)  # "what is wrong; how to fix it"
        return Check(f"{slot} model", "MISSING", message.split(";")[0], message.split("; ", 1)[-1])
    detail = f"{path} ({path.stat().st_size / 1e6:.0f} MB)"
    loadable, summary = _projector_summary(path) if slot == "vision mmproj" else _gguf_summary(path)
    if loadable:
        return Check(f"{slot} model", "OK", f"{detail}, {summary}")
    fix = f"re-download it, or point {variable} at a GGUF this llama-cpp-python supports"
    return Check(f"{slot} model", "MISSING", f"{detail}: {summary}", fix)


def _projector_summary(path: Path) -> tuple[bool, str]:
    """A vision projector's GGUF says "clip"; a language model given here by mistake does not."""
    from sel.llm.gguf_header import architecture

    try:
        arch = architecture(path)
    except OSError as err:
        return False, f"cannot be read ({err.strerror or err})"
    except (ValueError, struct.error) as err:  # the header reader never reads past the file's end
        return False, f"a damaged GGUF ({err})"
    if arch != "clip":
        return False, f"a {arch or 'unknown'} model, not a vision projector (mmproj)"
    return True, "vision projector (clip)"


def _gguf_summary(path: Path) -> tuple[bool, str]:
    """(loadable, summary). Loads only the vocabulary: llama.cpp parses the file without the weights' cost."""
    from llama_cpp import Llama

    from sel.llm.engine import route_llama_logs

    route_llama_logs()
    try:
        llm = Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as err:
        return False, f"llama.cpp cannot load it ({err})"
    arch = llm.metadata.get("general.architecture", "?")
    template = (
        "chat template" if llm.metadata.get("tokenizer.chat_template") else "no chat template (transcript prompts)"
    )
    llm.close()
    return True, f"{arch}, {template}"


def _embedder(settings: Settings) -> Check:
    needed = ("model.onnx", "tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json")
    missing = [n for n in needed if not (settings.embed_model / n).is_file()]
    if missing:
        return Check(
            "embedding model",
            "MISSING",
            f"{settings.embed_model}: no {', '.join(missing)}",
            _setup_fix("SEL_EMBED_MODEL"),
        )
    return Check("embedding model", "OK", str(settings.embed_model))


def _stt(settings: Settings) -> Check:
    path = settings.resolve_stt_model()
    if not (path / "model.bin").is_file():
        return Check(
            "speech-to-text",
            "MISSING",
            f"STT_MODEL={settings.stt_model}: no model.bin in {path}",
            _setup_fix("STT_MODEL"),
        )
    return Check("speech-to-text", "OK", str(path))


def _piper(settings: Settings) -> Check:
    config = settings.piper_model.with_name(settings.piper_model.name + ".json")
    if not settings.piper_model.is_file() or not config.is_file():
        return Check(
            "text-to-speech",
            "MISSING",
            f"PIPER_MODEL={settings.piper_model}: voice or its .json missing",
            _setup_fix("PIPER_MODEL"),
        )
    return Check("text-to-speech", "OK", str(settings.piper_model))


def _setup_fix(variable: str) -> str:
    return f"run `make setup` (or `sel models`), or point {variable} at your own model in .env"


def _voice() -> list[Check]:
    from sel.frontends.discord.voice_support import voice_support

    problems = voice_support()
    if not problems:
        return [Check("discord voice", "OK", "PyNaCl, davey and libopus found", required=False)]
    return [
        Check("discord voice", "MISSING", p.split(": ", 1)[0], p.split(": ", 1)[-1], required=False) for p in problems
    ]


def _discord_token(settings: Settings) -> Check:
    return Check(
        "discord token",
        "OK" if settings.discord_token else "INFO",
        "set (hidden)" if settings.discord_token else "not set: `make run` starts the terminal chat",
        "put DISCORD_TOKEN=... in .env to run the Discord bot",
        required=False,
    )


def _data_dir(path: Path) -> Check:
    probe = path if path.exists() else next((p for p in path.parents if p.exists()), Path("/"))
    if os.access(probe, os.W_OK):
        return Check("data directory", "OK", f"{path} (writable)")
    return Check("data directory", "MISSING", f"{path} is not writable", "set SEL_DATA_DIR to a writable folder")
