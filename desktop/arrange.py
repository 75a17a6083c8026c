"""How the grid is ordered and grouped: by folder, name or date taken; in groups by folder or day.

Dates taken come from the files' EXIF headers, read on a thread pool (about a
millisecond a photo) only when a sort or group needs them or the panel shows
one photo's details; until a photo's date is known its file time stands in.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMenu

from core.engine.photo_info import PhotoInfo, read_photo_info
from core.engine.sources import PhotoRef
from desktop.models import PhotoItem, ThumbnailModel

SORTS = {"folder": "Folder", "name": "Name", "date": "Date Taken"}
GROUPS = {"none": "No Groups", "folder": "Folder", "day": "Day Taken"}
_CHUNK = 400


def when_taken(item: PhotoItem) -> datetime:
    """The date taken, or the file's time while (or where) the header has none."""
    if item.info is not None and item.info.taken is not None:
        return item.info.taken
    return datetime.fromtimestamp(item.ref.mtime / 1e9) if item.ref.mtime else datetime.min


def describe_info(info: PhotoInfo | None) -> str:
    """One line for the panel: ``Sat 15 Mar 2008, 09:52 · NIKON D70 · 3008 × 2000 · 2.1 MB``."""
    if info is None:
        return ""
    parts = []
    if info.taken is not None:
        parts.append(info.taken.strftime("%a %-d %b %Y, %H:%M"))
    if info.camera:
        parts.append(info.camera)
    if info.width and info.height:
        parts.append(f"{info.width} × {info.height}")
    if info.bytes is not None:
        parts.append(
            f"{info.bytes / 1e6:.1f} MB" if info.bytes >= 100_000 else f"{info.bytes / 1e3:.0f} KB"
        )
    return " · ".join(parts)


class _InfoSignals(QObject):
    read = Signal(int, object)  # generation, {uri: PhotoInfo}
    done = Signal(int)


class _InfoJob(QRunnable):
    def __init__(
        self, refs: list[PhotoRef], generation: int, stop: threading.Event, signals: _InfoSignals
    ) -> None:
        super().__init__()
        self.refs, self.generation, self.stop, self.signals = refs, generation, stop, signals

    def run(self) -> None:
        chunk: dict[str, PhotoInfo] = {}
        for ref in self.refs:
            if self.stop.is_set():
                return
            if ref.kind == "file":
                chunk[ref.uri] = read_photo_info(Path(ref.uri))
            if len(chunk) >= _CHUNK:
                self.signals.read.emit(self.generation, chunk)
                chunk = {}
        self.signals.read.emit(self.generation, chunk)
        self.signals.done.emit(self.generation)


class InfoReader(QObject):
    """Reads photos' headers in the background, one folder's worth at a time.

    Signals:
        read: A chunk of ``{uri: PhotoInfo}`` on the GUI thread.
        finished: Every photo of the last :meth:`read_all` has been read.
    """

    read = Signal(object)
    finished = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _InfoSignals()
        self._signals.read.connect(self._on_read)
        self._signals.done.connect(self._on_done)
        self._generation = 0
        self._stop = threading.Event()
        self.busy = False

    def read_all(self, refs: list[PhotoRef]) -> None:
        """Read ``refs`` (replacing any earlier batch still being read)."""
        self.cancel()
        self.busy = True
        self._pool.start(_InfoJob(refs, self._generation, self._stop, self._signals))

    def read_one(self, ref: PhotoRef) -> None:
        """One photo's facts, ahead of any batch (the panel is showing it)."""
        self._pool.start(_InfoJob([ref], -1, threading.Event(), self._signals), priority=1)

    def cancel(self) -> None:
        self._stop.set()
        self._stop = threading.Event()
        self._generation += 1
        self.busy = False

    def stop(self) -> None:
        self.cancel()
        self._pool.clear()
        self._pool.waitForDone(3000)

    @Slot(int, object)
    def _on_read(self, generation: int, infos: dict[str, PhotoInfo]) -> None:
        if generation in (self._generation, -1) and infos:
            self.read.emit(infos)

    @Slot(int)
    def _on_done(self, generation: int) -> None:
        if generation == self._generation:
            self.busy = False
            self.finished.emit()


