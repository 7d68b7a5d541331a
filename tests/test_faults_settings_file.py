"""sel.toml cut short mid-write (a crash of the owner's editor, a full disk): SEL never crashes on it.

At start-up a cut file is either still a valid (shorter) file or one clear line; while SEL runs, a
cut file is either taken as the shorter file it now is or refused with the last good settings kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sel.errors import ConfigError
from sel.owner_file import OwnerFile
from sel.owner_settings import parse_owner_settings

FULL = """\
name = "Aria"
persona = \"\"\"Aria is a calm librarian — she loves old maps and quiet tea.\"\"\"
mode = "playful"

[modes.playful]
temperature = 0.9

[access]
owners = [123456789012345678]

[servers."345678901234567890"]
persona = "Aria is a pirate here."
reply_threshold = 40

[servers."345678901234567890".channels."456789012345678901"]
mode = "deep_focus"
memory = false
"""
FULL_BYTES = FULL.encode("utf-8")


def test_the_full_file_is_valid() -> None:
    # The property below only means something if the uncut file is good and says all of this.
    good = parse_owner_settings(FULL)
    assert good.name == "Aria" and good.place("345678901234567890", "456789012345678901").mode == "deep_focus"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=len(FULL_BYTES) - 1))
def test_a_file_cut_short_while_sel_runs_keeps_the_last_good_settings(tmp_path: Path, cut: int) -> None:
    path = tmp_path / f"cut-{cut}.toml"
    path.write_bytes(FULL_BYTES)
    file = OwnerFile(path)
    good = file.load()
    path.write_bytes(FULL_BYTES[:cut])
    refused = file.reload()  # must not raise, whatever the cut
    if refused is None:
        assert file.current == parse_owner_settings(FULL_BYTES[:cut].decode("utf-8"))
    else:
        assert "\n" not in refused and refused.startswith(("sel.toml", f"cut-{cut}.toml", "cannot read"))
        assert file.current == good, "a refused edit must keep the last good settings"
        assert file.refused == refused
    path.write_bytes(FULL_BYTES)
    assert file.reload() is None and file.current == good and file.refused is None


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=len(FULL_BYTES) - 1))
def test_a_file_cut_short_before_start_is_one_clear_line_or_a_valid_file(tmp_path: Path, cut: int) -> None:
    path = tmp_path / f"start-{cut}.toml"
    path.write_bytes(FULL_BYTES[:cut])
    try:
        OwnerFile(path).load()
    except ConfigError as err:
        message = str(err)
        assert message and "\n" not in message, message
        assert " line " in message or "cannot read" in message, message


def test_a_cut_inside_a_multibyte_character_is_refused_not_crashed(tmp_path: Path) -> None:
    cut = FULL_BYTES.index("—".encode()) + 1  # inside the em dash's three bytes
    path = tmp_path / "sel.toml"
    path.write_bytes(FULL_BYTES)
    file = OwnerFile(path)
    good = file.load()
    path.write_bytes(FULL_BYTES[:cut])
    refused = file.reload()
    assert refused is not None and file.current == good
    with pytest.raises(ConfigError):
        OwnerFile(path).load()
