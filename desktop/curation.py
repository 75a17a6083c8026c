"""Curate the album: near-duplicate groups with their keeper, a best-of strip, and visual groups.

Finding duplicates and highlights decodes every photo once (hashes, sharpness,
exposure), so it runs as a background job (:func:`curate_in_background`)
with its own Store;
the dialog fills in when the result comes back. A pick is a decision like a
tag decision: it goes to the database worker at once, so closing the dialog
loses nothing. The album is the photos in the grid.

The album as groups (``core.curation.groups.album_groups``) is computed by the same
worker; changing the number of groups recomputes only the groups, again off
the GUI thread. Naming a group adds the tag to all its photos through the
database worker, like a pick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.jobs import Job, run_in_background

if TYPE_CHECKING:
    from core.curation.groups import PhotoGroup
    from desktop.models import PhotoItem
    from desktop.workers import DbWorker, ThumbnailLoader

log = logging.getLogger(__name__)

THUMB = 112
BEST_N = 8
PHOTO_ID_ROLE = Qt.ItemDataRole.UserRole
MAX_GROUPS = 40
"""The spin box's ceiling; 0 on it means "chosen from the data"."""


@dataclass(frozen=True)
class CurationResult:
    """Duplicate groups, highlights and visual groups (``core.curation.groups.PhotoGroup``).

    ``groups_only`` marks a recomputation of the visual groups alone (new ``k``):
    the dialog then keeps the duplicates and highlights it already shows.
    """

    groups: list[Any] = field(default_factory=list)
    highlights: list[Any] = field(default_factory=list)
    visual: list[Any] = field(default_factory=list)
    error: str | None = None
    groups_only: bool = False


def curate_in_background(
    *,
    db_path: Path,
    backbone: str,
    photo_ids: list[int],
    cancel: threading.Event,
    progress: Callable[[tuple[int, int]], None],
    n: int = BEST_N,
    k: int | None = None,
    groups_only: bool = False,
) -> CurationResult:
    """The album's duplicate groups, best ``n`` photos and visual groups: a background job.

    With ``groups_only`` it computes the visual groups alone (the ``k`` spin box).
    Reports (done, total) while photos are measured; no embeddings yet and the
    like come back as the result's ``error``.
    """
    try:
        from core.curation.dupes import find_duplicates
        from core.curation.groups import album_groups
        from core.curation.highlights import best_of
        from core.store import Store

        with Store(db_path) as store:
            visual = album_groups(store, backbone=backbone, photo_ids=photo_ids, k=k, cancel=cancel)
            if groups_only:
                return CurationResult(visual=visual, groups_only=True)
            common = {
                "backbone": backbone,
                "photo_ids": photo_ids,
                "progress": lambda done, total: progress((done, total)),
                "cancel": cancel,
            }
            groups = find_duplicates(store, **common)
            highlights = best_of(store, n=n, **common)  # measured once: cached
        return CurationResult(groups, highlights, visual)
    except Exception as exc:  # no embeddings yet and the like: shown in the dialog
        log.info("curation failed: %s", exc)
        return CurationResult(error=str(exc), groups_only=groups_only)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _strip() -> QListWidget:
    strip = QListWidget()
    strip.setViewMode(QListView.ViewMode.IconMode)
    strip.setFlow(QListView.Flow.LeftToRight)
    strip.setWrapping(False)
    strip.setIconSize(QSize(THUMB, THUMB))
    strip.setGridSize(QSize(THUMB + 16, THUMB + 40))
    strip.setFixedHeight(THUMB + 60)
    strip.setMovement(QListView.Movement.Static)
    strip.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    strip.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
    return strip


