"""Fixtures for the desktop tests: a themed main window at a fixed size, real photos, helpers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import shared

WAIT_TAGGING_MS = 180_000  # the first run of a session exports the backbone to ONNX


def copy_photos(dest: Path, count: int) -> Path:
    """``count`` real COCO photos copied into ``dest`` (tests may add or break files there)."""
    source = shared("coco-mini", "train2017")
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.glob("*.jpg"))[:count]:
        shutil.copy2(path, dest / path.name)
    return dest


@pytest.fixture
def photos_dir(tmp_path) -> Path:
    return copy_photos(tmp_path / "photos", 24)


def make_window(qtbot, size: tuple[int, int] = (1280, 800)):
    from core.settings import load_settings
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    create_app([])
    window = MainWindow(load_settings())
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    return window


@pytest.fixture
def window(qtbot):
    return make_window(qtbot)


def wait_db(qtbot, window, timeout: int = 20_000) -> None:
    """Until every database task submitted so far has come back to the GUI thread."""
    qtbot.waitUntil(lambda: window.db.pending == 0, timeout=timeout)


def open_and_wait(qtbot, window, folder: Path, count: int) -> None:
    window.open_folder(folder)
    qtbot.waitUntil(lambda: window.model.rowCount() == count, timeout=20_000)
    wait_db(qtbot, window)
    qtbot.waitUntil(
        lambda: all(i.photo_id is not None for i in window.model.items()), timeout=20_000
    )


def wait_first_thumbnails(qtbot, window, rows: int = 30) -> None:
    """Until the thumbnails of the first ``rows`` photos (a screenful) are in."""
    rows = min(rows, window.model.rowCount())
    window.grid.viewport().repaint()
    for row in range(rows):
        window.model.thumbnail(window.model.item(row))
    qtbot.waitUntil(lambda: all(window.model.has_thumbnail(r) for r in range(rows)), timeout=20_000)
    window.grid.viewport().repaint()


def tag_and_wait(qtbot, window, *, selection_only: bool = False) -> None:
    window.start_tagging(selection_only=selection_only)
    qtbot.waitUntil(lambda: window.inference is None, timeout=WAIT_TAGGING_MS)
    wait_db(qtbot, window)


def select_rows(window, rows: list[int]) -> None:
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    selection = QItemSelection()
    for row in rows:
        index = window.proxy.index(row, 0)
        selection.select(index, index)
    window.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    window.grid.setCurrentIndex(window.proxy.index(rows[0], 0))
    window.grid.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)


def screenshot(window, output_dir: Path, name: str) -> Path:
    """Save what the window shows now; the test output folder keeps it for a person to look at."""
    from PySide6.QtWidgets import QApplication

    if window._counts_timer.isActive():  # counts refresh 150 ms after a change; show them now
        window._counts_timer.stop()
        window._refresh_counts()
    QApplication.processEvents()
    path = output_dir / f"{name}.png"
    window.grab().save(str(path))
    return path
