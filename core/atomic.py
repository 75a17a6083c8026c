"""Replacing a file all at once, or not at all.

The new content goes to a temporary file in the target's own folder, is
flushed to disk, takes the old file's permission bits (or, for a new file,
the ones the umask allows), and then replaces the target with one
``os.replace``. A failure at any step (a full disk, a read-only folder)
removes the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def _write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` to ``fd`` (``os.write`` may write less)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new, empty file beside ``path``; mode 0666 less the umask, as for any new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
        try:
            fd = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666
            )
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(f"cannot make a temporary file beside {path}")


def _take_mode(tmp: Path, original: os.stat_result | None) -> None:
    if original is None:
        return
    os.chmod(tmp, stat.S_IMODE(original.st_mode))
    if hasattr(os, "chown") and (original.st_uid, original.st_gid) != (
        (own := os.stat(tmp)).st_uid,
        own.st_gid,
    ):
        with contextlib.suppress(OSError):  # only root may give a file away
            os.chown(tmp, original.st_uid, original.st_gid)


@contextlib.contextmanager
def _replacing_fd(path: Path) -> Iterator[int]:
    """A temporary file's descriptor that replaces ``path`` when the block ends without an error.

    The block writes, flushes to disk and closes the descriptor; the old file's
    permission bits (or the umask's, for a new file) then go to the new one.
    """
    try:
        original: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        original = None
    fd, tmp = _create_temp(path)
    try:
        yield fd
        _take_mode(tmp, original)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_bytes(path: Path, data: bytes) -> os.stat_result:
    """Replace ``path`` with ``data`` atomically; returns the new file's stat.

    An existing file keeps its permission bits (and owner, where allowed); a new
    one gets the umask's. Hard links to the old file keep the old content.
    """
    with _replacing_fd(path) as fd:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
    return os.stat(path)


@contextlib.contextmanager
def replacing(path: Path, *, encoding: str, newline: str | None = None) -> Iterator[IO[str]]:
    """A text file to write that replaces ``path`` when the block ends without an error."""
    with (
        _replacing_fd(path) as fd,
        open(fd, "w", encoding=encoding, newline=newline) as fh,
    ):
        yield fh
        fh.flush()
        os.fsync(fh.fileno())
