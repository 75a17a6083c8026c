"""The background-job helper: progress, results and errors on the GUI thread, and cancel."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from desktop.jobs import run_in_background


@pytest.fixture(autouse=True)
def _app(qapp):
    return qapp


def _gui_thread() -> bool:
    return QThread.currentThread() is QApplication.instance().thread()


def test_a_generator_yields_progress_and_returns_its_result_on_the_gui_thread(qtbot):
    seen: list[tuple[int, bool]] = []
    results: list[tuple[int, bool]] = []
    workers: list[bool] = []

    def count(n: int, *, cancel: threading.Event):
        workers.append(_gui_thread())
        yield from range(n)
        return n * 10

    job = run_in_background(
        count,
        3,
        on_progress=lambda v: seen.append((v, _gui_thread())),
        on_done=lambda v: results.append((v, _gui_thread())),
    )
    qtbot.waitUntil(lambda: not job.running, timeout=5_000)
    assert workers == [False], "the function runs off the GUI thread"
    assert seen == [(0, True), (1, True), (2, True)]
    assert results == [(30, True)]


def test_a_plain_function_reports_progress_through_its_callable(qtbot):
    seen: list[object] = []
    done: list[object] = []

    def measure(*, cancel: threading.Event, progress) -> str:
        for i in range(4):
            progress((i + 1, 4))
        return "measured"

    job = run_in_background(measure, on_progress=seen.append, on_done=done.append)
    qtbot.waitUntil(lambda: not job.running, timeout=5_000)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert done == ["measured"]


def test_an_error_comes_back_as_the_exception_and_the_job_still_ends(qtbot):
    errors: list[Exception] = []
    ended: list[bool] = []

    def broken(*, cancel: threading.Event, progress) -> None:
        raise ValueError("no embeddings yet")

    job = run_in_background(broken, on_error=errors.append, on_end=lambda: ended.append(True))
    qtbot.waitUntil(lambda: bool(ended), timeout=5_000)
    assert not job.running
    assert [str(e) for e in errors] == ["no embeddings yet"]


def test_cancel_is_answered_within_half_a_second(qtbot):
    done: list[str] = []

    def slow(*, cancel: threading.Event):
        for _ in range(1000):
            if cancel.is_set():
                return "stopped"
            time.sleep(0.05)
            yield None
        return "finished"

    job = run_in_background(slow, on_done=done.append)
    qtbot.wait(200)
    started = time.perf_counter()
    job.cancel()
    assert job.wait(0.5), "the function returned within half a second"
    qtbot.waitUntil(lambda: not job.running, timeout=2_000)
    assert time.perf_counter() - started < 0.5 + 0.5
    assert done == ["stopped"]
