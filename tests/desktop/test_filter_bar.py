"""The filter bar over the grid: what it shows out of how many, one click to clear, reset per folder."""

from __future__ import annotations

from PySide6.QtCore import Qt

from desktop.dialogs import ExportDialog
from desktop.filter_bar import filter_summary, plural
from tests.desktop.conftest import (
    copy_photos,
    open_and_wait,
    screenshot,
    select_rows,
    wait_db,
    wait_first_thumbnails,
)


def test_summary_words():
    assert plural(1, "photo") == "1 photo"
    assert plural(2, "photo") == "2 photos"
    assert filter_summary(state=None, tag=None, shown=5, total=5) == ""
    assert filter_summary(state=None, tag="dog", shown=13, total=162) == "#dog · 13 of 162 photos"
    assert (
        filter_summary(state="suggested", tag="hot dog", shown=1, total=1)
        == "Suggested · #hotdog · 1 of 1 photo"
    )


def test_filter_bar_counts_clears_and_resets_on_folder_change(
    qtbot, window, photos_dir, tmp_path, output_dir, monkeypatch
):
    assert window.grid_stack.currentWidget() is window.empty_page  # first start: what to do
    assert window.empty_page.mode == "start"
    screenshot(window, output_dir, "first-start")
    open_and_wait(qtbot, window, photos_dir, 24)
    wait_first_thumbnails(qtbot, window)
    assert window.grid_stack.currentWidget() is window.grid
    assert window.filter_bar.isHidden()
    select_rows(window, [0, 1, 2])
    qtbot.waitUntil(lambda: len(window.panel.items) == 3)
    window.panel.add_tag("dog")
    wait_db(qtbot, window)

    window.sidebar.tag_search.setText("do")
    window.sidebar.choose_tag("dog")
    assert window.proxy.rowCount() == 3
    assert not window.filter_bar.isHidden()
    assert window.filter_bar.label.text() == "#dog · 3 of 24 photos"
    screenshot(window, output_dir, "filtered-1280x800")

    # Export offers, and starts from, what the filter shows.
    seen = {}

    def fake_exec(dialog):
        seen["shown"] = dialog.shown_radio.isChecked()
        seen["text"] = dialog.shown_radio.text()
        return 0

    monkeypatch.setattr(ExportDialog, "exec", fake_exec)
    window.choose_export()
    assert seen == {"shown": True, "text": "What the filter shows: #dog · 3 of 24 photos"}

    qtbot.mouseClick(window.filter_bar.clear_button, Qt.MouseButton.LeftButton)
    assert window.proxy.rowCount() == 24
    assert window.filter_bar.isHidden()
    assert window.sidebar.tag_search.text() == ""

    # A filter that matches nothing says so, and its button clears it.
    window.sidebar.choose_state("failed")
    assert window.grid_stack.currentWidget() is window.empty_page
    assert window.empty_page.mode == "no_match"
    assert "Failed · 0 of 24 photos" in window.empty_page.body.text()
    qtbot.mouseClick(window.empty_page.button, Qt.MouseButton.LeftButton)
    assert window.proxy.rowCount() == 24
    assert window.grid_stack.currentWidget() is window.grid

    # The filter (and its search text) belong to the folder: the next one starts unfiltered.
    window.sidebar.tag_search.setText("dog")
    window.sidebar.choose_tag("dog")
    window.sidebar.choose_state("reviewed")
    assert window.proxy.rowCount() == 3
    other = copy_photos(tmp_path / "other", 5)
    open_and_wait(qtbot, window, other, 5)
    assert window.proxy.rowCount() == 5
    assert window.proxy.tag is None and window.proxy.state is None
    assert window.sidebar.tag_search.text() == ""
    assert window.filter_bar.isHidden()

    empty = tmp_path / "empty"
    empty.mkdir()
    window.open_folder(empty)
    qtbot.waitUntil(lambda: window.empty_page.mode == "no_photos")
    assert window.grid_stack.currentWidget() is window.empty_page
