"""The memory map: one user's memories as an SVG picture.

Each memory is a dot placed by a 2-D PCA projection of its embedding (similar memories
land near each other), colored by its first tag, sized by how recently it changed, with
a ring when it is permanent, and an outline that says where it may come back (its scope,
sel.memory.scopes: solid anywhere, dashed in a server, dotted only in DMs; a legend explains
them). Hovering a dot shows its text (an SVG ``<title>``). Every
piece of user text is XML-escaped; nothing from the user can become markup.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sel.memory.ranking import recency
from sel.memory.records import Memory

if TYPE_CHECKING:
    import numpy as np

    from sel.memory.store import MemoryStore

WIDTH, HEIGHT = 960, 640
PLOT_LEFT, PLOT_TOP, PLOT_RIGHT, PLOT_BOTTOM = 40, 70, 680, 600
LEGEND_LEFT = 710
PALETTE = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#9a6324", "#469990")
OTHER_COLOR = "#8c8c8c"
MAX_LEGEND_TAGS = len(PALETTE)
MAX_TITLE_CHARS = 1000
MAX_LABEL_CHARS = 32
LABELLED_UP_TO = 30  # with more dots than this, text labels would overlap: hover titles only
# scope group -> (legend text, outline dash pattern; "" is a solid outline)
SCOPE_MARKS = {
    "any": ("Anywhere", ""),
    "guild": ("In a server (and DMs)", "5 2.5"),
    "dm": ("Only in DMs", "1.5 2.5"),
}
_INVALID_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` made safe inside an XML element or a double- or single-quoted attribute."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot be written as UTF-8
    text = _INVALID_XML.sub("", text)
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&apos;")
    )


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """PCA to two dimensions (n x 2); a single point or identical points project to the origin."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float64)
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2))
    centered = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    coords = centered @ components[:2].T
    if coords.shape[1] < 2:
        coords = np.pad(coords, ((0, 0), (0, 2 - coords.shape[1])))
    return coords


def tag_colors(memories: Sequence[Memory]) -> dict[str, str]:
    """The most common first tags get the palette's colors (first tag "untagged" when there is none)."""
    counts = Counter(_first_tag(m) for m in memories)
    ranked = sorted(counts, key=lambda tag: (-counts[tag], tag))
    return {tag: PALETTE[i] for i, tag in enumerate(ranked[:MAX_LEGEND_TAGS])}


def render_memory_map(memories: Sequence[Memory], vectors: np.ndarray, *, now: float, title: str) -> str:
    """An SVG document showing ``memories`` (``vectors`` holds their embeddings, one row each)."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="sans-serif">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fbfaf7"/>',
        f'<text x="{PLOT_LEFT}" y="38" font-size="22" fill="#222">{xml_text(shorten(title, 60))}</text>',
        f'<text x="{PLOT_LEFT}" y="58" font-size="12" fill="#666">{len(memories)} memories \u00b7 '
        "position: meaning (PCA) \u00b7 size: recency \u00b7 ring: permanent \u00b7 outline: where it may come back "
        "\u00b7 hover a dot to read it</text>",
        f'<rect x="{PLOT_LEFT}" y="{PLOT_TOP}" width="{PLOT_RIGHT - PLOT_LEFT}" height="{PLOT_BOTTOM - PLOT_TOP}" '
        'fill="#ffffff" stroke="#dddddd"/>',
    ]
    if not memories:
        parts.append(
            f'<text x="{(PLOT_LEFT + PLOT_RIGHT) // 2}" y="{(PLOT_TOP + PLOT_BOTTOM) // 2}" font-size="16" '
            'fill="#888" text-anchor="middle">No memories stored</text>'
        )
    else:
        colors = tag_colors(memories)
        parts.extend(_dots(memories, vectors, colors, now))
        y = _legend(memories, colors, parts)
        parts.extend(_scope_legend(memories, y + 16))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _dots(memories: Sequence[Memory], vectors: np.ndarray, colors: dict[str, str], now: float) -> list[str]:
    import numpy as np

    coords = project_2d(vectors)
    # One scale for both axes, so distances on the map stay proportional to distances in meaning.
    margin = 24
    width, height = PLOT_RIGHT - PLOT_LEFT - 2 * margin, PLOT_BOTTOM - PLOT_TOP - 2 * margin
    center = (coords.min(axis=0) + coords.max(axis=0)) / 2
    spans = coords.max(axis=0) - coords.min(axis=0)
    scale = min(width / spans[0] if spans[0] > 1e-9 else np.inf, height / spans[1] if spans[1] > 1e-9 else np.inf)
    scale = 0.0 if not np.isfinite(scale) else scale
    xs = (PLOT_LEFT + PLOT_RIGHT) / 2 + (coords[:, 0] - center[0]) * scale
    ys = (PLOT_TOP + PLOT_BOTTOM) / 2 + (coords[:, 1] - center[1]) * scale
    out = []
    # Oldest first, so fresh (bigger) dots are drawn on top.
    for i in sorted(range(len(memories)), key=lambda j: memories[j].updated_at):
        memory = memories[i]
        radius = 5 + 11 * recency(memory, now)
        color = colors.get(_first_tag(memory), OTHER_COLOR)
        ring = _ring(memory)
        out.append(
            f'<g data-scope="{xml_text(memory.scope)}" data-kind="{memory.kind}">'
            f"<title>{xml_text(shorten(memory.text, MAX_TITLE_CHARS))}</title>"
            f'<circle cx="{xs[i]:.1f}" cy="{ys[i]:.1f}" r="{radius:.1f}" fill="{color}" fill-opacity="0.85"{ring}/>'
            "</g>"
        )
        if len(memories) <= LABELLED_UP_TO:
            out.append(
                f'<text x="{xs[i] + radius + 3:.1f}" y="{ys[i] + 4:.1f}" font-size="11" fill="#333">'
                f"{xml_text(shorten(memory.text, MAX_LABEL_CHARS))}</text>"
            )
    return out


def _ring(memory: Memory) -> str:
    """The dot's outline: dark and thick when permanent, dashed or dotted by scope."""
    dash = SCOPE_MARKS[_scope_group(memory.scope)][1]
    if memory.hard:
        ring = ' stroke="#222" stroke-width="2.5"'
    elif dash:
        ring = ' stroke="#444" stroke-width="1.5"'
    else:
        ring = ' stroke="#ffffff" stroke-width="1"'
    return ring + (f' stroke-dasharray="{dash}"' if dash else "")


