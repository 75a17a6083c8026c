"""The whole flow on real photos: open, tag, accept, reject, add, bulk-add, filter, undo, export."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from core.learning.review import open_suggestions
from core.store import Store
from desktop.dialogs import ExportDialog
from tests.desktop.conftest import (
    make_window,
    open_and_wait,
    screenshot,
    select_rows,
    tag_and_wait,
    wait_db,
    wait_first_thumbnails,
)


def _states(window, photo_id: int) -> dict[str, str]:
    with Store(window.db_path) as store:
        return store.tag_states(photo_id)


def test_open_tag_review_filter_export(qtbot, window, photos_dir, output_dir, monkeypatch):
    open_and_wait(qtbot, window, photos_dir, 24)
    wait_first_thumbnails(qtbot, window)
    assert window.model.state_counts()["untagged"] == 24
    screenshot(window, output_dir, "01-opened")

    tag_and_wait(qtbot, window)
    counts = window.model.state_counts()
    assert counts["suggested"] == 24, counts
    assert sum(bool(item.tags) for item in window.model.items()) >= 20
    assert "Tagged 24 photos" in window.run_status.message_label.text()

    # Review one photo with the keyboard: A accepts the top suggestion, R rejects the next.
    select_rows(window, [0])
    qtbot.waitUntil(lambda: len(window.panel.items) == 1)
    screenshot(window, output_dir, "02-tagged-one-selected")
    first = window.model.item(0)
    entries = window.panel.entries()
    top, second = entries[0].tag, entries[1].tag
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    wait_db(qtbot, window)
    qtbot.waitUntil(lambda: window.panel.current_tag() == second)
    qtbot.keyClick(window.grid, Qt.Key.Key_R)
    wait_db(qtbot, window)
    assert _states(window, first.photo_id) == {top: "accept", second: "reject"}

    # Undo takes back the rejection only.
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_db(qtbot, window)
    assert _states(window, first.photo_id) == {top: "accept"}
    window.panel.set_items(window.panel.items)
    window.panel.tag_list.setCurrentRow([e.tag for e in window.panel.entries()].index(second))
    window.panel.reject_current()
    wait_db(qtbot, window)

    # T focuses the add field; Enter adds the tag to this photo.
    qtbot.keyClick(window.grid, Qt.Key.Key_T)
    assert window.panel.add_edit.hasFocus()
    qtbot.keyClicks(window.panel.add_edit, "Grandma")
    qtbot.keyClick(window.panel.add_edit, Qt.Key.Key_Return)
    wait_db(qtbot, window)
    states = _states(window, first.photo_id)
    assert states == {top: "accept", second: "reject", "Grandma": "add"}
    # Reviewed means no suggestion left open, not one decision made.
    still_open = [t.tag for t in open_suggestions(window.model.item(0).tags)]
    assert window.model.item(0).state == ("suggested" if still_open else "reviewed")
    for tag in still_open:
        window.decide(tag, "reject")
        wait_db(qtbot, window)
    assert window.model.item(0).state == "reviewed"
    screenshot(window, output_dir, "03-reviewed-one")

    # Several photos at once: add a tag to four, accept a shared suggestion for them.
    select_rows(window, [1, 2, 3, 4])
    qtbot.waitUntil(lambda: len(window.panel.items) == 4)
    window.panel.add_tag("holiday 2024")
    wait_db(qtbot, window)
    for row in (1, 2, 3, 4):
        assert _states(window, window.model.item(row).photo_id) == {"holiday 2024": "add"}
    screenshot(window, output_dir, "04-bulk-added")

    # Filter: by tag, then by state, with counts in the sidebar.
    window._refresh_counts()
    window.sidebar.choose_tag("holiday 2024")
    assert window.proxy.rowCount() == 4
    assert any(
        "#holiday2024  ·  4" in window.sidebar.tags.item(i).text()
        for i in range(window.sidebar.tags.count())
    )
    screenshot(window, output_dir, "05-filtered-by-tag")
    window.sidebar.choose_tag("")
    window.sidebar.choose_state("reviewed")
    assert window.proxy.rowCount() == 1, "one added tag leaves the others' suggestions open"
    window.sidebar.choose_state("")
    assert window.proxy.rowCount() == 24

    # Export through the dialog, confirmed tags only, and read the CSV back.
    out = output_dir / "tags.csv"
    out.unlink(missing_ok=True)

    def fill_and_accept(dialog: ExportDialog) -> int:
        dialog.path_edit.setText(str(out))
        return 1

    monkeypatch.setattr(ExportDialog, "exec", fill_and_accept)
    window.choose_export()
    wait_db(qtbot, window)
    with open(out, encoding="utf-8-sig", newline="") as fh:
        rows = {row["location"]: row for row in csv.DictReader(fh)}
    assert len(rows) == 24
    reviewed = rows[first.ref.uri]
    assert reviewed["status"] == "tagged"
    assert top in reviewed["tags"] and "Grandma" in reviewed["tags"]
    assert second not in reviewed["tags"].split("; ")
    assert "#grandma" in reviewed["hashtags"]
    for row in (1, 2, 3, 4):
        assert rows[window.model.item(row).ref.uri]["tags"] == "holiday 2024"
    assert rows[window.model.item(10).ref.uri]["tags"] == ""  # nothing confirmed there

    # A stricter threshold re-ranks every photo's suggestions; decisions stay.
    before = sum(len(i.visible_tags) for i in window.model.items())
    window.toolbar.threshold_box.setValue(0.6)
    qtbot.waitUntil(
        lambda: sum(len(i.visible_tags) for i in window.model.items()) < before, timeout=10_000
    )
    assert any(t.tag == "Grandma" for t in window.model.item(0).tags)
    window.toolbar.threshold_box.setValue(0.2)

    # The same window at full HD, for the layout check.
    select_rows(window, [0])
    window.resize(1920, 1080)
    wait_first_thumbnails(qtbot, window)
    screenshot(window, output_dir, "06-full-hd")


def test_state_and_decisions_come_back_in_a_new_window(qtbot, photos_dir, output_dir):
    first = make_window(qtbot)
    open_and_wait(qtbot, first, photos_dir, 24)
    tag_and_wait(qtbot, first)
    select_rows(first, [2])
    qtbot.waitUntil(lambda: len(first.panel.items) == 1)
    first.panel.add_tag("kept")
    wait_db(qtbot, first)
    first.close()

    second = make_window(qtbot)
    assert second.recent_folders()[0] == str(photos_dir.resolve())
    open_and_wait(qtbot, second, photos_dir, 24)
    assert second.model.state_counts()["suggested"] == 24, "its suggestions are still open"
    assert any(t.tag == "kept" for t in second.model.item(2).tags)
    wait_first_thumbnails(qtbot, second)
    screenshot(second, output_dir, "reopened")
