"""Qt item models for the photo grid: thousands of rows held as small Python objects.

The model keeps one :class:`PhotoItem` per photo and a bounded cache of
thumbnails; a thumbnail is requested only when the view asks for a row's
picture, that is when the row is on screen.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QImage, QPixmap

from core.engine.photo_info import PhotoInfo
from core.engine.sources import PhotoRef
from core.learning.review import PHOTO_STATES, PhotoState, PhotoTag, photo_state
from desktop.tagging import PhotoUpdate
from desktop.workers import ThumbnailLoader

STATES = PHOTO_STATES

ItemRole = Qt.ItemDataRole.UserRole + 1
ThumbnailRole = Qt.ItemDataRole.UserRole + 2
GroupRole = Qt.ItemDataRole.UserRole + 3
"""The caption of the group a photo belongs to (folder, day), or None when not grouped."""
_Index = QModelIndex | QPersistentModelIndex


@dataclass(eq=False, slots=True)
class PhotoItem:
    """One photo in the grid: where it is, what the engine said, what the user decided."""

    ref: PhotoRef
    photo_id: int | None = None
    status: str = "new"
    error: str | None = None
    tags: tuple[PhotoTag, ...] = field(default=())
    info: PhotoInfo | None = None  # date taken, camera, size: read lazily, off the GUI thread
    rejected: bool = False  # marked "not this one" in curation (nothing is deleted)

    @property
    def name(self) -> str:
        return self.ref.name

    @property
    def state(self) -> PhotoState:
        """See :func:`core.learning.review.photo_state`: reviewed once no suggestion is left open."""
        return photo_state(self.status, self.tags)

    def suggests(self, tag: str) -> bool:
        """Whether ``tag`` is an open suggestion on this photo (a per-tag review shows it)."""
        return any(t.tag == tag and t.state == "suggested" for t in self.tags)

    @property
    def visible_tags(self) -> list[PhotoTag]:
        """Tags the grid shows: confirmed and open suggestions, not rejected ones."""
        return [t for t in self.tags if t.state != "rejected"]


class ThumbnailModel(QAbstractListModel):
    """The photos of the open folder, with thumbnails that fill in as they are made.

    Signals:
        itemsChanged: Statuses or tags changed (counts and filters need a refresh).
    """

    itemsChanged = Signal()

    def __init__(
        self, loader: ThumbnailLoader, *, thumb_size: int, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._items: list[PhotoItem] = []
        self._rows: dict[str, int] = {}
        self._loader = loader
        self.group_of: Callable[[PhotoItem], str] | None = None
        self.thumb_size = thumb_size
        self._thumbs: OrderedDict[str, QPixmap] = OrderedDict()
        self._failed_thumbs: set[str] = set()
        # Enough for several screens at 4K; older ones are reloaded from the disk cache.
        self.max_cached_thumbs = 1500
        loader.loaded.connect(self._on_thumbnail)
        loader.failed.connect(self._on_thumbnail_failed)

    # -- Qt model API ----------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._items):
            return None
        item = self._items[index.row()]
        if role == ItemRole:
            return item
        if role == ThumbnailRole:
            return self.thumbnail(item)
        if role == GroupRole:
            return None if self.group_of is None else self.group_of(item)
        if role == Qt.ItemDataRole.DisplayRole:
            return item.name
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [item.ref.uri]
            if item.error:
                lines.append(f"Failed: {item.error}")
            return "\n".join(lines)
        return None

    # -- contents ---------------------------------------------------------------

    def set_refs(self, refs: Iterable[PhotoRef]) -> None:
        """Show these photos (a folder just opened); the old rows go at once."""
        self.beginResetModel()
        self._items = [PhotoItem(ref) for ref in refs]
        self._rows = {item.ref.uri: row for row, item in enumerate(self._items)}
        self._thumbs.clear()
        self._failed_thumbs.clear()
        self._loader.clear()
        self.endResetModel()
        self.itemsChanged.emit()

    def append_refs(self, refs: Iterable[PhotoRef]) -> None:
        new = [PhotoItem(r) for r in refs if r.uri not in self._rows]
        if not new:
            return
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
        for offset, item in enumerate(new):
            self._items.append(item)
            self._rows[item.ref.uri] = first + offset
        self.endInsertRows()
        self.itemsChanged.emit()

    def items(self) -> list[PhotoItem]:
        return list(self._items)

    def item(self, row: int) -> PhotoItem:
        return self._items[row]

    def item_by_uri(self, uri: str) -> PhotoItem | None:
        row = self._rows.get(uri)
        return None if row is None else self._items[row]

    def row_of(self, item: PhotoItem) -> int:
        return self._rows[item.ref.uri]

    def item_by_id(self, photo_id: int) -> PhotoItem | None:
        return next((i for i in self._items if i.photo_id == photo_id), None)

    def apply_updates(self, updates: Iterable[PhotoUpdate]) -> None:
        """Merge what a tagging batch or the database said; repaints only those rows."""
        rows = []
        for update in updates:
            row = self._rows.get(update.uri)
            if row is None:
                continue
            item = self._items[row]
            if update.photo_id is not None:
                item.photo_id = update.photo_id
            if update.ref is not None and update.ref != item.ref:
                item.ref = update.ref  # the file changed: its thumbnail is made again
                self._thumbs.pop(item.ref.uri, None)
                self._failed_thumbs.discard(item.ref.uri)
            if update.rejected is not None:
                item.rejected = update.rejected
            item.status = update.status
            item.error = update.error
            item.tags = update.tags
            rows.append(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)), [ItemRole])
            self.itemsChanged.emit()

    def arrange(self, key: Callable[[PhotoItem], object]) -> None:
        """Put the rows in ``key`` order; selection and the current photo stay on their photos."""
        old = self._items
        new = sorted(old, key=key)  # type: ignore[arg-type]
        if all(a is b for a, b in zip(old, new, strict=True)):
            return  # already in order (a folder scanned in this order): the views keep still
        self.layoutAboutToBeChanged.emit()
        self._items = new
        self._rows = {item.ref.uri: row for row, item in enumerate(self._items)}
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent,
            [self.index(self._rows[old[index.row()].ref.uri]) for index in persistent],
        )
        self.layoutChanged.emit()

    def set_infos(self, infos: dict[str, PhotoInfo]) -> None:
        """Attach what the files said (date taken, camera, size) to their photos."""
        for uri, info in infos.items():
            row = self._rows.get(uri)
            if row is not None:
                self._items[row].info = info

    # -- thumbnails ------------------------------------------------------------

    def set_thumb_size(self, size: int) -> None:
        self.beginResetModel()
        self.thumb_size = size
        self._thumbs.clear()
        self._failed_thumbs.clear()
        self._loader.clear()
        self.endResetModel()

    def thumbnail(self, item: PhotoItem) -> QPixmap | None:
        """The cached thumbnail, or None after asking the loader for it."""
        uri = item.ref.uri
        pixmap = self._thumbs.get(uri)
        if pixmap is not None:
            self._thumbs.move_to_end(uri)
            return pixmap
        if uri not in self._failed_thumbs:
            self._loader.request(item.ref, self.thumb_size)
        return None

    def has_thumbnail(self, row: int) -> bool:
        uri = self._items[row].ref.uri
        return uri in self._thumbs or uri in self._failed_thumbs

    def _on_thumbnail(self, uri: str, size: int, image: QImage) -> None:
        row = self._rows.get(uri)
        if size != self.thumb_size or row is None:
            return
        self._thumbs[uri] = QPixmap.fromImage(image)
        while len(self._thumbs) > self.max_cached_thumbs:
            self._thumbs.popitem(last=False)
        index = self.index(row)
        self.dataChanged.emit(index, index, [ThumbnailRole])

    def _on_thumbnail_failed(self, uri: str, size: int, reason: str) -> None:
        row = self._rows.get(uri)
        if size != self.thumb_size or row is None:
            return
        self._failed_thumbs.add(uri)
        index = self.index(row)
        self.dataChanged.emit(index, index, [ThumbnailRole])

    # -- summaries -------------------------------------------------------------

    def state_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATES, 0)
        for item in self._items:
            counts[item.state] += 1
        return counts

    def tag_counts(self) -> list[tuple[str, int]]:
        """Each tag shown on any photo, with how many photos show it, most common first."""
        counts: dict[str, int] = {}
        for item in self._items:
            for tag in item.visible_tags:
                counts[tag.tag] = counts.get(tag.tag, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


class PhotoFilterProxyModel(QSortFilterProxyModel):
    """Narrows the grid to one state and/or one tag; or, in a review by tag, to its open suggestions."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state: PhotoState | None = None
        self.tag: str | None = None
        self.review_tag: str | None = None
        self.rejects_only = False
        self.setDynamicSortFilter(True)

    def set_rejects_only(self, on: bool) -> None:
        """Show only the photos marked as rejects in curation (and the other filters still apply)."""
        if hasattr(self, "beginFilterChange"):  # Qt 6.10 and later
            self.beginFilterChange()
            self.rejects_only = on
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.rejects_only = on
            self.invalidateRowsFilter()

    def set_review_tag(self, tag: str | None) -> None:
        """Show only photos where ``tag`` is still an open suggestion (None: the usual filters)."""
        self._change_filter(state=self.state, tag=self.tag, review_tag=tag or None)

    def set_state(self, state: PhotoState | None) -> None:
        self._change_filter(state=state, tag=self.tag, review_tag=self.review_tag)

    def set_tag(self, tag: str | None) -> None:
        self._change_filter(state=self.state, tag=tag or None, review_tag=self.review_tag)

    def _change_filter(
        self, *, state: PhotoState | None, tag: str | None, review_tag: str | None = None
    ) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10 and later
            self.beginFilterChange()
            self.state, self.tag, self.review_tag = state, tag, review_tag
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.state, self.tag, self.review_tag = state, tag, review_tag
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if (
            self.state is None
            and self.tag is None
            and self.review_tag is None
            and not self.rejects_only
        ):
            return True
        item: PhotoItem = self.sourceModel().item(source_row)  # type: ignore[attr-defined]
        if self.rejects_only and not item.rejected:
            return False
        if self.review_tag is not None:
            return item.suggests(self.review_tag)
        if self.state is not None and item.state != self.state:
            return False
        return self.tag is None or any(t.tag == self.tag for t in item.visible_tags)
