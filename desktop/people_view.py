"""The People view: one card per group of faces, named with completion, merged, split.

Left, the groups (the clearest face, the name or "Unnamed", the count); right,
the chosen group's faces, each marked confirmed, suggested (with its
confidence) or grouped. Keys: Y says yes to a suggested face, N says "not this
person" (never undone by a later run), Return in the name field names the
group (a name in use merges the two), Ctrl+M merges into the group chosen
beside it, P shows the person's photos in the grid.

Everything that reads photos or writes the database runs on superqt's
``thread_worker`` with its own store connection, and the view reloads from
the database when it is done. It also hosts the small hooks the main window
uses: named boxes drawn on the preview.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QFont,
    QIcon,
    QImage,
    QKeySequence,
    QPainter,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)
from superqt.utils import create_worker

from desktop.face_boxes import paint_face_boxes

log = logging.getLogger(__name__)

CARD = 96
ID_ROLE = Qt.ItemDataRole.UserRole
PHOTO_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class FaceCard:
    id: int
    photo: str
    source: str | None
    confidence: float | None
    image: QImage | None


@dataclass(frozen=True)
class PeopleSnapshot:
    """What the view shows, read off the GUI thread."""

    groups: list[Any]
    crops: dict[int, QImage | None]
    names: list[str]
    recognition: str | None


def _to_qimage(image) -> QImage:
    data = image.convert("RGB").tobytes()
    q = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888)
    return q.copy()  # own the pixels: ``data`` goes away


def _crop(store, face) -> QImage | None:
    from core.people.regions import face_crop

    uri = store.photo_uris([face.photo_id]).get(face.photo_id)
    try:
        return _to_qimage(face_crop(uri, face.box, size=CARD)) if uri else None
    except Exception as exc:  # a moved or unreadable photo: the card shows no face
        log.info("no face crop from %s: %s", uri, exc)
        return None


def load_snapshot(db_path: Path, *, regroup: bool) -> PeopleSnapshot:
    """Group new faces (if asked), then the groups and their faces' crops."""
    from core.engine.face_encoder import NOT_INSTALLED, recognition_available
    from core.people.groups import group_faces
    from core.people.naming import groups
    from core.store import Store

    with Store(db_path) as store:
        if regroup:
            group_faces(store)
        found = groups(store)
        records = store.people
        by_id = {f.id: f for f in records.faces()}
        crops = {
            g.id: _crop(store, by_id[g.best_face]) if g.best_face in by_id else None for g in found
        }
        names = sorted(p.name for p in records.persons() if p.name)
    note = None if recognition_available() else NOT_INSTALLED
    return PeopleSnapshot(found, crops, names, note)


def load_faces(db_path: Path, person_id: int) -> list[FaceCard]:
    """A group's faces with their crops, suggestions first (they wait for a yes or no)."""
    from core.store import Store

    with Store(db_path) as store:
        records = store.people
        faces = records.faces(person_id=person_id)
        uris = store.photo_uris(f.photo_id for f in faces)
        cards = [
            FaceCard(f.id, uris.get(f.photo_id, ""), f.source, f.confidence, _crop(store, f))
            for f in faces
        ]
    order = {"suggested": 0, "grouped": 1, "confirmed": 2}
    return sorted(cards, key=lambda c: (order.get(c.source or "", 3), -(c.confidence or 0)))


def in_store(db_path: Path, fn: Callable, *args: Any) -> Any:
    """Run ``fn(store, *args)`` with a connection of this thread's own."""
    from core.store import Store

    with Store(db_path) as store:
        return fn(store, *args)


