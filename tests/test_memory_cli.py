"""`sel memory ...` through the real entry point (sel.cli.main in-process, and `python -m sel` once)."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET

import pytest

from sel.cli import main
from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from tests.cli_runner import run_sel


@pytest.fixture
def sel(tmp_path, monkeypatch, capsys):
    """Run `sel ARGS...` in-process against a temp data dir; return (exit code, stdout, stderr)."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in [n for n in os.environ if n.startswith("SEL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SEL_EMBED_MODEL", str(default_models_dir() / DEFAULT_EMBED_DIR))

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


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
    assert code == 0 and "imported 2 memories" in out


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
