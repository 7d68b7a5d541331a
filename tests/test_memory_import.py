"""`sel memory import`: robust against odd files, truthful about what it stored, all or nothing unless told."""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path

import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.memory.embeddings import shared_embedder
from sel.memory.records import MAX_IMPORT_BYTES

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


@pytest.fixture
def sel(sel):
    """The in-process `sel` runner (tests/conftest.py), with user 7 opted in."""
    assert sel("memory", "consent", "7", "on")[0] == 0
    return sel


def memories(sel) -> list[dict]:
    code, out, _ = sel("memory", "export", "7")
    assert code == 0
    return json.loads(out)["memories"]


def jsonl(*objects: object) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objects)


def test_a_byte_order_mark_is_accepted(sel, tmp_path):
    source = tmp_path / "notepad.jsonl"
    source.write_bytes(b"\xef\xbb\xbf" + jsonl({"text": "I grow figs"}, {"text": "I fence on Tuesdays"}))
    code, out, err = sel("memory", "import", "7", str(source))
    assert (code, err) == (0, "")
    assert out == "imported 2 lines for 7: 2 stored\n"
    assert sorted(m["text"] for m in memories(sel)) == ["I fence on Tuesdays", "I grow figs"]


@pytest.mark.parametrize("text", ["\u0007", "\u200b", "\u200b\u200d\u2060 \ufeff", "\x1b\x7f"])
def test_text_that_is_empty_once_cleaned_is_refused_by_import_and_add(sel, tmp_path, text):
    source = tmp_path / "blank.jsonl"
    source.write_bytes(jsonl({"text": "I grow figs"}, {"text": text}))
    code, out, err = sel("memory", "import", "7", str(source))
    assert code == 2 and out == ""
    assert f"{source} line 2: the memory text is empty" in err and err.count("\n") == 1
    code, _, err = sel("memory", "add", "7", text)
    assert code == 2 and "the memory text is empty" in err
    assert memories(sel) == [], "nothing was imported"


def test_zero_width_spaces_are_dropped_so_a_repeat_with_one_is_a_duplicate(sel, tmp_path):
    source = tmp_path / "figs.jsonl"
    source.write_bytes(jsonl({"text": "I grow figs"}, {"text": "I grow fi\u200bgs"}))
    assert (
        sel("memory", "import", "7", str(source))[1]
        == "imported 2 lines for 7: 1 stored, 1 duplicate of an existing memory\n"
    )
    assert [m["text"] for m in memories(sel)] == ["I grow figs"]


def test_conversation_turns_about_one_person_are_all_kept_not_folded_into_updates(sel, tmp_path):
    turns = [
        {"text": "My sister is a nurse. She works nights at the city hospital.", "created_at": 1_700_000_000},
        {"text": "My sister is in Lisbon this spring. She sent me a postcard.", "created_at": 1_700_100_000},
        {"text": "My sister is visiting us in May.", "created_at": 1_700_200_000},
    ]
    source = tmp_path / "turns.jsonl"
    source.write_bytes(jsonl(*turns))
    assert sel("memory", "import", "7", str(source))[1] == "imported 3 lines for 7: 3 stored\n"
    assert sorted(m["text"] for m in memories(sel)) == sorted(t["text"] for t in turns)
    code, out, _ = sel("memory", "recall", "7", "what does my sister do for work?", "--json")
    assert code == 0 and "night" in json.loads(out)[0]["text"]


def test_an_absurd_creation_time_is_reported_readably(sel, tmp_path):
    source = tmp_path / "dates.jsonl"
    source.write_bytes(b'{"text": "I grow figs", "created_at": 1e300}\n')
    code, _, err = sel("memory", "import", "7", str(source))
    assert code == 2
    assert f'{source} line 1: "created_at" 1e+300 is not between 2000 and now' in err
    assert len(err) < 300 and err.count("\n") == 1


def test_a_device_is_refused_without_being_read(sel):
    code, out, err = sel("memory", "import", "7", "/dev/zero")
    assert (code, out) == (2, "")
    assert err == (
        "sel: error: /dev/zero: not a regular file (a folder, pipe or device); give the path of a .jsonl file\n"
    )


def test_a_named_pipe_is_refused_without_waiting_for_a_writer(sel, tmp_path):
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    result: list[tuple[int, str, str]] = []
    worker = threading.Thread(target=lambda: result.append(sel("memory", "import", "7", str(fifo))), daemon=True)
    worker.start()
    worker.join(timeout=120)  # a safety net, not a speed check: an import waiting on the pipe never returns
    if worker.is_alive():
        with open(fifo, "wb"):  # release the blocked reader so the test run can finish
            pass
        pytest.fail("the import opened the pipe and waited for a writer")
    code, _, err = result[0]
    assert code == 2 and "not a regular file" in err


def test_a_file_over_the_cap_is_refused_with_the_cap_named(sel, tmp_path, capsys):
    big = tmp_path / "big.jsonl"
    with big.open("wb") as file:
        file.truncate(MAX_IMPORT_BYTES + 1)  # sparse: nothing is written
    code, _, err = sel("memory", "import", "7", str(big))
    assert code == 2
    assert err == f"sel: error: {big}: larger than the import limit of 50 MB; split it into smaller files\n"
    with pytest.raises(SystemExit):
        sel("memory", "import", "--help")
    assert "at most 50 MB" in " ".join(capsys.readouterr().out.split())


MIXED = [
    {"text": "I live in Lisbon"},  # 1 stored
    "{not json",  # 2 refused
    {"text": "\u0007"},  # 3 refused: empty
    {"text": "my password is hunter2"},  # 4 refused: secret
    {"text": "I grow figs", "tags": ["garden"]},  # 5 stored
    {"text": "I knit", "mood": "happy"},  # 6 refused: unknown field
    {"text": "oh, btw, I live in lisbon!"},  # 7 duplicate of line 1
    {"text": "I moved to Oslo"},  # 8 updates line 1 (same slot: home)
]


def mixed_file(path: Path) -> Path:
    path.write_bytes(b"".join((o if isinstance(o, str) else json.dumps(o)).encode() + b"\n" for o in MIXED))
    return path


def test_without_skip_refused_the_first_bad_line_stops_the_import(sel, tmp_path):
    source = mixed_file(tmp_path / "mixed.jsonl")
    code, out, err = sel("memory", "import", "7", str(source))
    assert code == 2 and out == ""
    assert f"{source} line 2: not valid JSON" in err and "--skip-refused" in err and err.count("\n") == 1
    assert memories(sel) == [], "nothing was imported"


def test_skip_refused_imports_the_good_lines_lists_the_bad_ones_and_counts_truly(sel, tmp_path):
    source = mixed_file(tmp_path / "mixed.jsonl")
    code, out, err = sel("memory", "import", "7", str(source), "--skip-refused")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "imported 4 of 8 lines for 7: 2 stored, 1 duplicate of an existing memory, 1 update, 4 refused"
    assert [re.match(r"  refused line (\d+): ", line)[1] for line in lines[1:]] == ["2", "3", "4", "6"]
    assert "not valid JSON" in lines[1] and "empty" in lines[2] and "never stores" in lines[3] and "mood" in lines[4]
    kept = memories(sel)
    assert len(kept) == 2, "the stored count is what the store holds"
    assert sorted(m["text"] for m in kept) == ["I grow figs", "I moved to Oslo"]
    assert [m["version"] for m in kept if m["text"] == "I moved to Oslo"] == [2], "one memory was updated"
    on_disk = b"".join(p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file())
    assert b"hunter2" not in on_disk
