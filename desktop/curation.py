"""Curate the album: near-duplicate groups with their keeper, and a best-of strip to pick from.

Finding duplicates and highlights decodes every photo once (hashes, sharpness,
exposure), so it runs on a :class:`CurationWorker` thread with its own Store;
the dialog fills in when the result comes back. A pick is a decision like a
tag decision: it goes to the database worker at once, so closing the dialog
loses nothing. The album is the photos in the grid.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSize, Qt, QThread, Signal, Slot
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from desktop.main_window import MainWindow
    from desktop.models import PhotoItem

log = logging.getLogger(__name__)

THUMB = 112
BEST_N = 8
PHOTO_ID_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class CurationResult:
    """Duplicate groups (``core.dupes.DuplicateGroup``) and highlights (``core.highlights.Highlight``)."""

    groups: list[Any] = field(default_factory=list)
    highlights: list[Any] = field(default_factory=list)
    error: str | None = None


class CurationWorker(QThread):
    """Finds the album's duplicate groups and its best ``n`` photos off the GUI thread.

    Signals:
        progressed: (done, total) while photos are measured.
        found: The :class:`CurationResult`.
    """

    progressed = Signal(int, int)
    found = Signal(object)

    def __init__(
        self, *, db_path: Path, backbone: str, photo_ids: list[int], n: int = BEST_N
    ) -> None:
        super().__init__()
        self.setObjectName("phototagger-curate")
        self.db_path, self.backbone, self.photo_ids, self.n = db_path, backbone, photo_ids, n
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        try:
            from core.dupes import find_duplicates
            from core.highlights import best_of
            from core.store import Store

            with Store(self.db_path) as store:
                common = {
                    "backbone": self.backbone,
                    "photo_ids": self.photo_ids,
                    "progress": self.progressed.emit,
                    "cancel": self.cancel_event,
                }
                groups = find_duplicates(store, **common)
                highlights = best_of(store, n=self.n, **common)  # measured once: cached
            result = CurationResult(groups, highlights)
        except Exception as exc:  # no embeddings yet and the like: shown in the dialog
            log.info("curation failed: %s", exc)
            result = CurationResult(error=str(exc))
        self.found.emit(result)


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
    """Best-of strip on top, one strip per duplicate group below (keeper first, starred).

    Pick (P, or double-click) records a pick for the selected photos at once.
    """

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Curate album")
        self.setMinimumSize(760, 560)
        self.window_ = window
        self.items: dict[int, PhotoItem] = {
            i.photo_id: i for i in window.model.items() if i.photo_id is not None
        }
        self.picked: set[int] = set()
        self.summary = ""
        self.result: CurationResult | None = None
        self.worker: CurationWorker | None = None
        self._icons: dict[str, list[QListWidgetItem]] = {}
        self._rows: dict[int, list[QListWidgetItem]] = {}

        self.status = QLabel("Looking for duplicates and the best photos…")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.best_strip = _strip()
        self.best_strip.itemDoubleClicked.connect(lambda item: self._pick([item]))
        self.groups_box = QVBoxLayout()
        self.groups_box.addStretch(1)
        groups_page = QWidget()
        groups_page.setLayout(self.groups_box)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(groups_page)
        self.pick_button = QPushButton("Pick selected  P")
        self.pick_button.setShortcut("P")
        self.pick_button.clicked.connect(self.pick_selected)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        footer = QHBoxLayout()
        footer.addWidget(self.pick_button)
        footer.addStretch(1)
        footer.addWidget(buttons)
        self.groups_title = QLabel("DUPLICATES")
        self.groups_title.setObjectName("sectionTitle")
        best_title = QLabel(f"BEST {BEST_N}")
        best_title.setObjectName("sectionTitle")
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.progress)
        layout.addWidget(best_title)
        layout.addWidget(self.best_strip)
        layout.addWidget(self.groups_title)
        layout.addWidget(scroll, 1)
        layout.addLayout(footer)
        window.loader.loaded.connect(self._on_thumbnail)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        """Measure the album on a worker thread; returns at once."""
        if not self.items:
            self._show(CurationResult(error="Open and tag a folder first"))
            return
        w = self.window_
        self.worker = CurationWorker(
            db_path=w.db_path, backbone=w.backbone_box.currentData(), photo_ids=list(self.items)
        )
        self.worker.progressed.connect(self._on_progress)
        self.worker.found.connect(self._show)
        self.worker.start()

    def stop(self) -> None:
        """Cancel and wait for the worker (the dialog or the window closes)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(30000)

    def done(self, result: int) -> None:
        self.stop()
        super().done(result)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    @Slot(object)
    def _show(self, result: CurationResult) -> None:
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        self.result = result
        self.progress.hide()
        if result.error is not None:
            self.status.setText(f"Cannot curate: {result.error}")
            return
        extra = sum(len(g.others) for g in result.groups)
        self.summary = (
            f"{_count(len(result.groups), 'group')} of near-duplicates "
            f"({_count(extra, 'photo')} you could drop; ★ marks the keeper)."
        )
        self.status.setText(f"{self.summary} Pick photos to keep: P or double-click.")
        for h in result.highlights:
            self._add(self.best_strip, h.photo_id, f"{h.score:+.2f}")
        self.groups_title.setText(f"DUPLICATES · {_count(len(result.groups), 'group').upper()}")
        for group in result.groups:
            strip = _strip()
            strip.itemDoubleClicked.connect(lambda item: self._pick([item]))
            for pid, sim in zip(group.photo_ids, group.similarity, strict=True):
                keeper = pid == group.keeper
                self._add(strip, pid, "★ keep" if keeper else f"{sim:.0%} alike")
            self.groups_box.insertWidget(self.groups_box.count() - 1, strip)

    def _add(self, strip: QListWidget, photo_id: int, caption: str) -> None:
        item = self.items.get(photo_id)
        row = QListWidgetItem(caption)
        row.setData(PHOTO_ID_ROLE, photo_id)
        row.setTextAlignment(Qt.AlignmentFlag.AlignHCenter)
        self._rows.setdefault(photo_id, []).append(row)
        if item is not None:
            row.setToolTip(Path(item.ref.uri).name)
            self._icons.setdefault(item.ref.uri, []).append(row)
            self.window_.loader.request(item.ref, THUMB * 2)
        strip.addItem(row)

    @Slot(str, int, QImage)
    def _on_thumbnail(self, uri: str, _size: int, image: QImage) -> None:
        rows = self._icons.get(uri)
        if rows:
            icon = QIcon(QPixmap.fromImage(image))
            for row in rows:
                row.setIcon(icon)

    def strips(self) -> list[QListWidget]:
        return self.findChildren(QListWidget)

    def pick_selected(self) -> None:
        self._pick([row for strip in self.strips() for row in strip.selectedItems()])

    def _pick(self, rows: list[QListWidgetItem]) -> None:
        ids = sorted({int(r.data(PHOTO_ID_ROLE)) for r in rows} - self.picked)
        if not ids:
            return
        from core.curate import record_pick

        def save(store) -> list[int]:
            for pid in ids:  # each committed as it is made, like a tag decision
                record_pick(store, pid, picked=True, origin="desktop")
            return ids

        self.window_.db.submit(
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
