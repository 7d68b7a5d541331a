"""Bad input that used to hang, crash or leak a traceback: each gets one line and a non-zero exit, or a cleaned value.

Undecodable bytes reach SEL as bytes on stdin, in argv, in environment values and in `.env`;
the subprocess tests pass them exactly as a shell would, so Python's own decoding is exercised.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from sel.app import open_app
from sel.cli import main
from sel.cli.doctor import run_checks
from sel.cli.models import install_default_models
from sel.cli.voice import MAX_SAY_CHARS, register
from sel.config import Settings, load_settings, read_environment
from sel.domain import PromptPlan, Turn
from sel.errors import ConfigError, InputError
from sel.frontends.terminal import chat
from sel.llm.engine import Engine
from sel.llm.gguf_header import architecture
from sel.memory.records import Memory
from sel.memory.state import LABEL_ROOM, MemoryState, put_event

HANG_GUARD_SECONDS = 300  # far beyond any run on a loaded machine: reaching it means SEL waits forever


def run_sel_bytes(
    *args: str | bytes, env: dict[str, str], cwd: Path, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    """`python -m sel ARGS` with raw bytes in argv and on stdin, and only ``env``'s SEL settings."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEL_") and k != "DISCORD_TOKEN"}
    full_env.update(env)
    return subprocess.run(
        [sys.executable.encode(), b"-m", b"sel", *(a if isinstance(a, bytes) else a.encode() for a in args)],
        input=stdin,
        capture_output=True,
        env=full_env,
        cwd=cwd,
        timeout=HANG_GUARD_SECONDS,
    )


def one_error_line(stderr: bytes) -> str:
    """The single `sel: error:` line of ``stderr``; fails the test on a traceback or extra lines."""
    text = stderr.decode("utf-8", errors="replace")
    lines = text.strip().splitlines()
    assert "Traceback" not in text and len(lines) == 1, f"expected one error line, got:\n{text}"
    assert lines[0].startswith("sel: error: "), text
    return lines[0]


def memory_env(tmp_path: Path, bundled_models_dir: Path) -> dict[str, str]:
    return {
        "SEL_DATA_DIR": str(tmp_path / "data"),
        "SEL_EMBED_MODEL": str(bundled_models_dir / "all-MiniLM-L6-v2-int8"),
    }


# -- stdin: a byte that is not UTF-8 ------------------------------------------------------------------


@pytest.mark.parametrize("locale_env", [{"PYTHONIOENCODING": "utf-8"}, {"LC_ALL": "C.UTF-8"}], ids=["strict", "c-utf8"])
def test_piped_chat_answers_every_line_around_an_undecodable_byte(tiny_models, tmp_path: Path, locale_env) -> None:
    env = {
        "SEL_GENERAL_MODEL": str(tiny_models.general),
        "SEL_CODER_MODEL": str(tiny_models.coder),
        "SEL_DATA_DIR": str(tmp_path / "data"),
        "SEL_MAX_NEW_TOKENS": "4",
        **locale_env,
    }
    result = run_sel_bytes("chat", env=env, cwd=tmp_path, stdin=b"hello \xff there\nand a second line\n")
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    replies = [line for line in result.stdout.decode().splitlines() if line.strip()]
    assert len(replies) >= 2, f"every line needs an answer, got {result.stdout!r}"


class BrokenStdin(io.TextIOBase):
    """A stdin whose reads fail, as a terminal that went away does."""

    def readline(self, size: int | None = -1) -> str:
        raise OSError(5, "Input/output error")

    def isatty(self) -> bool:
        return False


async def test_a_failing_stdin_ends_the_chat_with_one_error_instead_of_waiting(make_settings) -> None:
    app = open_app(make_settings(), with_memory=False)
    try:
        conversation = chat(app.settings, BrokenStdin(), io.StringIO(), app)
        with pytest.raises(InputError, match=r"cannot read the input any more \(.*Input/output error\)"):
            await asyncio.wait_for(conversation, HANG_GUARD_SECONDS)
    finally:
        await app.aclose()


async def test_the_engine_tokenizes_text_holding_an_undecodable_byte(make_settings) -> None:
    engine = Engine(make_settings())
    plan = PromptPlan(persona="SEL is a friendly companion.", turns=(Turn("alice", "caf\udce9 au lait?"),))
    try:
        reply = await engine.complete("general", plan, conversation="c1")
    finally:
        engine.close()
    assert reply.strip(), "the surrogate should have become U+FFFD and the model should have answered"


# -- argv and environment: undecodable bytes -----------------------------------------------------------


