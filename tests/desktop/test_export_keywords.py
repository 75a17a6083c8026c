"""The export dialog writes keywords into XMP sidecars, for the photos the filter shows."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from core.export.metadata import sidecar_path
from core.export.xmp import SUBJECT, get_list, parse_xmp
from desktop.dialogs import ExportDialog
from tests.desktop.conftest import copy_photos, open_and_wait, select_rows, wait_db


def test_dialog_writes_sidecars_for_the_filtered_photos(
    qtbot, window, tmp_path, output_dir, monkeypatch
):
    folder = copy_photos(tmp_path / "photos", 6)
    open_and_wait(qtbot, window, folder, 6)
    select_rows(window, [1, 2, 4])
    qtbot.waitUntil(lambda: len(window.panel.items) == 3)
    window.panel.add_tag("Grandma")
    wait_db(qtbot, window)
    window.sidebar.choose_tag("Grandma")
    assert window.proxy.rowCount() == 3
    shown = {i.ref.uri for i in window.shown_items()}

    dialog = ExportDialog(default_path=tmp_path / "tags.csv", selected=0, shown=3, total=6)
    dialog.xmp_radio.setChecked(True)
    dialog.shown_radio.setChecked(True)
    dialog.show()
    QApplication.processEvents()
    assert not dialog.path_edit.isEnabled() and dialog.sidecar_box.isEnabled()
    dialog.grab().save(str(output_dir / "export-dialog-xmp.png"))
    choice = dialog.choice()
    assert (choice.format, choice.photos, choice.scope) == ("xmp", "shown", "confirmed")
    dialog.close()

    def choose_xmp(d: ExportDialog) -> int:
        d.xmp_radio.setChecked(True)
        d.shown_radio.setChecked(True)
        return 1

    monkeypatch.setattr(ExportDialog, "exec", choose_xmp)
    window.choose_export()
    wait_db(qtbot, window)
    written = sorted(p for p in folder.iterdir() if p.suffix == ".xmp")
    assert {str(p.with_suffix("")) for p in written} == shown
    for uri in shown:
        root = parse_xmp(sidecar_path(folder / uri.rsplit("/", 1)[-1]).read_bytes())
        assert get_list(root, SUBJECT) == ["Grandma"]
    assert (
        "Keywords: 3 files written, 0 already right, 0 failed"
        in window.run_status.message_label.text()
    )
    assert not window.run_status.progress.isVisible()
