"""Learn from my decisions: trains off the GUI thread, shows before/after, and the panel says where tags came from."""

from __future__ import annotations

from core.store import Store
from desktop.learn import LearnDialog
from desktop.tag_panel import entries_for
from tests.desktop.conftest import (
    copy_photos,
    open_and_wait,
    screenshot,
    select_rows,
    tag_and_wait,
    wait_db,
    wait_first_thumbnails,
)

WAIT_LEARN_MS = 180_000


def _add_tag(qtbot, window, rows: list[int], tag: str) -> None:
    select_rows(window, rows)
    qtbot.waitUntil(lambda: len(window.panel.items) == len(rows))
    window.panel.add_tag(tag)
    wait_db(qtbot, window)


def test_learn_from_decisions_shows_metrics_and_learned_suggestions(
    qtbot, window, tmp_path, output_dir
):
    folder = copy_photos(tmp_path / "photos", 16)
    window.threshold_box.setValue(0.05)  # low, so learned suggestions show on unreviewed photos
    open_and_wait(qtbot, window, folder, 16)
    tag_and_wait(qtbot, window)
    _add_tag(qtbot, window, [0, 1, 2, 3, 4, 5], "garden")
    _add_tag(qtbot, window, [6, 7, 8, 9, 10, 11], "kitchen")

    assert window.learn_action.isEnabled() and window.learn_action.shortcut().toString()
    window.learn_action.trigger()
    assert window.learner.busy and not window.learn_action.isEnabled()
    qtbot.waitUntil(lambda: not window.learner.busy, timeout=WAIT_LEARN_MS)
    result = window.learner.last_result
    assert result is not None and result.error is None, result
    assert set(result.head.tags) >= {"garden", "kitchen"}
    assert result.refreshed == 16
    assert "Learned" in window.message_label.text()
    dialog = window.learner.dialog
    assert isinstance(dialog, LearnDialog) and dialog.isVisible()
    header = [dialog.table.horizontalHeaderItem(c).text() for c in range(4)]
    assert header[1:] == ["Backbone alone", "Before", "After"]
    assert dialog.table.item(0, 3).text().endswith("%")
    dialog.grab().save(str(output_dir / "learn-dialog.png"))
    dialog.accept()

    with Store(window.db_path) as store:
        sources = {
            row[0]
            for row in store.db.execute(
                "select distinct source from suggestions where source in ('refine', 'head')"
            )
        }
    assert sources, "learning stored refine or head suggestions"
    wait_db(qtbot, window)
    qtbot.waitUntil(
        lambda: any(
            t.source in ("refine", "head") for i in window.model.items()[12:] for t in i.tags
        ),
        timeout=20_000,
    )
    row = next(
        r
        for r in range(12, 16)
        if any(t.source in ("refine", "head") for t in window.model.item(r).tags)
    )
    select_rows(window, [row])
    qtbot.waitUntil(lambda: len(window.panel.items) == 1)
    entries = entries_for(window.panel.items)
    assert {e.source for e in entries} & {"refine", "head"}
    tips = [window.panel.tag_list.item(i).toolTip() for i in range(window.panel.tag_list.count())]
    assert any("from learned" in t or "from refined" in t for t in tips), tips
    assert any("from ImageNet" in t or "from hierarchy" in t for t in tips), tips
    wait_first_thumbnails(qtbot, window, 16)
    screenshot(window, output_dir, "learned-suggestions")


def test_learning_with_too_few_decisions_says_so(qtbot, window, tmp_path):
    folder = copy_photos(tmp_path / "photos", 4)
    open_and_wait(qtbot, window, folder, 4)
    window.learn_action.trigger()
    qtbot.waitUntil(lambda: not window.learner.busy, timeout=WAIT_LEARN_MS)
    assert window.learner.last_result.error
    assert "Nothing learned" in window.message_label.text()
    assert window.learn_action.isEnabled() and window.learner.dialog is None
