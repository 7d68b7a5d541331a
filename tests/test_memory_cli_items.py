"""`sel memory list|delete|history` through the real entry point (in-process, and `python -m sel` once)."""

from __future__ import annotations

import json
import time

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from tests.cli_runner import run_sel

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR


def stored_id(sel, user: str, text: str, *flags: str) -> str:
    code, out, _ = sel("memory", "add", user, text, *flags)
    assert code == 0, out
    return out.split()[2]  # "stored memory <id> for ..." / "updated memory <id> for ..."


def minute(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def test_list_shows_ids_dates_hardness_and_text_and_delete_removes_one(sel):
    sel("memory", "consent", "42", "on")
    before = time.time()
    turtle = stored_id(sel, "42", "my turtle is called Shelly", "--hard")
    nurse = stored_id(sel, "42", "I am a nurse")
    code, out, _ = sel("memory", "list", "42")
    assert code == 0
    lines = out.splitlines()
    assert [line.split("  ")[0] for line in lines] == [turtle, nurse]
    assert lines[0].endswith("  hard  my turtle is called Shelly") and lines[1].endswith("  soft  I am a nurse")
    assert lines[0].split("  ")[1] in {minute(before), minute(time.time())}, "the date the fact was said"
    listed = json.loads(sel("memory", "list", "42", "--json")[1])
    assert [(m["id"], m["text"], m["hard"]) for m in listed] == [
        (turtle, "my turtle is called Shelly", True),
        (nurse, "I am a nurse", False),
    ]

    code, out, _ = sel("memory", "delete", "42", turtle)
    assert code == 0 and out == f"deleted memory {turtle} of 42: 'my turtle is called Shelly'\n"
    assert [m["id"] for m in json.loads(sel("memory", "list", "42", "--json")[1])] == [nurse]
    assert sel("memory", "list", "7") == (0, "no memories of 7\n", "")


def test_delete_refuses_an_id_that_is_not_that_users_in_one_line(sel):
    sel("memory", "consent", "42", "on")
    sel("memory", "consent", "7", "on")
    theirs = stored_id(sel, "7", "I am a nurse")
    code, out, err = sel("memory", "delete", "42", theirs)
    assert code != 0 and out == ""
    assert err == f"sel: error: 42 has no memory with id {theirs!r}; list their memories to see the ids\n"
    assert [m["id"] for m in json.loads(sel("memory", "list", "7", "--json")[1])] == [theirs], "7's memory stays"


def test_history_lists_every_version_of_corrected_memories_with_dates(sel):
    sel("memory", "consent", "42", "on")
    assert sel("memory", "history", "42") == (0, "no corrected memories of 42\n", "")
    home = stored_id(sel, "42", "I live in Lisbon")
    stored_id(sel, "42", "I am a nurse")  # never corrected: not listed
    assert stored_id(sel, "42", "I moved to Oslo") == home
    code, out, _ = sel("memory", "history", "42")
    assert code == 0
    header, lisbon, oslo = out.splitlines()
    assert header == f"{home} (home)"
    assert lisbon.strip().endswith("I live in Lisbon") and oslo.strip().endswith("I moved to Oslo")
    assert " to now " in oslo and " to now " not in lisbon, "only the current version is still true"
    (entry,) = json.loads(sel("memory", "history", "42", "--json")[1])
    versions = entry["versions"]
    assert entry["id"] == home and [v["text"] for v in versions] == ["I live in Lisbon", "I moved to Oslo"]
    assert versions[0]["valid_to"] == versions[1]["valid_from"] and versions[1]["valid_to"] is None
    assert lisbon.strip().startswith(f"{minute(versions[0]['valid_from'])} to {minute(versions[0]['valid_to'])}")


def test_python_dash_m_sel_memory_delete_prints_one_line_errors(tmp_path):
    env = {"SEL_DATA_DIR": str(tmp_path / "data"), "SEL_EMBED_MODEL": str(EMBED_DIR)}
    result = run_sel("memory", "delete", "42", "0123456789abcdef", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode != 0 and result.stdout == ""
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1, result.stderr
