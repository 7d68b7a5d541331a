"""Storage faults: a process killed at any write, a full or read-only disk, damaged log lines, a torn mood file.

A full disk cannot be made here without mounting a small file system, and the tests run as root (so
chmod does not make a folder read-only): both are simulated at the OS boundary, by making ``os.write``,
``os.fsync`` and ``os.open`` fail with ENOSPC/EROFS for files inside the data folder, as the kernel would.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sel.brain.hormone_store import HormoneStore
from sel.brain.hormones import HORMONES, HormoneState
from sel.config import DEFAULT_EMBED_DIR, default_models_dir
from sel.errors import StorageError
from sel.memory import core
from sel.memory.embeddings import shared_embedder
from sel.memory.export import export_user
from sel.memory.store import MemoryStore

EMBED_DIR = default_models_dir() / DEFAULT_EMBED_DIR
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module", autouse=True)
def embedder():
    return shared_embedder(EMBED_DIR)


def texts_of(store: MemoryStore, user: str) -> list[str]:
    return [m["text"] for m in export_user(store, user)["memories"]]


# ---- a disk that fills up or turns read-only -------------------------------------------------


class FailingDisk:
    """Makes writes to files under ``root`` fail like a full (ENOSPC) or read-only (EROFS) disk.

    A full disk takes the first ``room`` bytes of a write and then refuses, so a half line reaches
    the file, as it does when space runs out in the middle of a write.
    """

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = str(root.resolve())
        self.error: int | None = None
        self.room = 0
        self.exempt: str | None = None  # a file name that keeps working (the rest of the disk refuses)
        self._write, self._fsync, self._open = os.write, os.fsync, os.open
        monkeypatch.setattr(os, "write", self.write)
        monkeypatch.setattr(os, "fsync", self.fsync)
        monkeypatch.setattr(os, "open", self.open)

    def _ours(self, fd: int) -> bool:
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return False
        return path.startswith(self.root) and not (self.exempt and path.endswith(self.exempt))

    def _refuse(self) -> OSError:
        assert self.error is not None
        return OSError(self.error, os.strerror(self.error))

    def write(self, fd: int, data: bytes | memoryview) -> int:
        if self.error is None or not self._ours(fd):
            return self._write(fd, data)
        if self.error == errno.ENOSPC and self.room > 0:
            taken = self._write(fd, bytes(data[: self.room]))
            self.room -= taken
            return taken
        raise self._refuse()

    def fsync(self, fd: int) -> None:
        if self.error is not None and self._ours(fd):
            raise self._refuse()
        self._fsync(fd)

    def open(self, path: str | os.PathLike[str], flags: int, *args: int, **kwargs: int) -> int:
        writing = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        if self.error == errno.EROFS and writing and str(Path(path).resolve()).startswith(self.root):
            raise self._refuse()
        return self._open(path, flags, *args, **kwargs)


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FailingDisk]:
    yield FailingDisk(tmp_path, monkeypatch)


@pytest.mark.parametrize(
    ("error", "says"), [(errno.ENOSPC, "disk is full"), (errno.EROFS, "read-only")], ids=["full", "read-only"]
)
def test_a_refused_write_is_one_clear_error_and_writes_resume_once_the_disk_allows(tmp_path, disk, error, says):
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.set_consent("u1", True)
        store.add("u1", "I play the bassoon")
        disk.error, disk.room = error, 23  # a full disk takes part of the next line before it refuses
        for attempt in ("my parrot is called Kiwi", "I live in Tromsø"):
            with pytest.raises(StorageError) as refused:
                store.add("u1", attempt)
            assert says in str(refused.value) and "\n" not in str(refused.value), str(refused.value)
        with pytest.raises(StorageError):
            store.set_consent("u2", True)
        assert texts_of(store, "u1") == ["I play the bassoon"], "a refused write must not show as stored"

        disk.error = None  # space freed, or the folder writable again: no restart needed
        store.add("u1", "I collect old maps")
        store.set_consent("u2", True)
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert sorted(texts_of(store, "u1")) == ["I collect old maps", "I play the bassoon"]
        assert store.has_consent("u2")
        assert store.stats()["quarantined_lines"] == 0, "the refused half line must not be left in the log"


def test_an_index_snapshot_the_disk_refuses_does_not_fail_a_write_already_made_durable(
    tmp_path, disk, caplog, monkeypatch
):
    monkeypatch.setattr(core, "SNAPSHOT_MIN_CHANGES", 20)  # a snapshot is due sooner than in real use
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        store.set_consent("u1", True)
        # The log's appends still fit; the index snapshot (atomic files, fsync'd) does not.
        disk.error, disk.exempt = errno.ENOSPC, "journal.jsonl"
        try:
            facts = [f"fact number {i} about my {i}th garden gnome" for i in range(30)]
            store.add_many("u1", facts)  # enough changes to ask for an index snapshot
        finally:
            disk.error = None
        assert "housekeeping" in caplog.text, "the snapshot was expected to be refused"
    with MemoryStore.open(tmp_path, EMBED_DIR) as store:
        assert len(texts_of(store, "u1")) == 30


# ---- SIGKILL at any write ---------------------------------------------------------------------

# The child counts its writes and fsyncs to files in the data folder and SIGKILLs itself at the
# chosen one, after writing part of it when `torn` is set: every kill point is reproducible.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sel.memory.store import MemoryStore

    root, embed_dir, kill_at, torn = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    real_write, real_fsync, calls = os.write, os.fsync, [0]

    def ours(fd):
        try:
            return os.readlink(f"/proc/self/fd/{fd}").startswith(str(root.resolve()))
        except OSError:
            return False

    def maybe_die(fd, data=None):
        if not ours(fd):
            return
        calls[0] += 1
        if calls[0] == kill_at:
            if data is not None and torn:
                real_write(fd, bytes(data[: max(1, len(data) // 2)]))
            os.kill(os.getpid(), signal.SIGKILL)

    def write(fd, data):
        maybe_die(fd, data)
        return real_write(fd, data)

    def fsync(fd):
        maybe_die(fd)
        real_fsync(fd)

    os.write, os.fsync = write, fsync
    store = MemoryStore.open(root, embed_dir)
    store.set_consent("keeper", True)
    print("consent", flush=True)
    for i in range(40):
        memory = store.add("keeper", f"note {i}: my {i}th favourite tea is from the hill number {i * 7}")
        print(memory.id, flush=True)
        if i % 6 == 2:
            store.set_consent(f"passer-{i}", True)
            store.add(f"passer-{i}", f"I am passing through town {i}")
        if i % 6 == 5:
            store.forget(f"passer-{i - 3}")
        if i % 9 == 4:
            store.checkpoint(force=True)
    print("done", flush=True)
    """
)


