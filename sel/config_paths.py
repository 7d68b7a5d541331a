"""Where SEL's files live by default, and the one-line errors for a folder or model file that will not do."""

from __future__ import annotations

from pathlib import Path

from sel.errors import ConfigError, ModelError


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
