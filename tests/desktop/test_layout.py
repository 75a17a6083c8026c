"""Layout and first start: collapsible side columns, the tree's start, settings, F1, screenshots."""

from __future__ import annotations

from PySide6.QtCore import QDir, Qt
from PySide6.QtWidgets import QAbstractItemView, QComboBox, QTableWidget

from desktop.dialogs import ShortcutsDialog
from desktop.sidebar import photos_home
from tests.desktop.conftest import (
    make_window,
    open_and_wait,
    screenshot,
    select_rows,
    wait_first_thumbnails,
)


def test_tab_collapses_side_columns_and_remembers(qtbot, photos_dir, output_dir):
    for size in ((1280, 800), (1920, 1080)):
        window = make_window(qtbot, size)
        tag = f"{size[0]}x{size[1]}"
        screenshot(window, output_dir, f"first-start-{tag}")
        open_and_wait(qtbot, window, photos_dir, 24)
        wait_first_thumbnails(qtbot, window)
        select_rows(window, [0])
        # At 1280 px the grid has the larger part of the width.
        assert window.grid.width() > window.width() * 0.55, window.grid.width()
        screenshot(window, output_dir, f"grid-{tag}")
        window.grid.setFocus()
        qtbot.keyClick(window.grid, Qt.Key.Key_Tab)
        assert window.sidebar.isHidden() and window.panel.isHidden()
        qtbot.waitUntil(lambda w=window: w.grid.width() > w.width() * 0.95)  # after the layout
        screenshot(window, output_dir, f"collapsed-{tag}")
        qtbot.keyClick(window.grid, Qt.Key.Key_F8)  # the tag panel alone
        assert window.sidebar.isHidden() and not window.panel.isHidden()
        window.save_ui_state()
        window.close()
    again = make_window(qtbot)
    assert again.sidebar.isHidden() and not again.panel.isHidden()
    qtbot.waitUntil(again.isActiveWindow)
    again.grid.setFocus()
    qtbot.keyClick(again.grid, Qt.Key.Key_F7)
    assert not again.sidebar.isHidden()


def test_tree_starts_at_pictures_or_home(qtbot, window, tmp_path):
    start = photos_home()
    assert start in (QDir.homePath(), str(tmp_path.parent)) or start.endswith("Pictures")
    root = window.sidebar.fs_model.filePath(window.sidebar.tree.rootIndex())
    assert root == start


def test_disabled_review_buttons_look_disabled(qtbot, window):
    button = window.panel.accept_button
    assert not button.isEnabled()
    image = button.grab().toImage()
    # The accent green of an enabled Accept button is nowhere on the disabled one.
    greens = sum(
        1
        for x in range(0, image.width(), 2)
        for y in range(0, image.height(), 2)
        if image.pixelColor(x, y).green() > 150 and image.pixelColor(x, y).red() < 120
    )
    assert greens == 0, greens


def test_settings_show_hashtag_examples_and_f1_is_read_only(qtbot, window):
    dialog = window.settings_dialog()
    qtbot.addWidget(dialog)
    style = dialog.editors["hashtag_style"]
    assert isinstance(style, QComboBox)
    labels = [style.itemText(i) for i in range(style.count())]
    assert labels == [
        "#goldenretriever  (joined)",
        "#GoldenRetriever  (camel)",
        "#golden_retriever  (snake)",
    ]
    dialog.show()
    assert dialog.width() < 800 and dialog.height() < 640, dialog.size()
    threshold = dialog.editors["threshold"]
    assert threshold.width() < 200  # number boxes are not stretched across the dialog

    shortcuts = ShortcutsDialog(window.shortcut_table(), window)
    qtbot.addWidget(shortcuts)
    table = shortcuts.findChild(QTableWidget)
    assert table.editTriggers() == QAbstractItemView.EditTrigger.NoEditTriggers
    keys = dict(window.shortcut_table())
    assert keys["View Full Size"] == "Space"
    assert keys["Show/Hide Side Panels"] == "Tab"
