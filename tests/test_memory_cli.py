"""`sel memory ...` through the real entry point (sel.cli.main in-process, and `python -m sel` once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from tests.cli_runner import REPO, run_sel

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR

# Stands in for the running bot: holds the store open, and on each stdin line reports what it recalls.
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sel.memory.store import MemoryStore

    store = MemoryStore.open(Path(sys.argv[1]), Path(sys.argv[2]))
    store.set_consent("42", True)
    store.add("42", "my turtle is called Shelly")
    print("ready", flush=True)
    sys.stdin.readline()
    print([r.text for r in store.recall("42", "what is my turtle called?")], flush=True)
    store.set_consent("7", True)
    store.add("7", "I am a nurse")
    store.close()
    print("closed", flush=True)
    """
)


def test_add_refuses_without_consent_with_exit_code_3_and_one_line(sel):
    code, out, err = sel("memory", "add", "42", "my turtle is called Shelly")
    assert code == 3
    assert out == ""
    assert err.count("\n") == 1 and "has not opted in" in err and "sel memory consent 42 on" in err


def test_consent_add_recall_export_stats_and_forget(sel):
    assert sel("memory", "consent", "42", "on")[0] == 0
    code, out, _ = sel("memory", "add", "42", "my turtle is called Shelly", "--tags", "pets, reptiles")
    assert code == 0 and out.startswith("stored memory ")
    assert sel("memory", "add", "42", "I am allergic to wasps", "--hard")[0] == 0

    code, out, _ = sel("memory", "recall", "42", "what is my turtle called?", "-k", "1", "--json")
    recalled = json.loads(out)
    assert code == 0 and [r["text"] for r in recalled] == ["my turtle is called Shelly"]
    assert recalled[0]["tags"][:2] == ["pets", "reptiles"]

    code, out, _ = sel("memory", "recall", "42", "what am I allergic to?")
    assert code == 0 and "I am allergic to wasps" in out.splitlines()[0]

    code, out, _ = sel("memory", "export", "42")
    exported = json.loads(out)
    assert exported["consent"] is True and len(exported["memories"]) == 2

    code, out, _ = sel("memory", "stats", "--json")
    assert json.loads(out)["memories"] == 2

    code, out, _ = sel("memory", "forget", "42")
    assert code == 0 and "forgot everything about 42" in out
    assert json.loads(sel("memory", "export", "42")[1])["memories"] == []
    assert sel("memory", "add", "42", "I am back")[0] == 3, "forget also removes consent"


def test_add_says_whether_it_stored_updated_or_found_a_duplicate(sel):
    sel("memory", "consent", "42", "on")
    code, out, _ = sel("memory", "add", "42", "I live in Lisbon")
    memory_id = out.split()[2]
    assert code == 0 and out == f"stored memory {memory_id} for 42 (expires 14 days after last seen)\n"
    code, out, _ = sel("memory", "add", "42", "oh, btw, i live in lisbon!")
    assert code == 0 and out == (
        f"duplicate of memory {memory_id} for 42: 'I live in Lisbon' is already kept; nothing new stored\n"
    )
    code, out, _ = sel("memory", "add", "42", "I moved to Oslo")
    assert code == 0 and out == (
        f"updated memory {memory_id} for 42: 'I live in Lisbon' is now 'I moved to Oslo' "
        "(expires 14 days after last seen)\n"
    )
    assert [m["text"] for m in json.loads(sel("memory", "export", "42")[1])["memories"]] == ["I moved to Oslo"]


def test_import_reports_the_bad_line_and_imports_nothing(sel, tmp_path):
    sel("memory", "consent", "7", "on")
    source = tmp_path / "facts.jsonl"
    source.write_text('{"text": "I grow figs"}\n{"text": "I fence"}\n{"txt": "typo"}\n')
    code, out, err = sel("memory", "import", "7", str(source))
    assert code == 2 and out == ""
    assert f"{source} line 3" in err and "unknown field 'txt'" in err and err.count("\n") == 1
    assert json.loads(sel("memory", "stats", "--json")[1])["memories"] == 0
    source.write_text('{"text": "I grow figs"}\n{"text": "I fence", "tags": "sport"}\n')
    code, out, _ = sel("memory", "import", "7", str(source))
    assert code == 0 and out == "imported 2 lines for 7: 2 stored\n"


def test_svg_writes_a_well_formed_map(sel, tmp_path):
    sel("memory", "consent", "7", "on")
    sel("memory", "add", "7", "I <3 jazz & blues")
    target = tmp_path / "map.svg"
    code, out, _ = sel("memory", "svg", "7", "-o", str(target))
    assert code == 0 and str(target) in out
    root = ET.fromstring(target.read_text(encoding="utf-8"))
    assert [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")] == ["I <3 jazz & blues"]
    code, _, err = sel("memory", "svg", "7", "-o", str(tmp_path / "missing-dir" / "map.svg"))
    assert code == 2 and "cannot write" in err


def test_stats_prints_readable_lines(sel):
    code, out, _ = sel("memory", "stats")
    assert code == 0 and "memories: 0" in out.splitlines()


def test_bad_arguments_are_rejected_by_the_parser(sel):
    with pytest.raises(SystemExit) as exit_info:
        sel("memory", "recall", "7", "query", "-k", "0")
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        sel("memory", "consent", "7", "maybe")


def test_python_dash_m_sel_memory_prints_one_line_errors_without_traceback(tmp_path):
    env = {"SEL_DATA_DIR": str(tmp_path / "data"), "SEL_EMBED_MODEL": str(default_models_dir() / DEFAULT_EMBED_DIR)}
    result = run_sel("memory", "add", "99", "I like owls", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_the_cli_is_refused_with_one_line_while_another_process_holds_the_store(tmp_path):
    data_dir = tmp_path / "data"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir), str(EMBED_DIR)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline().strip() == "ready", holder.stderr.read() if holder.stderr else ""
        env = {"SEL_DATA_DIR": str(data_dir), "SEL_EMBED_MODEL": str(EMBED_DIR)}
        result = run_sel("memory", "forget", "42", env=env, cwd=tmp_path, timeout=120)
        assert result.returncode != 0 and result.stdout == ""
        assert result.stderr == (
            f"sel: error: the memory store in {data_dir / 'memory'} is in use by another SEL process "
            "(is the bot running?); stop it first, or use the bot's remember/export/forget commands\n"
        )
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "['my turtle is called Shelly']", "the holder lost its memory"
        assert holder.stdout.readline().strip() == "closed"
    finally:
        holder.kill()
        holder.wait(timeout=30)
    result = run_sel("memory", "export", "7", env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert [m["text"] for m in json.loads(result.stdout)["memories"]] == ["I am a nurse"], "a later write was lost"
    result = run_sel("memory", "export", "42", env=env, cwd=tmp_path, timeout=120)
    assert [m["text"] for m in json.loads(result.stdout)["memories"]] == ["my turtle is called Shelly"]


def test_add_refuses_a_secret_with_one_line(sel):
    sel("memory", "consent", "42", "on")
    code, out, err = sel("memory", "add", "42", "my bank pin is 1234")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "never stores" in err
    assert json.loads(sel("memory", "export", "42")[1])["memories"] == []
