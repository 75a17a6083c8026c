"""The People view: cards per group, naming with completion, merge, "not this person", boxes."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from core.engine.face_encoder import recognition_available
from tests.conftest import shared
from tests.desktop.conftest import make_window, wait_db
from tests.store_sql import sql

pytestmark = pytest.mark.skipif(
    not recognition_available(), reason="face recognition is not installed"
)


@pytest.fixture(scope="module")
def faces_db(tmp_path_factory, tagger) -> tuple[Path, dict[str, list[str]], object]:
    """The faces set tagged (train and test) with recognition on, into a database file."""
    from core.engine.face_encoder import FaceEncoder
    from core.engine.pipeline import Tagger, tag_photos
    from core.engine.sources import collect
    from core.store import Store

    root = shared("faces")
    with open(root / "labels.csv", newline="") as fh:
        labels = {str(root / r["path"]): r["people"].split(";") for r in csv.DictReader(fh)}
    recognising = Tagger(
        tagger.spec,
        tagger.runtime,
        tagger.vocabulary,
        faces=tagger.faces,
        people=tagger.people,
        encoder=FaceEncoder(),
    )
    db = tmp_path_factory.mktemp("people") / "people.db"
    with Store(db) as store:
        tag_photos(list(collect([str(root / "train")])), tagger=recognising, store=store)
    return db, labels, recognising


def _view(qtbot, db):
    from desktop.app import create_app
    from desktop.people_view import PeopleView

    create_app([])
    view = PeopleView(db)
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    qtbot.waitExposed(view)
    return view


def _idle(qtbot, view) -> None:
    qtbot.waitUntil(lambda: view.busy == 0, timeout=60_000)


def _group_rows(view) -> dict[int, str]:
    return {
        view.groups_list.item(i).data(256): view.groups_list.item(i).text()
        for i in range(view.groups_list.count())
    }


def _choose(qtbot, view, group: int) -> None:
    for i in range(view.groups_list.count()):
        if view.groups_list.item(i).data(256) == group:
            view.groups_list.setCurrentRow(i)
    _idle(qtbot, view)


def test_people_view_flows(qtbot, faces_db, output_dir):
    from core.engine.pipeline import tag_photos
    from core.engine.sources import collect
    from core.store import Store

    db, labels, recognising = faces_db
    view = _view(qtbot, db)
    view.start()
    _idle(qtbot, view)
    rows = _group_rows(view)
    assert len(rows) == 6 and all(text.startswith("Unnamed") for text in rows.values())
    assert view.groups_list.item(0).icon().isNull() is False  # the card shows a face
    view.grab().save(str(output_dir / "people-unnamed.png"))

    # Name every group after the person most of its photos show (largest group first).
    with Store(db) as store:
        records = store.people
        photos = {
            g: [store.photo_uris([f.photo_id])[f.photo_id] for f in records.faces(person_id=g)]
            for g in rows
        }
    named: dict[int, str] = {}
    for group in rows:  # the list is largest first, like `phototagger people`
        person = Counter(n for p in photos[group] for n in labels[p]).most_common(1)[0][0]
        if person in named.values():
            continue
        _choose(qtbot, view, group)
        view.name_edit.setText(person.title())
        qtbot.keyClick(view.name_edit, "\r")
        _idle(qtbot, view)
        named[group] = person
    assert len(named) == 5
    assert set(view.completer.model().stringList()) == {p.title() for p in named.values()}
    view.grab().save(str(output_dir / "people-named.png"))

    # The stranger beside Obama: merged into Obama by mistake, then "not this person" (N).
    stranger = next(g for g in rows if g not in named)
    obama = next(g for g, p in named.items() if p == "barack obama")
    _choose(qtbot, view, stranger)
    view.merge_box.setCurrentIndex(view.merge_box.findData(obama))
    view.merge_button.click()
    _idle(qtbot, view)
    assert stranger not in _group_rows(view)
    _choose(qtbot, view, obama)
    with Store(db) as store:
        strangers_face = [f.id for f in store.people.faces(person_id=obama) if f.score < 0.95]
    assert len(strangers_face) == 1
    for i in range(view.faces_list.count()):
        item = view.faces_list.item(i)
        item.setSelected(item.data(256) == strangers_face[0])
    view.faces_list.setFocus()
    qtbot.keyClick(view.faces_list, "n")
    _idle(qtbot, view)
    with Store(db) as store:
        face = store.people.face(strangers_face[0])
        assert face.person_id is None or face.person_id != obama
        rejected = sql(store, "select person_id from face_rejections").fetchall()
        assert rejected == [(obama,)]
        obama_photo = store.photo_id(str(shared("faces", "train", "obama", "obama.jpg")))
        assert store.tag_states(obama_photo)["Barack Obama"] == "add"  # his own face stays

    # New photos: their faces come suggested; Y says yes to the selected one.
    with Store(db) as store:
        test_dir = shared("faces", "test")
        tag_photos(list(collect([str(test_dir / "obama1.jpg")])), tagger=recognising, store=store)
    view.reload(regroup=True)
    _idle(qtbot, view)
    _choose(qtbot, view, obama)
    first = view.faces_list.item(0)
    assert first.data(257).endswith("obama1.jpg") and first.text().endswith("% sure?")
    new_id = first.data(256)
    view.grab().save(str(output_dir / "people-suggested.png"))
    view.faces_list.setCurrentRow(0)
    qtbot.keyClick(view.faces_list, "y")
    _idle(qtbot, view)
    with Store(db) as store:
        new_face = store.people.face(new_id)
        assert (new_face.person_id, new_face.source) == (obama, "confirmed")
        assert (
            store.tag_states(store.photo_id(str(test_dir / "obama1.jpg")))["Barack Obama"] == "add"
        )
    view.close()


def test_named_boxes_are_drawn_on_the_preview(qtbot):
    from PySide6.QtGui import QColor, QImage

    from core.people.regions import NamedFace
    from desktop.app import create_app
    from desktop.people_view import draw_named_faces

    create_app([])
    image = QImage(200, 100, QImage.Format.Format_RGB32)
    image.fill(QColor("black"))
    out = draw_named_faces(
        image,
        [
            NamedFace((0.1, 0.1, 0.3, 0.5), "Anna", True),
            NamedFace((0.6, 0.1, 0.8, 0.5), "Ben?", False),
        ],
    )
    assert out.size() == image.size()
    assert QColor(out.pixel(20, 30)).name() == "#ffd54f"  # Anna's box, left edge
    assert QColor(out.pixel(200 // 2, 10)).name() == "#000000"  # between the boxes: untouched


def test_the_window_opens_people_and_filters_the_grid_by_person(qtbot, faces_db, output_dir):
    from core.people.groups import group_faces
    from core.people.naming import groups, name_group
    from core.store import Store
    from desktop.people_view import PeopleView

    db, _, _ = faces_db
    with Store(db) as store:  # the test may run alone: one group at least has a name
        group_faces(store)
        if not any(g.name for g in groups(store)):
            name_group(store, groups(store)[0].id, "Someone")
    window = make_window(qtbot)
    window.db_path = db  # the view reads the faces set's database
    window.people_action.trigger()
    view = window.people_view
    assert isinstance(view, PeopleView) and view.isVisible()
    _idle(qtbot, view)
    assert view.groups_list.count() >= 5
    named = next(g for g in view.snapshot.groups if g.name)
    _choose(qtbot, view, named.id)
    qtbot.keyClick(view, "p")
    assert window.proxy.tag == named.name
    wait_db(qtbot, window)
    view.grab().save(str(output_dir / "people-from-window.png"))
    view.close()


def test_the_viewer_boxes_and_names_the_people_on_the_photo(qtbot, faces_db, output_dir):
    import sqlite3

    from core import settings as core_settings
    from core.engine.sources import iter_folder
    from core.people.groups import group_faces
    from core.people.naming import groups, name_group
    from core.store import Store
    from tests.desktop.conftest import open_and_wait

    db, _, _ = faces_db
    with Store(db) as store:
        group_faces(store)
        if not any(g.name for g in groups(store)):
            name_group(store, groups(store)[0].id, "Someone")
        named = {p.id: p.name for p in store.people.persons() if p.name}
        face = next(f for f in store.people.faces() if f.person_id in named)
        uri, name = store.photo(face.photo_id).uri, named[face.person_id]
    # The window's own database becomes a copy of the faces set's.
    target = core_settings.database_path(core_settings.load_settings())
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
        # The window resolves the folder it opens (../shared may be a symbolic link).
        for pid, stored in copy.execute("select id, uri from photos").fetchall():
            copy.execute(
                "update photos set uri = ? where id = ?", [str(Path(stored).resolve()), pid]
            )
    uri = str(Path(uri).resolve())
    window = make_window(qtbot)
    folder = Path(uri).parent
    open_and_wait(qtbot, window, folder, len(list(iter_folder(folder))))  # .jpg and .jpeg
    row = next(r for r, item in enumerate(window.model.items()) if item.ref.uri == uri)
    window.grid.setCurrentIndex(window.proxy.mapFromSource(window.model.index(row, 0)))
    window.open_viewer()
    qtbot.waitUntil(window.viewer.loaded, timeout=10_000)
    qtbot.waitUntil(lambda: bool(window.viewer.view.faces), timeout=10_000)
    labels = [f.label for f in window.viewer.view.faces]
    assert name in labels or f"{name}?" in labels
    window.grab().save(str(output_dir / "viewer-named-faces.png"))
    window.step_photo(1 if row + 1 < window.model.rowCount() else -1)
    assert window.viewer.item is not None and window.viewer.item.ref.uri != uri
    assert window.viewer.view.faces == []  # another photo: these boxes are gone at once
