"""Curation view: duplicate groups with their keeper, a best-of strip, picks saved at once.

Also the album as visual groups: every photo in exactly one group, naming a
group saves an ``add`` decision for each of its photos, and ``k`` regroups.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from core.curation.curate import picked_photos
from core.store import Store
from desktop.curation import PHOTO_ID_ROLE, CurationDialog
from tests.desktop.conftest import copy_photos, open_and_wait, tag_and_wait, wait_db

WAIT_CURATE_MS = 120_000


def test_curation_groups_duplicates_marks_the_keeper_and_saves_picks(
    qtbot, window, tmp_path, output_dir
):
    folder = copy_photos(tmp_path / "photos", 12)
    first = sorted(folder.glob("*.jpg"))[0]
    shutil.copy2(first, folder / "zz-copy.jpg")  # an exact copy
    with Image.open(first) as image:  # and a smaller, recompressed one
        image.resize((image.width // 2, image.height // 2)).save(
            folder / "zz-small.jpg", quality=70
        )
    open_and_wait(qtbot, window, folder, 14)
    tag_and_wait(qtbot, window)

    window.curate_action.trigger()
    dialog = window.curation
    assert isinstance(dialog, CurationDialog)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_CURATE_MS)
    result = dialog.result
    assert result is not None and result.error is None, result
    names = {i.photo_id: i.ref.uri.rsplit("/", 1)[-1] for i in window.model.items()}
    groups = [{names[p] for p in g.photo_ids} for g in result.groups]
    assert {first.name, "zz-copy.jpg", "zz-small.jpg"} in groups, groups
    group = next(g for g in result.groups if names[g.keeper] in (first.name, "zz-copy.jpg"))
    assert names[group.keeper] != "zz-small.jpg", "the keeper has the most pixels"
    assert 1 <= len(result.highlights) <= 8
    assert dialog.best_strip.count() == len(result.highlights)

    strips = [
        s for s in dialog.strips() if s is not dialog.best_strip and s not in dialog.group_strips
    ]
    assert len(strips) == len(result.groups)
    keeper_rows = [
        s.item(r) for s in strips for r in range(s.count()) if s.item(r).text() == "★ keep"
    ]
    assert len(keeper_rows) == len(result.groups)

    best = dialog.best_strip.item(0)
    best.setSelected(True)
    dialog.pick_selected()
    wait_db(qtbot, window)
    photo_id = int(best.data(PHOTO_ID_ROLE))
    with Store(window.db_path) as store:
        assert photo_id in picked_photos(store)
    assert best.text().startswith("✓") and photo_id in dialog.picked

    qtbot.waitUntil(lambda: not window.loader.busy, timeout=20_000)
    dialog.resize(900, 620)
    qtbot.wait(50)
    dialog.grab().save(str(output_dir / "curation.png"))

    # The album as groups: shown, covering every photo of the album exactly once.
    assert dialog.visual, "groups are shown"
    assert len(dialog.group_strips) == len(dialog.visual)
    grouped = [p for g in dialog.visual for p in g.photo_ids]
    assert sorted(grouped) == sorted(dialog.items), "each photo in exactly one group"
    shown = [
        int(s.item(r).data(PHOTO_ID_ROLE)) for s in dialog.group_strips for r in range(s.count())
    ]
    assert sorted(shown) == sorted(grouped)
    for group, name in zip(dialog.visual, dialog.group_names, strict=True):
        assert name.text() == (group.names[0] if group.names else "")

    group = dialog.visual[0]
    dialog.group_names[0].setText("holiday group")
    dialog.name_group(group, dialog.group_names[0].text())
    wait_db(qtbot, window)
    with Store(window.db_path) as store:
        states = store.all_tag_states()
    assert all(states.get(p, {}).get("holiday group") == "add" for p in group.photo_ids)
    assert not any(
        "holiday group" in states.get(p, {}) for g in dialog.visual[1:] for p in g.photo_ids
    )
    assert f"{len(group.photo_ids)} photo" in dialog.status.text()

    dialog.tabs.setCurrentIndex(1)
    dialog.resize(900, 820)  # room for more than one group
    qtbot.waitUntil(lambda: not window.loader.busy, timeout=20_000)
    qtbot.wait(50)
    dialog.grab().save(str(output_dir / "curation-groups.png"))

    # Another k regroups in the background.
    dialog.k_box.setValue(2)
    dialog.regroup()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_CURATE_MS)
    assert len(dialog.visual) <= 2 and len(dialog.group_strips) == len(dialog.visual)
    assert sorted(p for g in dialog.visual for p in g.photo_ids) == sorted(dialog.items)

    dialog.close()
    assert dialog.worker is None


def test_curation_marks_the_others_as_rejects_undoes_it_and_copies_the_keepers(
    qtbot, window, tmp_path, output_dir
):
    from PySide6.QtCore import Qt

    from core.curation.curate import rejected_photos
    from tests.desktop.conftest import screenshot

    folder = copy_photos(tmp_path / "photos", 10)
    first = sorted(folder.glob("*.jpg"))[0]
    (folder / "copies").mkdir()
    shutil.copy2(first, folder / "copies" / "zz-copy.jpg")
    with Image.open(first) as image:
        image.resize((image.width // 2, image.height // 2)).save(
            folder / "copies" / "zz-small.jpg", quality=70
        )
    open_and_wait(qtbot, window, folder, 12)
    tag_and_wait(qtbot, window)

    window.curate_action.trigger()
    dialog = window.curation
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_CURATE_MS)
    assert dialog.result is not None and dialog.result.error is None
    # The best-of strip fits whole; the scores come with words.
    assert dialog.width() >= 8 * (112 + 16)
    assert dialog.best_strip.horizontalScrollBar().maximum() == 0
    captions = [dialog.best_strip.item(r).text() for r in range(dialog.best_strip.count())]
    assert all(c.startswith(f"#{r + 1} ") for r, c in enumerate(captions)), captions
    assert "sharp" in dialog.best_note.text() and "+" not in captions[0]
    # Duplicates name their files and folders, keeper marked.
    group = next(g for g in dialog.result.groups if len(g.photo_ids) == 3)
    names = {dialog._name(p) for p in group.photo_ids}
    assert names == {first.name, "zz-copy.jpg", "zz-small.jpg"}
    captions = [w.text() for w in dialog.findChildren(type(dialog.status)) if "★ <b>" in w.text()]
    caption = next(c for c in captions if "zz-small.jpg" in c)
    assert f"★ <b>{dialog._name(group.keeper)}</b>" in caption
    assert str(folder / "copies") in caption and str(folder) in caption
    assert "same picture" in caption

    # Mark the others as rejects: nothing deleted, the Rejects filter shows them.
    others = set(dialog.others())
    assert others and group.keeper not in others
    qtbot.mouseClick(dialog.reject_button, Qt.MouseButton.LeftButton)
    wait_db(qtbot, window)
    with Store(window.db_path) as store:
        assert rejected_photos(store) == others
    assert all(Path(window.model.item_by_id(p).ref.uri).exists() for p in others)
    qtbot.waitUntil(lambda: all(window.model.item_by_id(p).rejected for p in others))
    window.rejects_action.trigger()
    assert window.proxy.rowCount() == len(others)
    assert "rejects" in dialog.status.text()
    qtbot.waitUntil(lambda: not window.loader.busy, timeout=20_000)
    dialog.grab().save(str(output_dir / "curation-rejects-1280.png"))
    screenshot(window, output_dir, "rejects-filter-1280x800")

    # Undo: no rejects left, the filter shows none.
    qtbot.mouseClick(dialog.undo_rejects_button, Qt.MouseButton.LeftButton)
    wait_db(qtbot, window)
    with Store(window.db_path) as store:
        assert rejected_photos(store) == set()
    qtbot.waitUntil(lambda: window.proxy.rowCount() == 0)
    window.rejects_action.trigger()
    assert window.proxy.rowCount() == 12

    # Copy the keepers elsewhere: the album without the duplicates' others; originals stay.
    out = tmp_path / "keepers"
    dialog.place_keepers(out, mode="copy")
    wait_db(qtbot, window)
    assert len(list(out.iterdir())) == 12 - len(others)
    assert "Copied" in dialog.status.text()
    assert len(list(folder.rglob("*.jpg"))) == 12

    window.resize(1920, 1080)
    dialog.resize(1400, 900)
    qtbot.wait(50)
    dialog.grab().save(str(output_dir / "curation-1920.png"))
