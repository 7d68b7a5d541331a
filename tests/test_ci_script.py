"""CI's rule: the voice and browser tests may skip on a developer's machine, never in CI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci_requirements import NO_LIBOPUS, PACKAGES, REQUIRE_VARIABLE, required_features, required_skip

ROOT = Path(__file__).resolve().parent.parent
NO_CHROMIUM = "headless Chromium is not installed (apt-get install -y chromium)"

SOME_TESTS = f"""
import pytest

@pytest.mark.skipif(True, reason={NO_CHROMIUM!r})
def test_browser():
    pass

def test_voice():
    pytest.skip({NO_LIBOPUS!r})

def test_gpu():
    pytest.skip("no GPU on this machine")

def test_plain():
    pass
"""


def test_skips_for_a_missing_package_are_matched_to_their_feature() -> None:
    everything = frozenset(PACKAGES)
    assert required_skip(NO_LIBOPUS, everything) == "voice"
    assert required_skip(NO_CHROMIUM, everything) == "browser"
    assert required_skip(NO_CHROMIUM, frozenset({"voice"})) is None, "only required features count"
    assert required_skip("no GPU on this machine", everything) is None
    assert required_skip(NO_LIBOPUS, frozenset()) is None, "without SEL_CI_REQUIRE every skip stays a skip"


def test_an_unknown_feature_is_a_usage_error_naming_the_choices() -> None:
    assert required_features(" voice, browser ") == {"voice", "browser"}
    assert required_features("") == frozenset()
    with pytest.raises(pytest.UsageError, match=r"SEL_CI_REQUIRE=voice,gpu: unknown feature gpu; choose from voice"):
        required_features("voice,gpu")


def test_the_ci_script_requires_the_voice_and_browser_tests() -> None:
    script = (ROOT / ".ci" / "run").read_text()
    exported = re.findall(rf"^export {REQUIRE_VARIABLE}=(\S+)$", script, re.MULTILINE)
    assert len(exported) == 1, f".ci/run must export {REQUIRE_VARIABLE} once before `make test`"
    assert required_features(exported[0]) == set(PACKAGES)
    assert script.index(f"export {REQUIRE_VARIABLE}") < script.index("make test")


def run_pytest(tmp_path: Path, require: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_some.py").write_text(SOME_TESTS)
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_VARIABLE}
    env["PYTHONPATH"] = str(ROOT)
    if require is not None:
        env[REQUIRE_VARIABLE] = require
    command = [sys.executable, "-m", "pytest", "-p", "tests.ci_requirements", "-p", "no:cacheprovider", "-rfEs"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


def test_locally_the_tests_skip_with_the_package_to_install(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, None)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 skipped" in result.stdout and "1 passed" in result.stdout, result.stdout
    assert "apt-get install libopus0" in result.stdout and "apt-get install -y chromium" in result.stdout


def test_in_ci_a_skipped_voice_or_browser_test_fails_the_run(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "voice,browser")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 failed" in summary and "1 error" in summary, summary  # the skipif one fails in its setup
    assert "1 passed" in summary and "1 skipped" in summary, "the GPU skip is not required: it stays a skip"
    assert f"{NO_LIBOPUS}, but {REQUIRE_VARIABLE} requires the voice tests" in result.stdout
    assert f"{NO_CHROMIUM}, but {REQUIRE_VARIABLE} requires the browser tests" in result.stdout


def test_an_unknown_required_feature_stops_pytest_before_any_test(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, "voice,gpu")
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert "SEL_CI_REQUIRE=voice,gpu: unknown feature gpu" in result.stderr
