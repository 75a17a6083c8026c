"""Review by tag: every photo suggested one tag, decided one by one with A/R or all at once."""

from __future__ import annotations

from PySide6.QtCore import Qt

from core.learning.review import open_suggestions
from core.store import Store
from desktop.tag_review import open_tag_counts
from tests.desktop.conftest import (
    open_and_wait,
    screenshot,
    tag_and_wait,
    wait_db,
    wait_first_thumbnails,
)


def _decisions(window, tag: str) -> dict[int, str]:
    with Store(window.db_path) as store:
        states = store.all_tag_states()
    return {pid: s[tag] for pid, s in states.items() if tag in s}


def test_review_one_tag_across_photos_each_and_all(qtbot, window, photos_dir, output_dir):
    open_and_wait(qtbot, window, photos_dir, 24)
    tag_and_wait(qtbot, window)
    tag, count = open_tag_counts(window.model.items())[0]
    assert count >= 4, open_tag_counts(window.model.items())
    suggested = {i.photo_id for i in window.model.items() if i.suggests(tag)}

    # From the tag filter: the review takes the filtered tag.
    window.sidebar.choose_tag(tag)
    window.review_tag_action.trigger()
    assert window.proxy.review_tag == tag
    assert window.proxy.rowCount() == count
    assert window.review_bar.isVisible()
    assert f"{count} photos left" in window.review_bar.label.text()
    wait_first_thumbnails(qtbot, window, count)
    screenshot(window, output_dir, "tag-review-1280x800")

    # A accepts the tag on the selected photo only; it leaves, the next one is selected.
    first = window.shown_items()[0]
    qtbot.waitUntil(lambda: window.panel.items == [first])
    window.grid.setFocus()
    qtbot.keyClick(window.grid, Qt.Key.Key_A)
    wait_db(qtbot, window)
    assert _decisions(window, tag) == {first.photo_id: "accept"}
    assert window.proxy.rowCount() == count - 1
    second = window.shown_items()[0]
    assert window.selected_items() == [second]

    # R rejects it on the next; Ctrl+Z takes that back and the photo returns.
    qtbot.keyClick(window.grid, Qt.Key.Key_R)
    wait_db(qtbot, window)
    assert _decisions(window, tag)[second.photo_id] == "reject"
    assert window.proxy.rowCount() == count - 2
    qtbot.keyClick(window.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_db(qtbot, window)
    assert second.photo_id not in _decisions(window, tag)
    assert window.proxy.rowCount() == count - 1
    assert f"{count - 1} photos left" in window.review_bar.label.text()

    # Accept all: every photo left gets the tag, in one undoable step.
    qtbot.mouseClick(window.review_bar.accept_all_button, Qt.MouseButton.LeftButton)
    wait_db(qtbot, window)
    assert _decisions(window, tag) == dict.fromkeys(suggested, "accept")
    assert window.proxy.rowCount() == 0
    assert f"all reviewed ✓ ({count} photos decided)" in window.review_bar.label.text()
    assert not window.review_bar.accept_all_button.isEnabled()
    window.resize(1920, 1080)
    qtbot.wait(50)
    screenshot(window, output_dir, "tag-review-done-1920x1080")

    # Reviewed means nothing left open: photos with other open suggestions stay Suggested.
    for item in window.model.items():
        if item.photo_id in suggested:
            expected = "suggested" if open_suggestions(item.tags) else "reviewed"
            assert item.state == expected, (item.name, item.tags)

    # Done: back to the tag filter as it was.
    qtbot.mouseClick(window.review_bar.done_button, Qt.MouseButton.LeftButton)
    assert window.proxy.review_tag is None and not window.review_bar.isVisible()
    assert window.proxy.tag == tag
    assert window.proxy.rowCount() == count


def test_review_by_tag_from_the_menu_picks_the_panel_tag(qtbot, window, photos_dir):
    open_and_wait(qtbot, window, photos_dir, 24)
    tag_and_wait(qtbot, window)
    row = next(r for r in range(24) if open_suggestions(window.model.item(r).tags))
    window.grid.setCurrentIndex(window.proxy.index(row, 0))
    qtbot.waitUntil(lambda: len(window.panel.items) == 1)
    tag = window.panel.current_tag() or open_suggestions(window.panel.items[0].tags)[0].tag
    window.panel.tag_list.setCurrentRow([e.tag for e in window.panel.entries()].index(tag))
    assert window.review_tag_action in window.menuBar().actions()[2].menu().actions()
    window.review_tag_action.trigger()
    assert window.proxy.review_tag == tag
    assert window.proxy.rowCount() == sum(i.suggests(tag) for i in window.model.items())
    qtbot.mouseClick(window.review_bar.reject_all_button, Qt.MouseButton.LeftButton)
    wait_db(qtbot, window)
    assert window.proxy.rowCount() == 0
    assert set(_decisions(window, tag).values()) == {"reject"}
