"""Settings: the dialog is generated from core.settings, and choices survive a restart."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QSpinBox

from core.settings import editable_fields, load_settings
from desktop.dialogs import BOT_SECTION, SettingsDialog
from tests.desktop.conftest import make_window, screenshot


def test_dialog_has_an_editor_for_every_field_and_a_bot_section(qtbot, output_dir):
    dialog = SettingsDialog(load_settings(), backbones=[("efficientnet-lite0", "Lite0")])
    qtbot.addWidget(dialog)
    assert set(dialog.editors) == {f.name for f in editable_fields()}
    bot_fields = {f.name for f in editable_fields() if f.metadata.get("section") == BOT_SECTION}
    assert bot_fields and all(dialog.bot_panel.isAncestorOf(dialog.editors[n]) for n in bot_fields)
    assert isinstance(dialog.editors["device"], QComboBox)
    assert isinstance(dialog.editors["threshold"], QDoubleSpinBox)
    assert isinstance(dialog.editors["top_k"], QSpinBox)
    tabs = [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())]
    assert tabs[-1] == BOT_SECTION and "Storage" in tabs
    dialog.editors["top_k"].setValue(60)  # clamped by the field's own maximum
    assert dialog.result_settings().top_k == 50
    dialog.resize(560, 420)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.grab().save(str(output_dir / "settings-dialog.png"))


def test_settings_and_window_geometry_survive_a_restart(qtbot, tmp_path, output_dir):
    first = make_window(qtbot)
    dialog = SettingsDialog(
        first.settings, backbones=[("efficientnet-lite0", "Lite0")], parent=first
    )
    dialog.editors["threshold"].setValue(0.35)
    dialog.editors["top_k"].setValue(5)
    dialog.editors["thumbnail_size"].setValue(128)
    dialog.editors["hashtag_style"].setCurrentIndex(
        dialog.editors["hashtag_style"].findData("camel")
    )
    dialog.editors["device"].setCurrentIndex(dialog.editors["device"].findData("cpu"))
    database = tmp_path / "elsewhere" / "tags.db"
    dialog.editors["database"].property("lineEdit").setText(str(database))
    first.apply_settings(dialog.result_settings())
    assert first.toolbar.threshold_box.value() == 0.35
    assert "restart" in first.run_status.message_label.text()
    first.resize(760, 600)  # inside the offscreen screen (800x800), which restoring clamps to
    first.close()

    stored = load_settings()
    assert (stored.threshold, stored.top_k, stored.thumbnail_size) == (0.35, 5, 128)
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    create_app([])
    second = MainWindow(load_settings())
    qtbot.addWidget(second, before_close_func=lambda w: w.shutdown())
    second.show()
    qtbot.waitExposed(second)
    assert (second.width(), second.height()) == (760, 600)
    assert second.toolbar.threshold_box.value() == 0.35
    assert second.toolbar.top_k_box.value() == 5
    assert second.toolbar.device_box.currentData() == "cpu"
    assert second.model.thumb_size == 128
    assert second.grid.grid_delegate.hashtag_style == "camel"
    assert second.db_path == database
    screenshot(second, output_dir, "restarted")


def test_every_review_action_has_a_shortcut(qtbot, window):
    keys = dict(window.shortcut_table())
    for action in ("Accept Tag", "Reject Tag", "Remove Tag", "Add Tag", "Undo Decision"):
        assert keys.get(action), action
    assert keys["Tag All"] == "Ctrl+T" and keys["Export"] == "Ctrl+E"
    # Esc leaves a field or the viewer first, and cancels a run from the grid.
    assert keys["Back to the Grid / Cancel Run"] == "Esc"


def test_backbone_menu_marks_only_the_backbones_that_cannot_tag_now(qtbot, window):
    from core.engine.backbones import DEFAULT_BACKBONE, availability, list_backbones

    qtbot.waitUntil(lambda: getattr(window, "backbone_notes", None) is not None, timeout=20_000)
    box = window.toolbar.backbone_box
    for spec in list_backbones():
        found = availability(spec)
        text = box.itemText(box.findData(spec.name))
        short = spec.display_name.split(" (")[0]
        assert text == (short if found.usable else f"{short} — {found.label}"), spec.name
        assert found.note in box.itemData(box.findData(spec.name), Qt.ItemDataRole.ToolTipRole)
    # The default runs from its shipped export: "available (bundled export)", not a warning.
    assert box.itemText(box.findData(DEFAULT_BACKBONE)) == "EfficientNet-Lite0"
    dialog = window.settings_dialog()
    qtbot.addWidget(dialog)
    editor = dialog.editors["backbone"]
    label = editor.itemText(editor.findData(DEFAULT_BACKBONE))
    assert label == "EfficientNet-Lite0 (offline) — available (bundled export)"
