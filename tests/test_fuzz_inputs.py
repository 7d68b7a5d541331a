"""Files and settings people write, fuzzed: the import parser, the config parser and the memory map's
SVG. Any input ends in a result or one clear SelError; the SVG is always well-formed XML."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sel import config
from sel.config import load_settings
from sel.errors import InputError, SelError
from sel.memory.import_format import parse_line, read_import_file
from sel.memory.records import Memory
from sel.memory.svg import render_memory_map

FUNCTION_FIXTURES = [HealthCheck.function_scoped_fixture]

# ---- the import parser -------------------------------------------------------------------------

json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(), st.text(max_size=30)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
import_field = st.sampled_from(["text", "tags", "hard", "created_at", "scope", "other"])
import_object = st.dictionaries(import_field, json_value | st.text(max_size=40), max_size=5)
dates = st.sampled_from(["2024-05-01T12:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2024"])
import_line = st.one_of(
    st.binary(max_size=200),
    import_object.map(lambda o: orjson.dumps(o, option=orjson.OPT_NON_STR_KEYS)),
    st.builds(lambda t, d: orjson.dumps({"text": t, "created_at": d}), st.text(min_size=1, max_size=30), dates),
)


@settings(max_examples=400, deadline=None)
@given(raw=import_line)
def test_any_import_line_is_read_or_refused_with_a_reason(raw: bytes) -> None:
    try:
        item = parse_line(raw)
    except ValueError as err:
        assert str(err) and "\n" not in str(err)
    else:
        assert isinstance(item.text, str) and item.text.strip()


@settings(max_examples=100, deadline=None, suppress_health_check=FUNCTION_FIXTURES)
@given(lines=st.lists(import_line, max_size=6))
def test_any_import_file_imports_or_names_its_bad_line(tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "import.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    try:
        read_import_file(path)
    except InputError as err:
        assert "line" in str(err)
    kept = read_import_file(path, skip_refused=True)
    assert len(kept.items) + len(kept.refused) == kept.lines


# ---- the config parser -------------------------------------------------------------------------

VARIABLES = sorted(set(re.findall(r'"((?:SEL|DISCORD|PIPER|STT)_[A-Z_]+)"', Path(config.__file__).read_text())))
setting_value = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["0", "1", "-1", "1e309", "nan", "inf", "true", "off", "10.5", " 7 ", "0x10", "\x00", "é", ""]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=FUNCTION_FIXTURES)
@given(env=st.dictionaries(st.sampled_from(VARIABLES), setting_value, max_size=6))
def test_any_settings_load_or_name_the_bad_one(tmp_path: Path, env: dict[str, str]) -> None:
    # The folders stay in the test's temp dir: a fuzzed path must not create folders elsewhere.
    env = {**env, "SEL_DATA_DIR": str(tmp_path / "data"), "SEL_MODELS_DIR": str(tmp_path / "models")}
    try:
        load_settings(env)
    except SelError as err:  # ConfigError, or ModelError for a model file that is not there
        message = str(err)
        assert message and "\n" not in message
        assert any(name in message for name in env), f"the error does not name the setting: {message}"


# ---- the memory map ----------------------------------------------------------------------------

memory_text = st.text(max_size=80) | st.sampled_from(["<b>&amp;</b>", "]]>", "\x00\x1f\ud800", "'\"", "\ufffe"])


@st.composite
def memories(draw: st.DrawFn) -> tuple[list[Memory], np.ndarray]:
    count = draw(st.integers(min_value=0, max_value=12))
    found = [
        Memory(
            id=f"m{i}",
            user_id="u1",
            text=draw(memory_text),
            tags=tuple(draw(st.lists(memory_text, max_size=3))),
            hard=draw(st.booleans()),
            created_at=draw(st.floats(min_value=0, max_value=2e9)),
            updated_at=draw(st.floats(min_value=0, max_value=2e9)),
            label=i,
            scope=draw(st.sampled_from(["any", "dm", "guild:123", "guild:<x>"])),
        )
        for i in range(count)
    ]
    rows = draw(st.sampled_from(["zeros", "same", "random"]))
    if rows == "zeros":
        vectors = np.zeros((count, 8), dtype=np.float32)
    elif rows == "same":
        vectors = np.ones((count, 8), dtype=np.float32)
    else:
        seed = draw(st.integers(min_value=0, max_value=2**16))
        vectors = np.random.default_rng(seed).normal(size=(count, 8)).astype(np.float32)
    return found, vectors


@settings(max_examples=150, deadline=None)
@given(drawn=memories(), title=memory_text, now=st.floats(min_value=0, max_value=4e9))
def test_the_memory_map_is_always_well_formed_svg(drawn: tuple[list[Memory], np.ndarray], title: str, now: float):
    found, vectors = drawn
    svg = render_memory_map(found, vectors, now=now, title=title)
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    numbers = [
        v for e in root.iter() for k, v in e.attrib.items() if k in ("x", "y", "cx", "cy", "r", "x1", "y1", "x2", "y2")
    ]
    assert not [v for v in numbers if not math.isfinite(float(v))], "a coordinate came out as NaN or infinite"
