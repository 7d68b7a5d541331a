"""In CI, the tests that need system packages must run: there, their skips are failures.

Locally, a test that needs libopus (Discord voice) or Chromium (the SVG render check) skips
with a reason naming the package to install. `.ci/run` sets SEL_CI_REQUIRE=voice,browser;
then such a skip fails the run, so a green CI always means those tests really ran. This is a
pytest plugin (tests/conftest.py loads it): it works on the skip reasons, so the tests
themselves keep a plain ``skipif``.
"""

from __future__ import annotations

import ctypes.util
import os
from collections.abc import Generator

import pytest

REQUIRE_VARIABLE = "SEL_CI_REQUIRE"
# feature -> the package every skip reason of that feature's tests names
PACKAGES = {"voice": "libopus", "browser": "chromium"}
NO_LIBOPUS = "libopus is not installed (apt-get install libopus0)"
_REQUIRED = pytest.StashKey[frozenset[str]]()


def libopus_missing() -> bool:
    return ctypes.util.find_library("opus") is None


def required_features(value: str) -> frozenset[str]:
    """The features named by a SEL_CI_REQUIRE value ("voice,browser"); UsageError for an unknown one."""
    features = frozenset(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(features - set(PACKAGES))
    if unknown:
        raise pytest.UsageError(
            f"{REQUIRE_VARIABLE}={value}: unknown feature {', '.join(unknown)}; choose from {', '.join(PACKAGES)}"
        )
    return features


def required_skip(reason: str, required: frozenset[str]) -> str | None:
    """The required feature a skip with this reason would leave untested, else None."""
    folded = reason.lower()
    return next((feature for feature in sorted(required) if PACKAGES[feature] in folded), None)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_REQUIRED] = required_features(os.environ.get(REQUIRE_VARIABLE, ""))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or hasattr(report, "wasxfail") or not isinstance(report.longrepr, tuple):
        return
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    feature = required_skip(reason, item.config.stash.get(_REQUIRED, frozenset()))
    if feature is not None:
        report.outcome = "failed"
        report.longrepr = f"{reason}, but {REQUIRE_VARIABLE} requires the {feature} tests to run on this machine"
