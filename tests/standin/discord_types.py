"""discord.py's own payload TypedDicts (`discord.types.*`), loaded for runtime conformance checks.

discord.py imports these modules only under TYPE_CHECKING, and they import each other in a
cycle (threads -> message -> channel -> threads), so a plain import fails at run time. This
loads private copies under another package name, as a type checker reads them (their own
`if TYPE_CHECKING:` imports enabled): names a module imports before their home module has run
start out as `Any`, and re-running every module until nothing fails replaces them with the
real definitions. The real `discord.types` package is left untouched.

The TypedDicts describe what discord.py reads, not everything Discord sends (the interaction
type has no `member`, channels have no `flags`), so extra keys are allowed (PEP 728
`__extra_items__`); required keys and the types of known keys are still checked.
"""

from __future__ import annotations

import sys
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any

PACKAGE = "_standin_discord_types"
PASSES = 4


@cache
def discord_types() -> types.SimpleNamespace:
    """The modules of discord.types by short name: `discord_types().message.Message`, ..."""
    import discord

    root = Path(discord.__file__).parent / "types"
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(root)]
    sys.modules[PACKAGE] = package
    modules: dict[str, tuple[types.ModuleType, Any]] = {}
    for path in sorted(root.glob("*.py")):
        if path.stem == "__init__":
            continue
        module = types.ModuleType(f"{PACKAGE}.{path.stem}")
        module.__package__ = PACKAGE
        module.__file__ = str(path)
        module.__getattr__ = _not_yet_defined  # type: ignore[attr-defined]
        sys.modules[module.__name__] = module
        source = path.read_text().replace("if TYPE_CHECKING:", "if True:")
        modules[path.stem] = (module, compile(source, str(path), "exec"))
    for attempt in range(PASSES):
        for module, code in modules.values():
            try:
                exec(code, module.__dict__)
            except TypeError:
                # A class based on a name that is still a placeholder; the next pass fixes it.
                if attempt == PASSES - 1:
                    raise
    for module, _ in modules.values():
        for value in vars(module).values():
            _allow_extra_keys(value)
    return types.SimpleNamespace(**{name: module for name, (module, _) in modules.items()})


def _allow_extra_keys(value: Any) -> None:
    """Mark TypedDicts, including those inside aliases such as `Interaction = Union[...]`, which may
    hold classes from an earlier pass."""
    if typing.is_typeddict(value):
        value.__extra_items__ = typing.Any
    for argument in typing.get_args(value):
        _allow_extra_keys(argument)


def _not_yet_defined(name: str) -> Any:
    return typing.Any
