"""Curation view: duplicate groups with their keeper, a best-of strip, picks saved at once.

Also the album as visual groups: every photo in exactly one group, naming a
group saves an ``add`` decision for each of its photos, and ``k`` regroups.
"""

from __future__ import annotations

import shutil

from PIL import Image

from core.curate import picked_photos
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
