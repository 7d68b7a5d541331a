"""One writer at a time: the exclusive lock a :class:`~sel.memory.store.MemoryStore` holds while open.

The store keeps the log open for appending and replaces it atomically when it compacts
or forgets a user. A second process doing the same (e.g. `sel memory forget` while the
bot runs) would swap the file out from under the first, which then keeps appending to
the unlinked old file: it would still recall the forgotten user and its later writes
would vanish at restart. So opening the store takes an advisory ``flock`` on a lock file
and fails fast if someone else holds it.

``flock`` locks belong to the open file, not the process, so a second open in the same
process is refused too, and the kernel drops the lock when a process dies (no stale
lock files to clean up after a crash).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sel.errors import SelError

LOCK_FILE_NAME = "lock"


class StoreInUseError(SelError):
    """The memory store is already open in another SEL process (or elsewhere in this one)."""

    exit_code = 1


class StoreLock:
    """An exclusive, non-blocking lock on ``root/lock``; held from :meth:`acquire` until :meth:`release`."""

    def __init__(self, root: Path, fd: int) -> None:
        self.root = root
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, root: Path) -> StoreLock:
        """Lock the store in ``root``; raise StoreInUseError at once if it is already locked."""
        fd = os.open(root / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreInUseError(
                f"the memory store in {root} is in use by another SEL process (is the bot running?); "
                "stop it first, or use the bot's remember/export/forget commands"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        return cls(root, fd)

    def release(self) -> None:
        """Give the lock up (closing the file releases it); calling it again does nothing."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