def run_until_killed(root: Path, kill_at: int, torn: bool) -> tuple[list[str], bool]:
    """Run the writer; return the ids it acknowledged and whether it gave consent before dying."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-c", CHILD, str(root), str(EMBED_DIR), str(kill_at), "1" if torn else "0"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    lines = done.stdout.split()
    if done.returncode != -signal.SIGKILL:
        assert done.returncode == 0 and lines[-1:] == ["done"], f"the writer failed: {done.stderr[-2000:]}"
    return [line for line in lines if line not in ("consent", "done")], "consent" in lines


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kill_at=st.integers(min_value=1, max_value=120), torn=st.booleans())
def test_sigkill_at_any_write_loses_nothing_acknowledged_and_the_store_opens(tmp_path_factory, kill_at, torn):
    root = tmp_path_factory.mktemp("killed")
    acked, consented = run_until_killed(root, kill_at, torn)
    with MemoryStore.open(root, EMBED_DIR) as store:
        assert store.has_consent("keeper") or not consented, "acknowledged consent was lost"
        kept = {m["id"] for m in export_user(store, "keeper")["memories"]}
        missing = [memory_id for memory_id in acked if memory_id not in kept]
        assert not missing, f"killed at write {kill_at} (torn={torn}): {len(missing)} acknowledged memories lost"
        assert store.stats()["quarantined_lines"] <= 1, "only the line being written can be torn"
        store.set_consent("keeper", True)
        store.add("keeper", "I still work after the crash")  # and it takes writes again


# ---- damaged log lines ------------------------------------------------------------------------

garbage_line = st.binary(min_size=1, max_size=80).filter(lambda b: b"\n" not in b and b.strip())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(damage=st.lists(st.tuples(st.integers(min_value=0, max_value=20), garbage_line), min_size=1, max_size=4))
def test_damaged_lines_anywhere_in_the_log_are_quarantined_and_every_good_record_kept(tmp_path_factory, damage):
    root = tmp_path_factory.mktemp("damaged")
    facts = ["I play the bassoon", "my parrot is called Kiwi", "I live in Tromsø", "I collect old maps"]
    with MemoryStore.open(root, EMBED_DIR) as store:
        store.set_consent("u1", True)
        store.add_many("u1", facts)
    journal = root / "memory" / "journal.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    for at, junk in damage:
        lines.insert(min(at, len(lines)), junk + b"\n")
    journal.write_bytes(b"".join(lines))
    with MemoryStore.open(root, EMBED_DIR) as store:
        assert sorted(texts_of(store, "u1")) == sorted(facts), "a damaged line cost good records"
        store.add("u1", "I brew my own cider")
        assert store.stats()["quarantined_lines"] <= len(damage)
    with MemoryStore.open(root, EMBED_DIR) as store:
        assert len(texts_of(store, "u1")) == 5


# ---- the mood file cut short ------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=400))
def test_a_mood_file_cut_short_at_any_byte_loads_as_defaults_or_whole_and_is_kept_aside(tmp_path_factory, cut):
    root = tmp_path_factory.mktemp("mood")
    store = HormoneStore(root, clock=lambda: 1_700_000_000.0)
    saved = HormoneState({name: 0.25 for name in HORMONES}, 1_699_999_000.0)
    store.save(saved)
    whole = store.path.read_bytes()
    store.path.write_bytes(whole[:cut])
    loaded = store.load()
    if cut >= len(whole.rstrip()):
        assert loaded == saved
    else:
        assert loaded is None, f"a mood file cut at byte {cut} was read as {loaded}"
        assert [p.name for p in root.glob("hormones.json.corrupt-*")], "the damaged file must be kept aside"
        store.save(saved)  # SEL writes a fresh one after starting from the defaults
        assert store.load() == saved


def test_a_mood_file_with_non_finite_numbers_is_refused(tmp_path):
    store = HormoneStore(tmp_path)
    levels = {name: 0.5 for name in HORMONES}
    store.path.write_text(json.dumps({"version": 1, "updated_at": float("inf"), "levels": levels}))
    assert store.load() is None, "a clock of infinity would freeze the mood for ever"
