"""Tagging runs from the window: cancel mid-run, broken files, drag and drop, a lazy engine."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from core.settings import load_settings, save_settings
from core.store import Store
from tests.conftest import ROOT
from tests.desktop.conftest import (
    WAIT_TAGGING_MS,
    copy_photos,
    make_window,
    open_and_wait,
    screenshot,
    select_rows,
    tag_and_wait,
    wait_db,
)


def test_cancel_stops_the_run_and_keeps_what_was_done(qtbot, tmp_path, output_dir):
    save_settings(load_settings().replace(batch_size=4))
    folder = copy_photos(tmp_path / "many", 48)
    window = make_window(qtbot)
    open_and_wait(qtbot, window, folder, 48)
    cancelled_at: list[int] = []

    def cancel_after_first_batch(step) -> None:
        if step.progress is not None and not cancelled_at:
            cancelled_at.append(step.progress.done)
            screenshot(window, output_dir, "01-running")
            window.cancel_tagging()  # as the Cancel button or Esc does

    window.start_tagging(selection_only=False)
    window.inference.progressed.connect(cancel_after_first_batch)
    assert window.run_status.cancel_button.isVisible()
    qtbot.waitUntil(lambda: window.inference is None, timeout=WAIT_TAGGING_MS)
    wait_db(qtbot, window)
    summary = window.last_summary
    assert summary.cancelled
    assert 0 < summary.tagged < 48
    assert "Cancelled after" in window.run_status.message_label.text()
    assert not window.run_status.cancel_button.isVisible()
    counts = window.model.state_counts()
    assert counts["untagged"] == 48 - summary.tagged
    screenshot(window, output_dir, "02-cancelled")

    # Tagging again finishes the rest only.
    tag_and_wait(qtbot, window)
    assert window.last_summary.skipped == summary.tagged
    assert window.model.state_counts()["untagged"] == 0


def test_broken_files_are_shown_as_failed_with_their_reason(qtbot, tmp_path, output_dir):
    folder = copy_photos(tmp_path / "mixed", 6)
    good = sorted(folder.glob("*.jpg"))[0].read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "notes.jpg").write_text("this is not a photo")
    (folder / "empty.png").write_bytes(b"")
    window = make_window(qtbot)
    open_and_wait(qtbot, window, folder, 9)
    tag_and_wait(qtbot, window)
    counts = window.model.state_counts()
    assert counts["failed"] >= 2  # a truncated JPEG may still decode, grey at the bottom
    assert counts["failed"] + counts["suggested"] == 9

    window.sidebar.choose_state("failed")
    assert window.proxy.rowCount() == counts["failed"]
    failed = [
        window.proxy.index(r, 0).data(Qt.ItemDataRole.UserRole + 1)
        for r in range(window.proxy.rowCount())
    ]
    names = {item.name for item in failed}
    assert {"notes.jpg", "empty.png"} <= names
    assert all(item.error for item in failed)
    select_rows(window, [0])
    qtbot.waitUntil(lambda: window.panel.error.isVisibleTo(window.panel))
    assert window.panel.error.text().startswith("⚠ ")
    qtbot.waitUntil(lambda: "failed" in window.run_status.counts_label.text())
    screenshot(window, output_dir, "failed-photos")


def test_drop_files_and_folders_onto_the_window(qtbot, tmp_path):
    folder = copy_photos(tmp_path / "dropped", 5)
    window = make_window(qtbot)

    def drop(paths) -> None:
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        event = QDropEvent(
            QPointF(400, 300),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        window.dropEvent(event)

    drop([folder])
    qtbot.waitUntil(lambda: window.model.rowCount() == 5)
    assert window.folder == folder.resolve()
    drop(sorted(folder.glob("*.jpg"))[:2])
    qtbot.waitUntil(lambda: window.model.rowCount() == 2)
    wait_db(qtbot, window)


def test_added_urls_appear_in_the_grid(qtbot, window):
    window.add_urls(["https://example.invalid/a.jpg", "https://example.invalid/b.jpg"])
    assert window.model.rowCount() == 2
    wait_db(qtbot, window)
    with Store(window.db_path) as store:
        assert store.photo_id("https://example.invalid/a.jpg") is not None


def test_the_window_opens_and_shows_a_folder_without_the_model_libraries(tmp_path):
    folder = copy_photos(tmp_path / "lazy", 4)
    script = textwrap.dedent(
        f"""
        import sys
        from PySide6.QtCore import QTimer
        from desktop.app import create_app
        from desktop.main_window import MainWindow
        from core.settings import Settings
        from pathlib import Path
        app = create_app([])
        window = MainWindow(Settings())
        window.show()
        window.open_folder(Path({str(folder)!r}))
        def check():
            if window.model.rowCount() == 4 and window.db.pending == 0:
                heavy = [m for m in ("torch", "timm", "onnxruntime", "torchvision") if m in sys.modules]
                print("HEAVY", heavy)
                window.shutdown()
                app.quit()
        timer = QTimer(); timer.timeout.connect(check); timer.start(50)
        QTimer.singleShot(20000, app.quit)
        app.exec()
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "HEAVY []" in result.stdout, result.stdout + result.stderr
