"""Work that must not run on the GUI thread: database, inference and thumbnails.

The pattern is Anki's taskman: the GUI hands a function to a worker and gets
the result back through a queued signal on its own thread, so no widget is
ever touched from elsewhere and no click waits on SQLite, a decoder or the
network. There is one database worker (a thread with its own
:class:`core.store.Store`, since SQLite connections belong to one thread), one
tagging run at a time (in its own process with its own Store on the same WAL
file, :mod:`desktop.tagging`) and a thread pool for thumbnails.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage

from core.engine.sources import PhotoRef

log = logging.getLogger(__name__)

DbTask = Callable[[Any], Any]
"""A function of the worker's Store, run on the database thread."""


class _DbJobRunner(QObject):
    """Lives on the database thread; opens its Store there on first use."""

    done = Signal(object, object, object, object)  # on_done, on_error, result, error

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        self._db_path = db_path
        self._store: Any = None

    @Slot(object, object, object)
    def run(self, fn: DbTask, on_done: Callable | None, on_error: Callable | None) -> None:
        try:
            if self._store is None:
                from core.store import Store

                self._store = Store(self._db_path)
            result = fn(self._store)
        except Exception as exc:  # every failure goes back to the GUI as a message
            log.exception("database task failed")
            self.done.emit(on_done, on_error, None, exc)
        else:
            self.done.emit(on_done, on_error, result, None)

    @Slot()
    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


class DbWorker(QObject):
    """The one database thread: tasks run in the order they are submitted.

    Signals:
        failed: A task raised and had no error callback; carries the message.
    """

    failed = Signal(str)
    _submit = Signal(object, object, object)
    _close = Signal()

    def __init__(self, db_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.db_path = db_path
        self.pending = 0
        self._thread = QThread()
        self._thread.setObjectName("phototagger-db")
        self._runner = _DbJobRunner(db_path)
        self._runner.moveToThread(self._thread)
        self._submit.connect(self._runner.run)
        # Blocking: the Store is closed (after every task queued before it) before stop() returns.
        self._close.connect(self._runner.close, Qt.ConnectionType.BlockingQueuedConnection)
        self._stopped = False
        self._runner.done.connect(self._deliver)
        self._thread.start()

    def submit(
        self,
        fn: DbTask,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
    ) -> None:
        """Run ``fn(store)`` on the database thread; ``on_done(result)`` runs on the GUI thread."""
        self.pending += 1
        self._submit.emit(fn, on_done, on_error)

    @Slot(object, object, object, object)
    def _deliver(self, on_done, on_error, result, error) -> None:
        self.pending -= 1
        if error is not None:
            if on_error is not None:
                on_error(error)
            else:
                self.failed.emit(str(error))
        elif on_done is not None:
            on_done(result)

    def stop(self) -> None:
        """Run what is queued, close the Store on its own thread, then end the thread."""
        if self._stopped:
            return
        self._stopped = True
        self._close.emit()
        self._thread.quit()
        self._thread.wait(5000)


class ProgressRelay(QObject):
    """Carries (done, total) from a database task on its thread to the GUI thread.

    Emitting ``progressed`` from the worker's thread queues the call to this
    object's thread, so a plain engine callback can drive a progress bar.
    """

    progressed = Signal(int, int)


def thumbnail_cache_path(cache_dir: Path, ref: PhotoRef, size: int) -> Path:
    """Where a file's thumbnail lives on disk: keyed by path, size and mtime, so edits refresh it."""
    key = hashlib.sha1(f"{ref.uri}|{ref.size}|{ref.mtime}|{size}".encode()).hexdigest()
    return cache_dir / key[:2] / f"{key}.jpg"


class _ThumbnailSignals(QObject):
    loaded = Signal(str, int, QImage)
    failed = Signal(str, int, str)


class _ThumbnailJob(QRunnable):
    def __init__(
        self,
        ref: PhotoRef,
        size: int,
        cache_dir: Path,
        signals: _ThumbnailSignals,
        preview_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.ref, self.size, self.cache_dir, self.signals = ref, size, cache_dir, signals
        self.preview_dir = preview_dir

    def _with_preview(self):
        """The thumbnail made with the viewer's preview, for photos slow to decode; else None."""
        if self.preview_dir is None:
            return None
        from desktop.previews import thumbnail_with_preview

        try:
            return thumbnail_with_preview(
                Path(self.ref.uri), size=self.size, preview_dir=self.preview_dir
            )
        except Exception:  # the plain thumbnail says what is wrong with the file
            return None

    def run(self) -> None:
        try:
            image = self._load()
        except Exception as exc:
            self.signals.failed.emit(self.ref.uri, self.size, str(exc))
        else:
            self.signals.loaded.emit(self.ref.uri, self.size, image)

    def _load(self) -> QImage:
        from core.engine.imaging import make_thumbnail

        if self.ref.kind == "url":
            from core.engine.sources import fetch_url

            # Fetched into memory only: neither the photo nor its thumbnail touches the disk.
            return _to_qimage(make_thumbnail(fetch_url(self.ref.uri), size=self.size))
        cached = thumbnail_cache_path(self.cache_dir, self.ref, self.size)
        if cached.exists():
            image = QImage(str(cached))
            if not image.isNull():
                return image
        thumb = self._with_preview() or make_thumbnail(Path(self.ref.uri), size=self.size)
        cached.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        thumb.save(buffer, "JPEG", quality=85)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(cached)
        return _to_qimage(thumb)


def _to_qimage(image) -> QImage:
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    # copy(): the QImage must own its pixels once the Python bytes go away.
    return QImage(data, rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888).copy()


class ThumbnailLoader(QObject):
    """Makes thumbnails on a thread pool, newest request first, through a disk cache.

    Signals:
        loaded: (uri, size, image) on the GUI thread.
        failed: (uri, size, reason).
    """

    loaded = Signal(str, int, QImage)
    failed = Signal(str, int, str)

    def __init__(
        self, cache_dir: Path, parent: QObject | None = None, *, preview_dir: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.cache_dir = cache_dir
        self.preview_dir = preview_dir  # where photos slow to decode get the viewer's preview
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(2, min(8, os.cpu_count() or 2)))
        self._signals = _ThumbnailSignals()
        self._signals.loaded.connect(self._on_loaded)
        self._signals.failed.connect(self._on_failed)
        self._pending: set[tuple[str, int]] = set()
        self._priority = 0

    def request(self, ref: PhotoRef, size: int) -> None:
        """Queue a thumbnail; repeated requests for one in flight are ignored."""
        key = (ref.uri, size)
        if key in self._pending:
            return
        self._pending.add(key)
        # What the view asked for last is what is on screen now: it goes first.
        self._priority = min(self._priority + 1, 1_000_000)
        job = _ThumbnailJob(ref, size, self.cache_dir, self._signals, self.preview_dir)
        self._pool.start(job, self._priority)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def clear(self) -> None:
        """Drop queued requests (another folder was opened)."""
        self._pool.clear()
        self._pending.clear()

    def stop(self) -> None:
        self._pool.clear()
        self._pool.waitForDone(3000)

    @Slot(str, int, QImage)
    def _on_loaded(self, uri: str, size: int, image: QImage) -> None:
        self._pending.discard((uri, size))
        self.loaded.emit(uri, size, image)

    @Slot(str, int, str)
    def _on_failed(self, uri: str, size: int, reason: str) -> None:
        self._pending.discard((uri, size))
        self.failed.emit(uri, size, reason)
