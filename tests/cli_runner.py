"""Running the real `sel` command line in a subprocess, isolated from the caller's SEL settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_sel(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str = "", timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python -m sel ARGS` with only ``env``'s SEL settings (the caller's SEL_* and token are dropped)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEL_") and k != "DISCORD_TOKEN"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sel", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd or REPO,
        timeout=timeout,
    )