class CurationDialog(QDialog):
    """Best-of strip on top; below, tabs for duplicate groups and for the album as groups.

    Pick (P, or double-click) records a pick for the selected photos at once.
    Each visual group shows its suggested names and can be named in one go.
    """

    def __init__(
        self,
        *,
        items: list[PhotoItem],
        loader: ThumbnailLoader,
        db: DbWorker,
        db_path: Path,
        backbone: str,
        tags_changed: Callable[[], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Curate album")
        # Room for the whole best-of strip and the group buttons, within the screen.
        wanted = QSize(BEST_N * (THUMB + 16) + 72, 700)
        screen = (parent.screen() if parent is not None else None) or QApplication.primaryScreen()
        room = screen.availableGeometry().size() - QSize(40, 60)
        self.setMinimumSize(wanted.boundedTo(room))
        self.resize(wanted)  # the window system keeps it on a smaller screen
        self.loader, self.db, self.db_path, self.backbone = loader, db, db_path, backbone
        self.tags_changed = tags_changed
        self.items: dict[int, PhotoItem] = {i.photo_id: i for i in items if i.photo_id is not None}
        self.picked: set[int] = set()
        self.summary = ""
        self.result: CurationResult | None = None
        self.worker: Job | None = None
        self._icons: dict[str, list[QListWidgetItem]] = {}
        self._rows: dict[int, list[QListWidgetItem]] = {}
        self.visual: list[PhotoGroup] = []
        self.group_strips: list[QListWidget] = []
        self.group_names: list[QLineEdit] = []
        self._group_boxes: list[QWidget] = []
        self._regroup_pending = False
        self.reject_ids: list[int] = []  # decisions of the last "mark as rejects", for undo
        self.rejected: set[int] = set()

        self.status = QLabel("Looking for duplicates and the best photos…")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setFormat("%v of %m photos measured")
        self.best_note = QLabel()
        self.best_note.setObjectName("hint")
        self.best_note.setWordWrap(True)
        self.best_strip = _strip()
        self.best_strip.itemDoubleClicked.connect(lambda item: self._pick([item]))
        self.groups_box = QVBoxLayout()
        self.groups_box.addStretch(1)
        groups_page = QWidget()
        groups_page.setLayout(self.groups_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(groups_page)
        self.groups_title = QLabel("DUPLICATES")
        self.groups_title.setObjectName("sectionTitle")
        self.reject_button = QPushButton("Mark the others as rejects")
        self.reject_button.setToolTip(
            "Set aside every photo but the keeper of each group: nothing is deleted,"
            " Review ▸ Show Rejects lists them, Undo takes it back"
        )
        self.reject_button.clicked.connect(self.mark_rejects)
        self.undo_rejects_button = QPushButton("Undo")
        self.undo_rejects_button.setToolTip("Take back the rejects just marked")
        self.undo_rejects_button.clicked.connect(self.undo_rejects)
        self.copy_button = QPushButton("Copy keepers to…")
        self.copy_button.setToolTip(
            "Copy the album without the duplicates' others into a folder (originals untouched)"
        )
        self.copy_button.clicked.connect(lambda: self.choose_place("copy"))
        self.link_button = QPushButton("Link keepers to…")
        self.link_button.setToolTip("The same as links to the originals, taking no space")
        self.link_button.clicked.connect(lambda: self.choose_place("link"))
        for button in (
            self.reject_button,
            self.undo_rejects_button,
            self.copy_button,
            self.link_button,
        ):
            button.setEnabled(False)
        dupes_header = QHBoxLayout()
        dupes_header.addWidget(self.groups_title, 1)
        for button in (
            self.reject_button,
            self.undo_rejects_button,
            self.copy_button,
            self.link_button,
        ):
            dupes_header.addWidget(button)
        dupes_tab = QWidget()
        dupes_layout = QVBoxLayout(dupes_tab)
        dupes_layout.addLayout(dupes_header)
        dupes_layout.addWidget(scroll, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(dupes_tab, "Duplicates")
        self.tabs.addTab(self._visual_tab(), "Groups")
        self.pick_button = QPushButton("Pick selected  P")
        self.pick_button.setShortcut("P")
        self.pick_button.clicked.connect(self.pick_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        footer = QHBoxLayout()
        footer.addWidget(self.pick_button)
        footer.addStretch(1)
        footer.addWidget(buttons)
        best_title = QLabel(f"BEST {BEST_N}")
        best_title.setObjectName("sectionTitle")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(best_title)
        layout.addWidget(self.best_strip)
        layout.addWidget(self.best_note)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(footer)
        loader.loaded.connect(self._on_thumbnail)

    def _visual_tab(self) -> QWidget:
        """The album as groups: a spin box for how many, then one named strip per group."""
        self.visual_title = QLabel("GROUPS")
        self.visual_title.setObjectName("sectionTitle")
        self.k_box = QSpinBox()
        self.k_box.setRange(0, max(2, min(MAX_GROUPS, len(self.items))))
        self.k_box.setSpecialValueText("auto")
        self.k_box.setToolTip("How many groups; auto lets the photos decide")
        # Debounced: spinning through values should not start one clustering per step.
        self._regroup_timer = QTimer(self)
        self._regroup_timer.setSingleShot(True)
        self._regroup_timer.setInterval(400)
        self._regroup_timer.timeout.connect(self.regroup)
        self.k_box.valueChanged.connect(lambda _v: self._regroup_timer.start())
        controls = QHBoxLayout()
        controls.addWidget(self.visual_title)
        controls.addStretch(1)
        controls.addWidget(QLabel("Number of groups:"))
        controls.addWidget(self.k_box)
        self.visual_box = QVBoxLayout()
        self.visual_box.addStretch(1)
        page = QWidget()
        page.setLayout(self.visual_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(page)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addLayout(controls)
        layout.addWidget(scroll, 1)
        return tab

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self, *, groups_only: bool = False) -> None:
        """Measure the album as a background job; returns at once."""
        if not self.items:
            self._show(CurationResult(error="Open and tag a folder first"))
            return
        self.worker = run_in_background(
            curate_in_background,
            db_path=self.db_path,
            backbone=self.backbone,
            photo_ids=list(self.items),
            k=self.k_box.value() or None,
            groups_only=groups_only,
            on_progress=self._on_progress,
            on_done=self._show,
            on_error=lambda exc: self._show(
                CurationResult(error=str(exc), groups_only=groups_only)
            ),
            parent=self,
        )

    def regroup(self) -> None:
        """Recompute the visual groups for the spin box's ``k``, after any running worker."""
        self._regroup_timer.stop()  # called directly or by the timer: once either way
        if self.worker is not None:
            self._regroup_pending = True  # one worker at a time; _show starts it
            return
        self._regroup_pending = False
        self.visual_title.setText("GROUPS · REGROUPING…")
        self.start(groups_only=True)

    def stop(self) -> None:
        """Cancel and wait for the worker (the dialog or the window closes)."""
        self._regroup_timer.stop()  # no regrouping for a closed dialog
        self._regroup_pending = False
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(30)
            self.worker = None

    def done(self, result: int) -> None:
        self.stop()
        super().done(result)

    def _on_progress(self, counts: tuple[int, int]) -> None:
        done, total = counts
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.status.setText(
            f"Measuring sharpness, exposure and likeness: {done:,} of {total:,} photos…"
        )

    @Slot(object)
    def _show(self, result: CurationResult) -> None:
        self.worker = None
        if self._regroup_pending and result.error is None:
            self.regroup()  # the user changed k meanwhile: that clustering is stale
        if result.groups_only:
            if result.error is not None:
                self.status.setText(f"Cannot group: {result.error}")
            else:
                self._show_visual(result.visual)
            return
        self.result = result
        self.progress.hide()
        if result.error is not None:
            self.status.setText(f"Cannot curate: {result.error}")
            return
        self._show_visual(result.visual)
        extra = sum(len(g.others) for g in result.groups)
        self.summary = (
            f"{_count(len(result.groups), 'group')} of near-duplicates: "
            f"{_count(extra, 'photo')} you could set aside, ★ marks the keeper."
        )
        self.status.setText(f"{self.summary} Pick photos to keep: P or double-click.")
        for rank, h in enumerate(result.highlights, 1):
            short, sentence = explain_highlight(h, rank=rank)
            self._add(self.best_strip, h.photo_id, short)
            self._rows[h.photo_id][-1].setToolTip(f"{self._name(h.photo_id)}: {sentence}")
        if result.highlights:
            self.best_note.setText(
                "Chosen for sharpness, exposure and low noise against the rest of the album,"
                " for your picks and stars once you have made some, and for being unlike each"
                " other. " + explain_highlight(result.highlights[0], rank=1)[1]
            )
        self.groups_title.setText(f"DUPLICATES · {_count(len(result.groups), 'group').upper()}")
        for group in result.groups:
            strip = _strip()
            strip.itemDoubleClicked.connect(lambda item: self._pick([item]))
            for pid, sim, copy in zip(group.photo_ids, group.similarity, group.copies, strict=True):
                keeper = pid == group.keeper
                self._add(strip, pid, "★ keep" if keeper else _likeness(sim, copy))
            caption = QLabel(self._group_caption(group))
            caption.setTextFormat(Qt.TextFormat.RichText)
            caption.setWordWrap(True)
            caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.groups_box.insertWidget(self.groups_box.count() - 1, caption)
            self.groups_box.insertWidget(self.groups_box.count() - 1, strip)
        has_groups = bool(result.groups)
        self.reject_button.setEnabled(has_groups)
        self.reject_button.setText(f"Mark the {_count(extra, 'other')} as rejects")
        self.copy_button.setEnabled(True)
        self.link_button.setEnabled(True)

    def _show_visual(self, groups: list[PhotoGroup]) -> None:
        """Replace the group strips; rows of the old ones are forgotten before they go."""
        old = {
            id(row)
            for strip in self.group_strips
            for row in (strip.item(r) for r in range(strip.count()))
        }
        for registry in (self._icons, self._rows):
            for key, rows in registry.items():
                registry[key] = [r for r in rows if id(r) not in old]
        for box in self._group_boxes:
            self.visual_box.removeWidget(box)
            box.deleteLater()
        self.visual, self.group_strips, self.group_names, self._group_boxes = groups, [], [], []
        auto = "" if self.k_box.value() else " (AUTO)"
        self.visual_title.setText(f"GROUPS · {_count(len(groups), 'group').upper()}{auto}")
        for group in groups:
            box = self._group_box(group)
            self._group_boxes.append(box)
            self.visual_box.insertWidget(self.visual_box.count() - 1, box)

    def _group_box(self, group: PhotoGroup) -> QWidget:
        names = ", ".join(group.names) if group.names else "no suggestion"
        caption = QLabel(
            f"<b>Group {group.index + 1}</b> · {_count(len(group.photo_ids), 'photo')}"
            f" · suggested: {names}"
        )
        caption.setTextFormat(Qt.TextFormat.RichText)
        name = QLineEdit(group.names[0] if group.names else "")
        name.setPlaceholderText("tag for every photo")
        name.setMinimumWidth(160)
        button = QPushButton("Name group…")
        button.setMinimumWidth(button.sizeHint().width())
        button.setToolTip("Add this tag to every photo of the group (saved at once)")
        button.clicked.connect(lambda: self.name_group(group, name.text(), button))
        name.returnPressed.connect(button.click)
        header = QHBoxLayout()
        header.addWidget(caption, 1)
        header.addWidget(name)
        header.addWidget(button)
        strip = _strip()
        strip.itemDoubleClicked.connect(lambda item: self._pick([item]))
        for pid in group.photo_ids:
            self._add(strip, pid, "")  # the name is the tooltip; elided names are noise
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addLayout(header)
        layout.addWidget(strip)
        self.group_strips.append(strip)
        self.group_names.append(name)
        return box

    def name_group(self, group: PhotoGroup, tag: str, button: QPushButton | None = None) -> None:
        """Add ``tag`` to every photo of ``group`` on the database worker, like a pick."""
        tag = tag.strip()
        if not tag:
            self.status.setText("Type a name for the group first.")
            return
        from core.curation.groups import name_group

        if button is not None:
            button.setEnabled(False)  # one decision per click, not one per impatient click

        def save(store) -> list[int]:
            return name_group(store, group, tag)

        def done(ids: list[int]) -> None:
            if button is not None:
                button.setEnabled(True)
            self.status.setText(
                f"Group {group.index + 1} named “{tag}”: {_count(len(ids), 'photo')} tagged (saved)."
            )
            self.tags_changed()  # the grid shows the new tag

        def failed(exc: Exception) -> None:
            if button is not None:
                button.setEnabled(True)
            self.status.setText(f"The group was not named: {exc}")

        self.db.submit(save, done, failed)

    def _add(self, strip: QListWidget, photo_id: int, caption: str) -> None:
        item = self.items.get(photo_id)
        row = QListWidgetItem(caption)
        row.setData(PHOTO_ID_ROLE, photo_id)
        row.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._rows.setdefault(photo_id, []).append(row)
        if item is not None:
            row.setToolTip(Path(item.ref.uri).name)
            self._icons.setdefault(item.ref.uri, []).append(row)
            self.loader.request(item.ref, THUMB * 2)
        strip.addItem(row)

    @Slot(str, int, QImage)
    def _on_thumbnail(self, uri: str, _size: int, image: QImage) -> None:
        rows = self._icons.get(uri)
        if rows:
            icon = QIcon(QPixmap.fromImage(image))
            strips = set()
            for row in rows:
                row.setIcon(icon)
                strips.add(row.listWidget())
            for strip in strips:  # an icon arriving late can leave the grid misplaced
                if strip is not None:
                    strip.doItemsLayout()

    def strips(self) -> list[QListWidget]:
        return self.findChildren(QListWidget)

    def pick_selected(self) -> None:
        self._pick([row for strip in self.strips() for row in strip.selectedItems()])

    def _pick(self, rows: list[QListWidgetItem]) -> None:
        ids = sorted({int(r.data(PHOTO_ID_ROLE)) for r in rows} - self.picked)
        if not ids:
            return
        from core.curation.curate import record_pick

        def save(store) -> list[int]:
            for pid in ids:  # each committed as it is made, like a tag decision
                record_pick(store, pid, picked=True, origin="desktop")
            return ids

        self.db.submit(
            save,
            self._on_picked,
            lambda exc: self.status.setText(f"The pick was not saved: {exc}"),
        )

    def _on_picked(self, ids: list[int]) -> None:
        self.picked.update(ids)
        for pid in ids:
            for row in self._rows.get(pid, []):
                if not row.text().startswith("✓"):
                    row.setText(f"✓ {row.text()}")
        self.status.setText(f"{self.summary} {_count(len(self.picked), 'photo')} picked (saved).")

    # -- acting on duplicates --------------------------------------------------------

    def _name(self, photo_id: int) -> str:
        item = self.items.get(photo_id)
        return Path(item.ref.uri).name if item is not None else f"photo {photo_id}"

    def _group_caption(self, group: Any) -> str:
        """The group's files, keeper first, each with its folder."""
        lines = []
        for pid, sim, copy in zip(group.photo_ids, group.similarity, group.copies, strict=True):
            item = self.items.get(pid)
            folder = str(Path(item.ref.uri).parent) if item is not None else ""
            name = escape(self._name(pid))
            if pid == group.keeper:
                lines.append(f"★ <b>{name}</b> — keep · <i>{escape(folder)}</i>")
            else:
                lines.append(
                    f"&nbsp;&nbsp;{name} — {_likeness(sim, copy)} · <i>{escape(folder)}</i>"
                )
        return "<br>".join(lines)

    def others(self) -> list[int]:
        """Every duplicate but its group's keeper (and but photos the person picked)."""
        if self.result is None:
            return []
        return [p for g in self.result.groups for p in g.others if p not in self.picked]

    def mark_rejects(self) -> None:
        """Mark the duplicates' others as rejects on the database worker; Undo takes it back."""
        ids = [p for p in self.others() if p not in self.rejected]
        if not ids:
            return
        from core.curation.curate import mark_rejects

        self.reject_button.setEnabled(False)

        def done(decision_ids: list[int]) -> None:
            self.reject_ids = decision_ids
            self.rejected.update(ids)
            for pid in ids:
                for row in self._rows.get(pid, []):
                    row.setText(f"✗ {row.text()}")
            self.undo_rejects_button.setEnabled(True)
            self.status.setText(
                f"{_count(len(ids), 'photo')} marked as rejects (nothing deleted). "
                "Review ▸ Show Rejects lists them; Undo takes it back."
            )
            self.tags_changed()

        def failed(exc: Exception) -> None:
            self.reject_button.setEnabled(True)
            self.status.setText(f"The rejects were not marked: {exc}")

        self.db.submit(partial(mark_rejects, photo_ids=ids, origin="desktop"), done, failed)

    def undo_rejects(self) -> None:
        """Take back the rejects marked last."""
        mark_ids, self.reject_ids = self.reject_ids, []
        if not mark_ids:
            return
        from core.curation.curate import undo_marks

        self.undo_rejects_button.setEnabled(False)

        def done(_result: object) -> None:
            for pid in self.rejected:
                for row in self._rows.get(pid, []):
                    row.setText(row.text().removeprefix("✗ "))
            self.status.setText(f"Undone: {_count(len(self.rejected), 'photo')} no longer rejects.")
            self.rejected.clear()
            self.reject_button.setEnabled(True)
            self.tags_changed()

        self.db.submit(
            partial(undo_marks, mark_ids=mark_ids),
            done,
            lambda exc: self.status.setText(f"The rejects were not undone: {exc}"),
        )

    def keepers(self) -> list[int]:
        """The album without the duplicates' others, in grid order."""
        others = set(self.others())
        return [pid for pid in self.items if pid not in others]

    def choose_place(self, mode: str) -> None:
        verb = "Copy" if mode == "copy" else "Link"
        folder = QFileDialog.getExistingDirectory(self, f"{verb} the keepers into")
        if folder:
            self.place_keepers(Path(folder), mode=mode)

    def place_keepers(self, folder: Path, *, mode: str = "copy") -> None:
        """Copy or link the keepers into ``folder`` on the database worker; originals stay."""
        from core.curation.curate import place_photos

        ids = self.keepers()
        verb = "Copied" if mode == "copy" else "Linked"

        def done(placed: list) -> None:
            self.status.setText(f"{verb} {_count(len(placed), 'photo')} into {folder}.")

        self.db.submit(
            partial(place_photos, photo_ids=ids, folder=folder, mode=mode),
            done,
            lambda exc: self.status.setText(f"Nothing was placed in {folder}: {exc}"),
        )


def _likeness(similarity: float, copy: bool) -> str:
    """How alike a duplicate is to its keeper, in words."""
    if copy:
        return "same picture"
    return f"{similarity:.0%} alike"


def explain_highlight(h: Any, *, rank: int) -> tuple[str, str]:
    """A short caption and a sentence for one best-of photo.

    The scores are relative to the album (0 is its middle, 1 one spread above),
    so the words say how the photo compares with the others.
    """
    tech = h.technical
    if tech >= 0.75:
        short, quality = "sharp", "sharper and better exposed than most of the album"
    elif tech >= -0.25:
        short, quality = "good", "about as sharp and well exposed as the album"
    else:
        short, quality = "soft", "less sharp or well exposed than most, but unlike the others"
    sentence = f"#{rank}: {quality}"
    if h.learned is not None:
        if h.learned > 0:
            short += " · your taste"
            sentence += ", and like the photos you picked or starred"
        else:
            sentence += ", though unlike the photos you picked"
    return f"#{rank} {short}", sentence + f" (score {h.score:+.2f})."