class PeopleView(QDialog):
    """The People view (see the module's description).

    Signals:
        personChosen: A person's name, to show their photos in the grid.
        changed: Names or faces changed (the grid's tags may need a reload).
    """

    personChosen = Signal(str)
    changed = Signal()

    def __init__(self, db_path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("People")
        self.resize(900, 600)
        self.db_path = db_path
        self.snapshot: PeopleSnapshot | None = None
        self.busy = 0
        self._workers: set = set()
        self._build()

    # -- layout --------------------------------------------------------------------------

    def _build(self) -> None:
        self.groups_list = QListWidget()
        self.groups_list.setViewMode(QListView.ViewMode.IconMode)
        self.groups_list.setIconSize(QSize(CARD, CARD))
        self.groups_list.setGridSize(QSize(CARD + 70, CARD + 44))
        self.groups_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.groups_list.setMovement(QListView.Movement.Static)
        self.groups_list.setWordWrap(True)
        self.groups_list.currentItemChanged.connect(self._on_group)
        self.status = QLabel("Looking for new faces…")

        self.title = QLabel("")
        font = QFont(self.title.font())
        font.setPointSize(font.pointSize() + 3)
        font.setBold(True)
        self.title.setFont(font)
        self.name_edit = QLineEdit(placeholderText="Name this person (Return)")
        self.completer = QCompleter([])
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.name_edit.setCompleter(self.completer)
        self.name_edit.returnPressed.connect(self.name_current)
        self.merge_box = QComboBox()
        self.merge_button = QPushButton("Merge into")
        self.merge_button.setToolTip("Move every face of this group into the chosen one (Ctrl+M)")
        self.merge_button.clicked.connect(self.merge_current)
        self.photos_button = QPushButton("Show photos")
        self.photos_button.setToolTip("Show this person's photos in the grid (P)")
        self.photos_button.clicked.connect(self.show_photos)
        self.faces_list = QListWidget()
        self.faces_list.setViewMode(QListView.ViewMode.IconMode)
        self.faces_list.setIconSize(QSize(CARD, CARD))
        self.faces_list.setGridSize(QSize(CARD + 40, CARD + 30))
        self.faces_list.setResizeMode(QListView.ResizeMode.Adjust)
        self.faces_list.setMovement(QListView.Movement.Static)
        self.faces_list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.yes_button = QPushButton("Yes, it is (Y)")
        self.yes_button.clicked.connect(self.confirm_selected)
        self.no_button = QPushButton("Not this person (N)")
        self.no_button.clicked.connect(self.reject_selected)

        row = QHBoxLayout()
        row.addWidget(self.name_edit, 3)
        row.addWidget(self.merge_button)
        row.addWidget(self.merge_box, 2)
        row.addWidget(self.photos_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.yes_button)
        buttons.addWidget(self.no_button)
        buttons.addStretch(1)
        detail = QWidget()
        right = QVBoxLayout(detail)
        right.addWidget(self.title)
        right.addLayout(row)
        right.addWidget(self.faces_list, 1)
        right.addLayout(buttons)
        left_widget = QWidget()
        left = QVBoxLayout(left_widget)
        left.addWidget(self.groups_list, 1)
        left.addWidget(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left_widget)
        splitter.addWidget(detail)
        splitter.setSizes([420, 480])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        for keys, slot in (
            ("Y", self.confirm_selected),
            ("N", self.reject_selected),
            ("Ctrl+M", self.merge_current),
            ("P", self.show_photos),
        ):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(slot)
        for button in (self.merge_button, self.photos_button, self.yes_button, self.no_button):
            button.setAutoDefault(False)  # Return belongs to the name field, not to a button
        self._set_detail_enabled(False)

    def _set_detail_enabled(self, on: bool) -> None:
        for widget in (
            self.name_edit,
            self.merge_box,
            self.merge_button,
            self.photos_button,
            self.yes_button,
            self.no_button,
        ):
            widget.setEnabled(on)

    # -- background work ------------------------------------------------------------------

    def _background(self, fn: Callable, *args: Any, done: Callable[[Any], None]) -> None:
        self.busy += 1
        worker = create_worker(fn, *args, _start_thread=False)
        worker.returned.connect(done)
        worker.errored.connect(lambda exc: self.status.setText(f"Could not: {exc}"))

        def finished() -> None:
            self.busy -= 1
            self._workers.discard(worker)

        worker.finished.connect(finished)
        self._workers.add(worker)
        worker.start()

    def reload(self, *, regroup: bool = False) -> None:
        """Read the groups again (after grouping new faces, with ``regroup``)."""
        self._background(partial(load_snapshot, regroup=regroup), self.db_path, done=self._show)

    def start(self) -> None:
        """Group the faces found since last time, then show the groups."""
        self.reload(regroup=True)

    def _change(self, fn: Callable, *args: Any) -> None:
        def done(_: Any) -> None:
            self.changed.emit()
            self.reload()

        self._background(in_store, self.db_path, fn, *args, done=done)

    # -- showing -----------------------------------------------------------------------

    def current_group(self) -> int | None:
        item = self.groups_list.currentItem()
        return item.data(ID_ROLE) if item is not None else None

    def _show(self, snapshot: PeopleSnapshot) -> None:
        self.snapshot = snapshot
        keep = self.current_group()
        self.groups_list.blockSignals(True)
        self.groups_list.clear()
        for group in snapshot.groups:
            label = group.name or "Unnamed"
            count = f"{group.faces} face" + ("s" if group.faces != 1 else "")
            if group.suggested:
                count += f", {group.suggested} to confirm"
            item = QListWidgetItem(f"{label}\n{count}")
            image = snapshot.crops.get(group.id)
            if image is not None:
                item.setIcon(QIcon(QPixmap.fromImage(image)))
            item.setData(ID_ROLE, group.id)
            item.setToolTip(f"Group {group.id}: {label}, {group.photos} photos")
            self.groups_list.addItem(item)
        self.groups_list.blockSignals(False)
        self.completer.model().setStringList(snapshot.names)  # type: ignore[attr-defined]
        named = sum(1 for g in snapshot.groups if g.name)
        text = f"{len(snapshot.groups)} groups, {named} named"
        self.status.setText(f"{snapshot.recognition}" if snapshot.recognition else text)
        rows = [
            i
            for i in range(self.groups_list.count())
            if self.groups_list.item(i).data(ID_ROLE) == keep
        ]
        if rows or self.groups_list.count():
            self.groups_list.setCurrentRow(rows[0] if rows else 0)
        else:
            self._on_group(None, None)

    def _on_group(self, item: QListWidgetItem | None, _previous: Any) -> None:
        self.faces_list.clear()
        group = self._group(item.data(ID_ROLE)) if item is not None else None
        self._set_detail_enabled(group is not None)
        if group is None:
            self.title.setText("No faces yet: tag photos with Find faces on")
            return
        faces = f"{group.faces} face" + ("s" if group.faces != 1 else "")
        photos = f"{group.photos} photo" + ("s" if group.photos != 1 else "")
        self.title.setText(f"{group.name or 'Unnamed'} · {faces} in {photos}")
        self.name_edit.setText(group.name or "")
        self.merge_box.clear()
        for other in self.snapshot.groups if self.snapshot else []:
            if other.id != group.id:
                self.merge_box.addItem(other.name or f"Unnamed group {other.id}", other.id)
        self.photos_button.setEnabled(bool(group.name))
        self._background(load_faces, self.db_path, group.id, done=self._show_faces)

    def _group(self, person_id: int | None):
        for group in self.snapshot.groups if self.snapshot else []:
            if group.id == person_id:
                return group
        return None

    def _show_faces(self, cards: list[FaceCard]) -> None:
        self.faces_list.clear()
        for card in cards:
            if card.source == "suggested":
                text = f"{card.confidence or 0:.0%} sure?"
            else:
                text = {"confirmed": "✓ confirmed", "grouped": "grouped"}.get(card.source or "", "")
            item = QListWidgetItem(text)
            if card.image is not None:
                item.setIcon(QIcon(QPixmap.fromImage(card.image)))
            item.setData(ID_ROLE, card.id)
            item.setToolTip(f"{text} · {card.photo}")
            item.setData(PHOTO_ROLE, card.photo)
            self.faces_list.addItem(item)
        if self.faces_list.count():
            self.faces_list.setCurrentRow(0)

    # -- actions -----------------------------------------------------------------------

    def _selected_faces(self) -> list[int]:
        return [item.data(ID_ROLE) for item in self.faces_list.selectedItems()]

    def name_current(self) -> None:
        """Name the chosen group from the name field (a name in use merges the two)."""
        from core.people.naming import name_group

        group, name = self.current_group(), self.name_edit.text().strip()
        if group is not None and name:
            self._change(name_group, group, name)

    def merge_current(self) -> None:
        from core.people.naming import merge_groups

        group, target = self.current_group(), self.merge_box.currentData()
        if group is not None and target is not None:
            self._change(merge_groups, group, target)

    def confirm_selected(self) -> None:
        """Yes: the selected faces are the chosen group's person."""
        from core.people.naming import confirm_face

        group, faces = self.current_group(), self._selected_faces()
        if group is not None and faces:
            self._change(_each, confirm_face, faces, group)

    def reject_selected(self) -> None:
        """Not this person: the selected faces leave the group for good."""
        from core.people.naming import reject_face

        group, faces = self.current_group(), self._selected_faces()
        if group is not None and faces:
            self._change(_each, reject_face, faces, group)

    def show_photos(self) -> None:
        group = self._group(self.current_group())
        if group is not None and group.name:
            self.personChosen.emit(group.name)


def _each(store, fn: Callable, faces: list[int], group: int) -> None:

    with store.transaction():
        for face in faces:
            fn(store, face, group)


# -- hooks for the main window ---------------------------------------------------------------


def draw_named_faces(image: QImage, faces: list[Any]) -> QImage:
    """The preview with each named face boxed and labelled (suggested ones dashed)."""
    out = image.convertToFormat(QImage.Format.Format_RGB32)
    painter = QPainter(out)
    paint_face_boxes(painter, QRectF(out.rect()), faces)
    painter.end()
    return out


def show_named_faces(window: Any, uri: str, image: QImage) -> None:
    """Ask the database worker for the photo's named faces; draw them if it is still shown."""
    from core.people.regions import named_faces

    def done(faces: list[Any]) -> None:
        if faces and getattr(window, "_preview_uri", None) == uri:
            window.panel.set_preview(QPixmap.fromImage(draw_named_faces(image, faces)))

    window.db.submit(partial(named_faces, uri=uri), done)


def show_named_faces_in_viewer(window: Any, uri: str) -> None:
    """Ask the database worker for the photo's named faces; the viewer draws them if still on it."""
    from core.people.regions import named_faces

    window.db.submit(
        partial(named_faces, uri=uri), lambda faces: window.viewer.set_faces(uri, faces)
    )


def open_people_view(window: Any) -> PeopleView:
    """The People view over the window's database; its person filter drives the grid."""
    view = getattr(window, "people_view", None)
    if view is None:
        view = PeopleView(window.db_path, window)
        view.personChosen.connect(lambda name: window.proxy.set_tag(name))
        view.changed.connect(window.reload_tags)
        window.people_view = view
    view.show()
    view.raise_()
    view.start()
    return view
