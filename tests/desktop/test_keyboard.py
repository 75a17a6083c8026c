"""One keyboard model: shortcuts work wherever focus is, except while typing a tag."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.store import Store
from desktop.dialogs import ExportDialog
from tests.desktop.conftest import open_and_wait, screenshot, select_rows, wait_db

CTRL = Qt.KeyboardModifier.ControlModifier


def _focus():
    # hasFocus() is also false while the completer's popup window is active; ask the app.
    return QApplication.focusWidget()


def _states(window, photo_id: int) -> dict[str, str]:
    with Store(window.db_path) as store:
        return store.tag_states(photo_id)


def test_type_a_tag_enter_then_j_moves_on(qtbot, window, photos_dir, output_dir):
    open_and_wait(qtbot, window, photos_dir, 24)
    select_rows(window, [0])
    window.grid.setFocus()
    first = window.model.item(0)

    qtbot.keyClick(window.grid, Qt.Key.Key_T)
    assert _focus() is window.panel.add_edit
    qtbot.keyClicks(window.panel.add_edit, "jk jazz")  # J and K type while the tag is typed
    assert window.panel.add_edit.text() == "jk jazz"
    assert window.grid.currentIndex().row() == 0
    screenshot(window, output_dir, "typing-a-tag")
    qtbot.keyClick(window.panel.add_edit, Qt.Key.Key_Return)
    wait_db(qtbot, window)
    assert _states(window, first.photo_id) == {"jk jazz": "add"}
    qtbot.waitUntil(lambda: _focus() is window.grid)  # Enter gave focus back to the grid
    assert window.panel.add_edit.text() == ""

    qtbot.keyClick(window.grid, Qt.Key.Key_J)
    assert window.grid.currentIndex().row() == 1
    qtbot.keyClick(window.grid, Qt.Key.Key_K)
    assert window.grid.currentIndex().row() == 0

    # Tab while typing does not fold the panel (with the box) away.
    qtbot.keyClick(window.grid, Qt.Key.Key_T)
    qtbot.keyClick(window.panel.add_edit, Qt.Key.Key_Tab)
    assert not window.panel.isHidden() and not window.sidebar.isHidden()
    qtbot.keyClick(window.grid, Qt.Key.Key_Escape)

    # Esc drops a half-typed tag and leaves the box; nothing is recorded.
    qtbot.keyClick(window.grid, Qt.Key.Key_T)
    qtbot.keyClicks(window.panel.add_edit, "half")
    qtbot.keyClick(window.panel.add_edit, Qt.Key.Key_Escape)
    assert _focus() is window.grid
    assert window.panel.add_edit.text() == ""
    assert _states(window, first.photo_id) == {"jk jazz": "add"}

    # Ctrl+Z undoes the decision from an empty box (a box with text keeps its own undo).
    qtbot.keyClick(window.grid, Qt.Key.Key_T)
    qtbot.keyClicks(window.panel.add_edit, "x")
    qtbot.keyClick(window.panel.add_edit, Qt.Key.Key_Z, CTRL)
    assert window.panel.add_edit.text() == ""
    wait_db(qtbot, window)
    assert _states(window, first.photo_id) == {"jk jazz": "add"}
    qtbot.keyClick(window.panel.add_edit, Qt.Key.Key_Z, CTRL)
    wait_db(qtbot, window)
    assert _states(window, first.photo_id) == {}


def test_window_keys_work_from_the_sidebar_and_toolbar(qtbot, window, photos_dir, monkeypatch):
    opened: list[bool] = []
    monkeypatch.setattr(ExportDialog, "exec", lambda self: opened.append(True) or 0)
    open_and_wait(qtbot, window, photos_dir, 24)
    select_rows(window, [0])
    window.panel.add_tag("cat")
    wait_db(qtbot, window)

    # The tag filter: Ctrl+E exports, Ctrl+Z undoes the decision, Enter goes back to the grid.
    window.sidebar.tag_search.setFocus()
    qtbot.keyClick(window.sidebar.tag_search, Qt.Key.Key_E, CTRL)
    assert opened == [True]
    qtbot.keyClick(window.sidebar.tag_search, Qt.Key.Key_Z, CTRL)
    wait_db(qtbot, window)
    assert _states(window, window.model.item(0).photo_id) == {}
    qtbot.keyClicks(window.sidebar.tag_search, "j")
    assert window.sidebar.tag_search.text() == "j"
    qtbot.keyClick(window.sidebar.tag_search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _focus() is window.grid)

    # Lists and number boxes: J still moves through the photos.
    window.sidebar.states.setFocus()
    qtbot.keyClick(window.sidebar.states, Qt.Key.Key_J)
    assert window.grid.currentIndex().row() == 1
    window.toolbar.threshold_box.setFocus()
    qtbot.keyClick(window.toolbar.threshold_box, Qt.Key.Key_J)
    assert window.grid.currentIndex().row() == 2
    qtbot.keyClick(window.toolbar.threshold_box, Qt.Key.Key_Escape)
    assert _focus() is window.grid
