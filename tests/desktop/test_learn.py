"""Learn from my decisions: trains off the GUI thread, shows before/after, and the panel says where tags came from."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from core.store import Store
from desktop.learn import LearnDialog
from tests.core.learning_fixtures import coco_labels
from tests.desktop.conftest import (
    copy_photos,
    open_and_wait,
    screenshot,
    select_rows,
    tag_and_wait,
    wait_db,
    wait_first_thumbnails,
)
from tests.store_sql import sql

WAIT_LEARN_MS = 180_000


def _add_tag(qtbot, window, rows: list[int], tag: str) -> None:
    select_rows(window, rows)
    qtbot.waitUntil(lambda: len(window.panel.items) == len(rows))
    window.panel.add_tag(tag)
    wait_db(qtbot, window)


def _suggestion_rows(window) -> list[tuple]:
    with Store(window.db_path) as store:
        return sorted(
            sql(
                store, "select photo_id, backbone, tag, round(score, 6), source from suggestions"
            ).fetchall()
        )


def test_learn_shows_before_and_after_per_tag_and_discard_restores(
    qtbot, window, tmp_path, output_dir
):
    folder = copy_photos(tmp_path / "photos", 24)
    labels = {Path(u).name: tags for u, tags in coco_labels().items()}
    names = sorted(p.name for p in folder.glob("*.jpg"))
    window.toolbar.threshold_box.setValue(0.05)
    open_and_wait(qtbot, window, folder, 24)
    tag_and_wait(qtbot, window)
    before = _suggestion_rows(window)

    def name_at(row: int) -> str:
        source = window.proxy.mapToSource(window.proxy.index(row, 0)).row()
        return window.model.item(source).name

    rows_of = {name_at(r): r for r in range(24)}
    for tag in sorted({t for n in names[:20] for t in labels[n]}):
        rows = [rows_of[n] for n in names[:20] if tag in labels[n]]
        _add_tag(qtbot, window, rows, tag)

    assert window.learn_action.isEnabled() and window.learn_action.shortcut().toString()
    window.learn_action.trigger()
    assert window.learner.busy and not window.learn_action.isEnabled()
    qtbot.waitUntil(lambda: not window.learner.busy, timeout=WAIT_LEARN_MS)
    result = window.learner.last_result
    assert result is not None and result.error is None, result
    assert result.refreshed == 24
    assert "Learned" in window.run_status.message_label.text()
    dialog = window.learner.dialog
    assert isinstance(dialog, LearnDialog) and dialog.isVisible()
    lines = [dialog.tag_list.item(i).text() for i in range(dialog.tag_list.count())]
    unchanged = [dialog.left_list.item(i).text() for i in range(dialog.left_list.count())]
    assert lines and unchanged
    assert all(": found " in t and ", was " in t for t in lines) or lines[0].startswith("No tag")
    assert all(": unchanged (" in t for t in unchanged)
    assert dialog.keep_button.text() == "Keep" and dialog.discard_button.text() == "Discard"
    dialog.grab().save(str(output_dir / "learn-dialog.png"))
    wait_first_thumbnails(qtbot, window, 24)
    screenshot(window, output_dir, "learned-suggestions")

    # Discard: the suggestions from before learning come back exactly.
    qtbot.mouseClick(dialog.discard_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "discarded" in window.run_status.message_label.text(), timeout=60_000)
    wait_db(qtbot, window)
    assert _suggestion_rows(window) == before
    with Store(window.db_path) as store:
        assert sql(store, "select status from heads").fetchall() == [("discarded",)]


def test_learning_with_too_few_decisions_says_so(qtbot, window, tmp_path):
    folder = copy_photos(tmp_path / "photos", 4)
    open_and_wait(qtbot, window, folder, 4)
    window.learn_action.trigger()
    qtbot.waitUntil(lambda: not window.learner.busy, timeout=WAIT_LEARN_MS)
    assert window.learner.last_result.error
    assert "Nothing learned" in window.run_status.message_label.text()
    assert window.learn_action.isEnabled() and window.learner.dialog is None
