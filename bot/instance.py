"""One bot process per token on a computer: a lock file in the user's data folder.

Two copies polling with one token take each other's updates (Telegram answers
409 Conflict); the second copy on the same computer is told so before it polls.
Copies on different computers are caught by the 409 itself (see the runner).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import IO

from bot.credentials import Secret

ALREADY_RUNNING = (
    "another copy of this bot is already running on this computer (process {pid}); "
    "stop it first, or use another bot token"
)
ELSEWHERE = (
    "another copy of this bot is polling Telegram with the same token (409 Conflict), "
    "probably on another computer; stop it first, or use another bot token"
)


class InstanceLock:
    """An exclusive lock on ``bot-<hash of the token>.lock``, held while the bot runs.

    The lock is the operating system's (``flock`` or ``msvcrt.locking``), so a
    crashed bot leaves nothing held behind.

    Args:
        folder: Where the lock file lives (the app's data folder).
        token: The bot token; only a hash of it names the file.
    """

    def __init__(self, folder: Path, token: Secret) -> None:
        digest = hashlib.sha256(token.reveal().encode()).hexdigest()[:16]
        self.path = folder / f"bot-{digest}.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            RuntimeError: Another process holds it; the message names its process id.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release
        if not _try_lock(handle):
            handle.seek(0)
            pid = handle.read().strip() or "unknown"
            handle.close()
            raise RuntimeError(ALREADY_RUNNING.format(pid=pid))
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Let go of the lock (safe to call twice)."""
        handle, self._file = self._file, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
            _unlock(handle)
        handle.close()

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _try_lock(handle: IO[str]) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(handle: IO[str]) -> None:
    try:
        import fcntl
    except ImportError:
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
