"""The app's one way to run background work: a plain function, progress and cancel.

Tagging, learning and curation are plain functions run by superqt's
``thread_worker`` (napari's ``create_worker``, in the manner of Anki's
``taskman.run_in_background``) on Qt's thread pool. A job function is either
a generator that yields its progress and returns its result, or a plain
function that reports progress through the ``progress`` callable it is given;
either way it gets a ``cancel`` event to watch. Progress, the result and any
error come back on the GUI thread through the :class:`Job`'s signals, so no
widget is ever touched from elsewhere.

Controllers (learning, curation) see the window only through
:class:`StatusReporter`: a message line and a progress bar.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, QThreadPool, Signal, Slot
from superqt.utils import thread_worker

log = logging.getLogger(__name__)

MIN_POOL_THREADS = 4
"""Tagging, curation and learning may overlap; on a two-core machine the pool must not queue them."""


class StatusReporter(Protocol):
    """What a controller may do to the window: say something and show progress."""

    def show_message(self, text: str, *, error: bool = False) -> None: ...

    def show_progress(self, done: int, total: int) -> None:
        """Progress of done over total; a total of 0 shows a busy bar."""
        ...

    def hide_progress(self) -> None: ...


class Job(QObject):
    """One background job's handle, living on the GUI thread.

    Signals:
        progressed: Each value the function yielded or passed to ``progress``.
        succeeded: The function's return value.
        failed: The exception it raised.
        ended: Always, last, after ``succeeded`` or ``failed``.
    """

    progressed = Signal(object)
    succeeded = Signal(object)
    failed = Signal(object)
    ended = Signal()
    _relay = Signal(object)

    def __init__(
        self, fn: Callable[..., Any], *args: Any, parent: QObject | None = None, **kwargs: Any
    ) -> None:
        super().__init__(parent)
        self.cancel_event = threading.Event()
        self._finished = threading.Event()
        self._running = True
        self._relay.connect(self.progressed)
        kwargs = {"cancel": self.cancel_event, **kwargs}
        if inspect.isgeneratorfunction(fn):
            body = self._generator_body
        else:
            body = self._function_body
            kwargs.setdefault("progress", self._relay.emit)
        self._worker = thread_worker(body, start_thread=False, ignore_errors=True)(
            fn, *args, **kwargs
        )
        # The worker's last word, after ``finished``: only then may the handle go.
        self._worker.signals._finished.connect(self._on_worker_done)  # noqa: SLF001 (superqt has no public one)
        if inspect.isgeneratorfunction(fn):
            self._worker.yielded.connect(self._on_yielded)
        self._worker.returned.connect(self._on_returned)
        self._worker.errored.connect(self._on_errored)
        self._worker.finished.connect(self._on_finished)

    def _generator_body(self, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        try:
            return (yield from fn(*args, **kwargs))
        finally:
            self._finished.set()

    def _function_body(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        finally:
            self._finished.set()

    def start(self) -> Job:
        pool = QThreadPool.globalInstance()
        pool.setMaxThreadCount(max(pool.maxThreadCount(), MIN_POOL_THREADS))
        self._worker.start()
        return self

    @property
    def running(self) -> bool:
        """True until ``ended`` has been delivered on the GUI thread."""
        return self._running

    def cancel(self) -> None:
        """Ask the function to stop; it sees ``cancel`` set and returns early (what it keeps is its own)."""
        self.cancel_event.set()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the function has returned (for shutdown); False on timeout."""
        return self._finished.wait(timeout)

    @Slot(object)
    def _on_yielded(self, value: object) -> None:
        self.progressed.emit(value)

    @Slot(object)
    def _on_returned(self, value: object) -> None:
        self.succeeded.emit(value)

    @Slot(object)
    def _on_errored(self, exc: object) -> None:
        log.info("background job failed: %s", exc)
        self.failed.emit(exc)

    @Slot()
    def _on_finished(self) -> None:
        self._running = False
        self.ended.emit()

    @Slot(object)
    def _on_worker_done(self, _worker: object) -> None:
        if self.parent() is not None:
            self.deleteLater()


def run_in_background(
    fn: Callable[..., Any],
    *args: Any,
    on_progress: Callable[[Any], None] | None = None,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[Exception], None] | None = None,
    on_end: Callable[[], None] | None = None,
    parent: QObject | None = None,
    **kwargs: Any,
) -> Job:
    """Run ``fn(*args, cancel=..., **kwargs)`` on a pool thread; callbacks run on the GUI thread.

    Args:
        fn: A generator function (yields progress, returns the result) or a plain
            function (also given ``progress``, a callable). Both get ``cancel``.
        on_progress: Each progress value.
        on_done: The result.
        on_error: The exception, if ``fn`` raised.
        on_end: Last, whichever way it ended.
        parent: The job's owner (its handle goes with it).
    """
    job = Job(fn, *args, parent=parent, **kwargs)
    for signal, slot in (
        (job.progressed, on_progress),
        (job.succeeded, on_done),
        (job.failed, on_error),
        (job.ended, on_end),
    ):
        if slot is not None:
            signal.connect(slot)
    return job.start()