class GridArranger(QObject):
    """Keeps the grid in the chosen order and groups, and offers the choice as two menus.

    Signals:
        infoRead: Some photos' facts arrived (the panel may be showing one of them).
    """

    infoRead = Signal()

    def __init__(
        self,
        model: ThumbnailModel,
        *,
        base_folder: Callable[[], Path | None],
        show_message: Callable[[str], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.base_folder = base_folder
        self.show_message = show_message
        self.sort = "folder"
        self.group = "none"
        self.reader = InfoReader(self)
        self.reader.read.connect(self._on_read)
        self.reader.finished.connect(self._on_all_read)
        self._all_read = False
        self.model.modelReset.connect(self._on_new_photos)
        self.model.rowsInserted.connect(lambda *_: self._on_new_photos())

    # -- menus -------------------------------------------------------------------

    def build_menus(self, parent: QMenu) -> tuple[QMenu, QMenu]:
        sort_menu = parent.addMenu("Sort By")
        group_menu = parent.addMenu("Group By")
        self.sort_actions = self._choices(sort_menu, SORTS, self.sort, self.set_sort)
        self.group_actions = self._choices(group_menu, GROUPS, self.group, self.set_group)
        return sort_menu, group_menu

    def _choices(
        self, menu: QMenu, labels: dict[str, str], current: str, choose: Callable[[str], None]
    ) -> dict[str, QAction]:
        group = QActionGroup(menu)
        actions = {}
        for key, label in labels.items():
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(key == current)
            action.triggered.connect(lambda _checked=False, k=key: choose(k))
            group.addAction(action)
            actions[key] = action
        return actions

    # -- choices -------------------------------------------------------------------

    def set_sort(self, sort: str) -> None:
        self.sort = sort
        self._check(getattr(self, "sort_actions", {}), sort)
        self.apply()

    def set_group(self, group: str) -> None:
        self.group = group
        self._check(getattr(self, "group_actions", {}), group)
        self.model.group_of = None if group == "none" else self._group_caption
        self.apply()

    @staticmethod
    def _check(actions: dict[str, QAction], key: str) -> None:
        if key in actions:
            actions[key].setChecked(True)

    def needs_dates(self) -> bool:
        return "date" in (self.sort,) or self.group == "day"

    def apply(self) -> None:
        """Reorder the grid now; when dates are needed and unread, read them, then reorder again."""
        self.model.arrange(self._key)
        if self.needs_dates() and not self._all_read and not self.reader.busy:
            items = self.model.items()
            missing = [i.ref for i in items if i.info is None]
            if missing:
                self.show_message(f"Reading the dates of {len(missing):,} photos…")
                self.reader.read_all(missing)

    # -- keys ------------------------------------------------------------------------

    def _folder(self, item: PhotoItem) -> str:
        # rpartition, not Path(): this runs for every photo of a 10,000-photo folder.
        return item.ref.uri.rpartition(os.sep)[0] if item.ref.kind == "file" else "~web"

    def _key(self, item: PhotoItem) -> tuple:
        name = item.name.casefold()
        order: tuple
        if self.sort == "name":
            order = (name,)
        elif self.sort == "date":
            order = (when_taken(item), name)
        else:
            order = (self._folder(item).casefold(), name)
        if self.group == "folder":
            return (self._folder(item).casefold(), *order)
        if self.group == "day":
            return (when_taken(item).date(), *order)
        return order

    def _group_caption(self, item: PhotoItem) -> str:
        if self.group == "day":
            day = when_taken(item)
            return "Date unknown" if day == datetime.min else day.strftime("%a %-d %b %Y")
        folder = self._folder(item)
        if folder == "~web":
            return "From the web"
        base = self.base_folder()
        try:
            relative = Path(folder).relative_to(base) if base is not None else Path(folder)
        except ValueError:
            relative = Path(folder)
        return relative.as_posix() if str(relative) != "." else (base.name if base else folder)

    # -- events ----------------------------------------------------------------------

    def _on_new_photos(self) -> None:
        self._all_read = False
        self.reader.cancel()
        QTimer.singleShot(0, self.apply)  # after the reset has reached the views

    def _on_read(self, infos: dict[str, PhotoInfo]) -> None:
        self.model.set_infos(infos)
        self.infoRead.emit()

    def _on_all_read(self) -> None:
        self._all_read = True
        if self.needs_dates():
            self.model.arrange(self._key)
            self.show_message("Sorted by date taken" if self.sort == "date" else "Grouped by day")
