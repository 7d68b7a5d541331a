"""The SVG memory map: escaping of user text, layout, and a real render in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.records import Memory
from sel.memory.retention import SOFT_TTL_SECONDS
from sel.memory.store import MemoryStore
from sel.memory.svg import MAX_TITLE_CHARS, PALETTE, memory_map, render_memory_map, xml_text

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
SVG_NS = "{http://www.w3.org/2000/svg}"
CHROMIUM = Path("/usr/bin/chromium")
NOW = 1_700_000_000.0

HOSTILE = [
    "<script>alert('pwned')</script> my turtle is called Shelly",
    "Tom & Jerry are my cats; 1 < 2 > 0",
    'I said "hello" and it\'s fine',
    "🐢 Shelly loves 🥬 lettuce — naïve café",
    "bell\x07 and null\x00 characters and a lone surrogate \ud800 here",
    "I have a very long story to tell " + "and it goes on " * 125,
]


@pytest.fixture(scope="module")
def embedder():
    return shared_embedder(EMBED_DIR)


@pytest.fixture(scope="module")
def hostile_map(tmp_path_factory, embedder) -> str:
    data_dir = tmp_path_factory.mktemp("svg")
    with MemoryStore.open(data_dir, EMBED_DIR, clock=lambda: NOW) as store:
        store.set_consent("u<1>&", True)
        for i, text in enumerate(HOSTILE):
            store.add("u<1>&", text, tags=[["pets", "family", "<b>bold</b>"][i % 3]], hard=i == 0)
        return memory_map(store, "u<1>&")


def titles(document: str) -> list[str]:
    root = ET.fromstring(document)
    return [el.text or "" for el in root.iter(f"{SVG_NS}title")]


def test_user_text_is_escaped_and_never_becomes_markup(hostile_map):
    root = ET.fromstring(hostile_map)  # well-formed XML despite the hostile text
    tags = {el.tag.removeprefix(SVG_NS) for el in root.iter()}
    assert tags <= {"svg", "rect", "text", "g", "title", "circle"}, f"unexpected elements: {tags}"
    assert "<script" not in hostile_map and "<b>" not in hostile_map
    shown = titles(hostile_map)
    assert "<script>alert('pwned')</script> my turtle is called Shelly" in shown
    assert "Tom & Jerry are my cats; 1 < 2 > 0" in shown
    assert 'I said "hello" and it\'s fine' in shown
    assert "🐢 Shelly loves 🥬 lettuce — naïve café" in shown
    assert any(t.startswith("bell and null characters") for t in shown), "control characters are dropped"
    long_title = next(t for t in shown if t.startswith("I have a very long story"))
    assert len(long_title) == MAX_TITLE_CHARS and long_title.endswith("\u2026")
    legend = [el.text for el in root.iter(f"{SVG_NS}text") if el.text and el.text.startswith("<b>")]
    assert legend == ["<b>bold</b> (2)"], "tag names are escaped in the legend too"


def test_escaping_covers_attributes_quotes_and_invalid_characters():
    assert (
        xml_text("<a href=\"x\" title='y'>&</a>") == "&lt;a href=&quot;x&quot; title=&apos;y&apos;&gt;&amp;&lt;/a&gt;"
    )
    assert xml_text("a\x00b\x1fc\ufffe") == "abc"


def memory(i: int, tag: str, updated_at: float, hard: bool = False) -> Memory:
    return Memory(f"m{i}", "u1", f"memory {i}", (tag,), hard, updated_at, updated_at, label=i)


def test_dots_are_colored_by_tag_sized_by_recency_and_placed_by_meaning():
    rng = np.random.default_rng(0)
    cluster_a = rng.normal(size=(1, 384)) + 0.05 * rng.normal(size=(3, 384))
    cluster_b = rng.normal(size=(1, 384)) + 0.05 * rng.normal(size=(3, 384))
    vectors = np.vstack([cluster_a, cluster_b]).astype(np.float32)
    memories = [memory(i, "pets" if i < 3 else "work", NOW - i * 40 * 86400.0, hard=i == 0) for i in range(6)]
    root = ET.fromstring(render_memory_map(memories, vectors, now=NOW, title="map"))
    dots = {g.find(f"{SVG_NS}title").text: g.find(f"{SVG_NS}circle") for g in root.iter(f"{SVG_NS}g")}
    assert {dots["memory 0"].get("fill"), dots["memory 3"].get("fill")} == {PALETTE[0], PALETTE[1]}
    assert float(dots["memory 0"].get("r")) > float(dots["memory 2"].get("r")), "recent memories are bigger"
    assert dots["memory 0"].get("stroke") == "#222", "permanent memories have a ring"

    def xy(name: str) -> np.ndarray:
        return np.array([float(dots[name].get("cx")), float(dots[name].get("cy"))])

    within = np.linalg.norm(xy("memory 0") - xy("memory 1"))
    across = np.linalg.norm(xy("memory 0") - xy("memory 4"))
    assert within < across / 3, "similar embeddings land close together"


def test_an_empty_or_single_memory_map_still_renders():
    empty = render_memory_map([], np.zeros((0, 384), dtype=np.float32), now=NOW, title="nobody")
    assert "No memories stored" in empty
    ET.fromstring(empty)
    single = render_memory_map([memory(0, "pets", NOW)], np.ones((1, 384), dtype=np.float32), now=NOW, title="one")
    assert titles(single) == ["memory 0"]


def test_an_expired_memory_is_flagged_in_the_export_and_left_off_the_map(tmp_path, embedder):
    now = [NOW]
    with MemoryStore.open(tmp_path, EMBED_DIR, clock=lambda: now[0]) as store:
        for user_id in ("u1", "u2"):
            store.set_consent(user_id, True)
        store.add("u1", "I am training for a marathon")
        store.add("u1", "I am allergic to penicillin", hard=True)
        store.add("u2", "I keep bees on my roof", hard=True)
        now[0] += SOFT_TTL_SECONDS + 1  # the store's clock: neither the export nor the map is given a time
        expired = {m["text"]: m["expired"] for m in export_user(store, "u1")["memories"]}
        document = memory_map(store, "u1")
    assert expired == {"I am training for a marathon": True, "I am allergic to penicillin": False}, (
        "the export lists an expired memory, flagged, until the pruner deletes it"
    )
    assert titles(document) == ["I am allergic to penicillin"], "the map shows only u1's unexpired memories"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium is not installed (apt-get install -y chromium)")
def test_the_map_renders_in_a_real_browser(hostile_map, tmp_path):
    svg_path = tmp_path / "map.svg"
    svg_path.write_text(hostile_map, encoding="utf-8")
    png_path = tmp_path / "map.png"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png_path}",
        "--window-size=960,640",
        svg_path.as_uri(),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert png_path.exists(), f"chromium made no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    image = Image.open(png_path).convert("RGB")
    assert image.size == (960, 640)
    colors = image.getcolors(maxcolors=1 << 20)
    assert colors is not None and len(colors) > 20, "a blank page has one or two colors"
    present = {rgb for _, rgb in colors}
    for hex_color in PALETTE[:3]:
        rgb = tuple(int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
        near = [c for c in present if sum(abs(a - b) for a, b in zip(c, rgb, strict=True)) < 40]
        assert near, f"no pixel near the tag color {hex_color}: the dots were not drawn"
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