def _scope_group(scope: str) -> str:
    return scope if scope in ("any", "dm") else "guild"


def _scope_legend(memories: Sequence[Memory], top: int) -> list[str]:
    """How many memories may come back where, with the outline that marks each."""
    counts = Counter(_scope_group(m.scope) for m in memories)
    out = [f'<text x="{LEGEND_LEFT}" y="{top + 14}" font-size="14" fill="#222">Where it may come back</text>']
    y = top + 38
    for group, (label, dash) in SCOPE_MARKS.items():
        if not counts[group]:
            continue
        outline = ' stroke="#444" stroke-width="1.5"' + (f' stroke-dasharray="{dash}"' if dash else "")
        out.append(f'<circle cx="{LEGEND_LEFT + 8}" cy="{y - 4}" r="7" fill="#ffffff"{outline}/>')
        out.append(f'<text x="{LEGEND_LEFT + 22}" y="{y}" font-size="13" fill="#333">{label} ({counts[group]})</text>')
        y += 24
    return out


def _legend(memories: Sequence[Memory], colors: dict[str, str], out: list[str]) -> int:
    """Append the tag legend to ``out``; return the y below it."""
    counts = Counter(_first_tag(m) for m in memories)
    out.append(f'<text x="{LEGEND_LEFT}" y="{PLOT_TOP + 14}" font-size="14" fill="#222">Tags</text>')
    y = PLOT_TOP + 38
    for tag, color in colors.items():
        out.append(f'<circle cx="{LEGEND_LEFT + 8}" cy="{y - 4}" r="7" fill="{color}"/>')
        out.append(
            f'<text x="{LEGEND_LEFT + 22}" y="{y}" font-size="13" fill="#333">'
            f"{xml_text(shorten(tag, 28))} ({counts[tag]})</text>"
        )
        y += 24
    others = sum(n for tag, n in counts.items() if tag not in colors)
    if others:
        out.append(f'<circle cx="{LEGEND_LEFT + 8}" cy="{y - 4}" r="7" fill="{OTHER_COLOR}"/>')
        out.append(f'<text x="{LEGEND_LEFT + 22}" y="{y}" font-size="13" fill="#333">other tags ({others})</text>')
        y += 24
    return y


def _first_tag(memory: Memory) -> str:
    return memory.tags[0] if memory.tags else "untagged"


def memory_map(store: MemoryStore, user_id: str, *, now: float | None = None) -> str:
    """``user_id``'s memory map from ``store`` as an SVG document (unexpired memories only; blocks)."""
    now = store.clock() if now is None else now
    memories, vectors = store.embedded_memories(user_id, now)
    return render_memory_map(memories, vectors, now=now, title=f"Memories of {user_id}")