@pytest.mark.slow
def test_memory_tools_take_user_ids_and_text_with_undecodable_bytes(bundled_models_dir: Path, tmp_path: Path) -> None:
    env = memory_env(tmp_path, bundled_models_dir)
    user = b"ab\xff"
    assert run_sel_bytes("memory", "consent", user, "on", env=env, cwd=tmp_path).returncode == 0
    added = run_sel_bytes("memory", "add", user, b"drinks caf\xe9 every morning", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr.decode(errors="replace")
    recalled = run_sel_bytes("memory", "recall", user, b"morning caf\xe9", "--json", env=env, cwd=tmp_path)
    assert recalled.returncode == 0, recalled.stderr.decode(errors="replace")
    assert json.loads(recalled.stdout)[0]["text"] == "drinks caf\ufffd every morning"
    exported = run_sel_bytes("memory", "export", user, env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr.decode(errors="replace")
    assert json.loads(exported.stdout)["user_id"] == "ab\ufffd"


def test_file_names_with_an_undecodable_byte_are_printed_with_a_replacement(
    tmp_path: Path, bundled_models_dir: Path
) -> None:
    env = {**memory_env(tmp_path, bundled_models_dir), "PYTHONIOENCODING": "utf-8"}
    out = bytes(tmp_path) + b"/map\xff.svg"
    result = run_sel_bytes("memory", "svg", "local", "-o", out, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert b"map?.svg" in result.stdout, "the name is printed with a replacement character"
    assert os.path.isfile(out), "the file keeps its real name"
    missing = bytes(tmp_path) + b"/gone\xff/map.svg"
    result = run_sel_bytes("memory", "svg", "local", "-o", missing, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "gone\ufffd" in one_error_line(result.stderr), "error lines show U+FFFD, not \\udcff"


def test_a_data_folder_name_that_is_not_utf8_is_one_line(tmp_path: Path, bundled_models_dir: Path) -> None:
    env = {**memory_env(tmp_path, bundled_models_dir), "SEL_DATA_DIR": os.fsdecode(bytes(tmp_path) + b"/caf\xe9")}
    result = run_sel_bytes("memory", "stats", "--json", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "SEL_DATA_DIR=" in one_error_line(result.stderr) and "not valid UTF-8" in result.stderr.decode()


def test_text_settings_clean_undecodable_bytes_in_the_environment_and_dotenv(tmp_path: Path) -> None:
    assert load_settings({"SEL_PREFIX": "?\udcff"}).prefix == "?\ufffd"
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(b"SEL_PREFIX=caf\xe9\n")
    assert read_environment(dotenv)["SEL_PREFIX"] == "caf\ufffd"


# -- the memory log: a label that would size the index to gigabytes ------------------------------------


def logged_memory(label: int, memory_id: str = "m-absurd", user: str = "local") -> dict[str, object]:
    return put_event(Memory(memory_id, user, "likes green tea", ("tea",), False, 1.0, 1.0, label))


def test_an_absurd_label_on_replay_gets_a_dense_one() -> None:
    state = MemoryState()
    state.apply(logged_memory(0, "m-first"))
    state.apply(logged_memory(5_000_000))  # small enough that a regression costs seconds, not all the memory
    assert state.memories["m-absurd"].label == 1, "the memory is kept under the next free label"
    assert state.label_extent == 2, f"labels must stay dense, the extent grew to {state.label_extent}"


def test_a_later_line_may_claim_the_label_a_relabelled_memory_was_given() -> None:
    # Compacted after many deletions: the surviving memory's label is far above the memory count;
    # then the writing process filled label 0 before the restart.
    state = MemoryState()
    state.apply(logged_memory(LABEL_ROOM + 5_000, "m-survivor"))
    state.apply(logged_memory(0, "m-new"))
    assert state.memories["m-new"].label == 0
    assert state.memories["m-survivor"].label == 1, "the relabelled memory moves aside instead of a line being lost"
    assert len({m.label for m in state.memories.values()}) == 2


@pytest.mark.slow
def test_the_store_opens_a_log_with_an_absurd_label_without_a_huge_index(
    bundled_models_dir: Path, tmp_path: Path
) -> None:
    from sel.memory.store import MemoryStore

    embed = bundled_models_dir / "all-MiniLM-L6-v2-int8"
    with MemoryStore.open(tmp_path, embed) as store:
        store.set_consent("local", True)
        store.add("local", "has a turtle named Shelly")
    journal = tmp_path / "memory" / "journal.jsonl"
    # Large enough that an index sized by it shows, small enough not to exhaust the machine without the fix.
    journal.write_bytes(journal.read_bytes() + json.dumps(logged_memory(200_000)).encode() + b"\n")
    with MemoryStore.open(tmp_path, embed) as store:
        stats = store.stats()
        recalled = store.recall("local", "what tea do they like", k=1)
    assert stats["memories"] == 2 and stats["quarantined_lines"] == 0
    assert stats["index_extent"] == 2, f"the index was sized by the damaged label: {stats}"
    assert recalled and recalled[0].text == "likes green tea"


# -- settings that leaked a traceback or a misleading message --------------------------------------------


@pytest.mark.parametrize("zone", ["America", "Europe", "Etc"])
def test_a_time_zone_folder_is_a_config_error(zone: str) -> None:
    with pytest.raises(ConfigError, match=rf"SEL_TIMEZONE='{zone}' is not a time zone"):
        load_settings({"SEL_TIMEZONE": zone})


def test_range_bounds_print_integers_as_integers() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({"SEL_SEED": "99999999999"})
    assert str(caught.value) == "SEL_SEED=99999999999 is out of range; set it to a number from -1 to 2147483647"


def blocked_by_a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("x")
    return tmp_path / "a-file" / "data"


def memory_file_inside(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "memory").write_text("x")
    return tmp_path / "data"


@pytest.mark.parametrize(
    "make_data_dir",
    [blocked_by_a_file, memory_file_inside, lambda _: Path("/proc/sel-data")],
    ids=["file-on-the-path", "memory-is-a-file", "under-proc"],
)
def test_memory_tools_name_an_unusable_data_dir_in_one_line(
    make_data_dir, tmp_path: Path, bundled_models_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    data_dir = make_data_dir(tmp_path)
    for key, value in {**memory_env(tmp_path, bundled_models_dir), "SEL_DATA_DIR": str(data_dir)}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    assert main(["memory", "stats"]) == 2
    assert one_error_line(capsys.readouterr().err.encode()).startswith(
        f"sel: error: SEL_DATA_DIR={data_dir}: cannot use "
    )


def test_a_models_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    target = tmp_path / "models"
    target.write_text("x")
    with pytest.raises(ConfigError, match=rf"SEL_MODELS_DIR={target}: .*{target} is a file, not a folder"):
        install_default_models(target)


# -- sel doctor: a GGUF header that claims more than the file holds ---------------------------------------


def gguf_claiming_a_huge_string(path: Path, *, in_value: bool) -> Path:
    key = b"general.architecture"
    header = b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
    if in_value:
        header += struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, 2**62)
    else:
        header += struct.pack("<Q", 2**62) + key
    path.write_bytes(header + b"llama")
    return path


@pytest.mark.parametrize("in_value", [False, True], ids=["key", "value"])
def test_doctor_reports_a_gguf_with_an_impossible_length_as_damaged(tiny_models, tmp_path: Path, in_value) -> None:
    damaged = gguf_claiming_a_huge_string(tmp_path / "mmproj.gguf", in_value=in_value)
    with pytest.raises(ValueError, match="runs past the end of the file"):
        architecture(damaged)
    settings = load_settings(
        {
            "SEL_DATA_DIR": str(tmp_path / "data"),
            "SEL_VISION_MODEL": str(tiny_models.chat),
            "SEL_VISION_MMPROJ": str(damaged),
        }
    )
    check = next(c for c in run_checks(settings) if c.name == "vision mmproj model")
    assert check.status == "MISSING" and "a damaged GGUF" in check.detail, check


# -- sel say and sel transcribe -----------------------------------------------------------------------------


@pytest.fixture
def voice_settings(bundled_models_dir: Path, tmp_path: Path) -> Settings:
    return load_settings({"SEL_MODELS_DIR": str(bundled_models_dir), "SEL_DATA_DIR": str(tmp_path / "data")})


def run_voice(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sel")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args, settings)


def test_say_refuses_text_over_the_cap_before_synthesizing(voice_settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "long.wav"
    with pytest.raises(InputError, match=rf"{MAX_SAY_CHARS + 1} characters; `sel say` speaks at most {MAX_SAY_CHARS}"):
        run_voice(voice_settings, "say", "a" * (MAX_SAY_CHARS + 1), "-o", str(out))
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("folder.wav", r"folder\.wav is a folder; give a file"),
        ("/proc/self/sel.wav", r"cannot write /proc/self/sel\.wav"),
    ],
    ids=["folder", "unwritable"],
)
def test_say_names_an_output_it_cannot_write(voice_settings: Settings, tmp_path: Path, output, message) -> None:
    (tmp_path / "folder.wav").mkdir()
    with pytest.raises(InputError, match=message):
        run_voice(voice_settings, "say", "hello", "-o", str(tmp_path / output))


@pytest.mark.slow
def test_say_speaks_text_with_an_undecodable_byte(bundled_models_dir: Path, tmp_path: Path) -> None:
    env = {"SEL_MODELS_DIR": str(bundled_models_dir), "SEL_DATA_DIR": str(tmp_path / "data")}
    out = tmp_path / "caf.wav"
    result = run_sel_bytes("say", b"a caf\xe9 please", "-o", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert out.stat().st_size > 44, "the WAV holds no samples"


def test_transcribe_says_a_device_or_fifo_is_not_a_regular_file(voice_settings: Settings, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        with pytest.raises(InputError, match="is not a regular file"):
            run_voice(voice_settings, "transcribe", path)


def test_a_setting_with_a_line_break_is_named_on_one_line_with_the_break_shown(tmp_path: Path) -> None:
    """Found by hypothesis: SEL_VISION_MMPROJ="0\\n0" gave a two-line error."""
    from sel.config import load_settings
    from sel.errors import ModelError, render_error

    env = {"SEL_DATA_DIR": str(tmp_path / "data"), "SEL_MODELS_DIR": str(tmp_path / "models")}
    with pytest.raises(ModelError) as caught:
        load_settings({**env, "SEL_VISION_MMPROJ": "0\n0\u20280"})
    line = render_error(caught.value)
    assert line.splitlines() == [line]
    assert line.startswith("SEL_VISION_MMPROJ=0\\n0\\u20280: file not found"), line
