"""The review panel: the selected photo large, its hashtags with confidence, and the decisions.

The panel only shows and asks: it emits :attr:`TagPanel.decisionRequested`
and the main window records the decision through the database worker, then
hands the panel the photo's new tags. Keyboard first: A accepts and R rejects
the current tag and move on to the next open suggestion, T types a new tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPainterPath, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from core.engine.vocabulary import hashtag
from core.store import Decision, TagState
from desktop.failures import FailureBox
from desktop.grid import chip_width, paint_chip
from desktop.models import PhotoItem
from desktop.theme import color

SOURCE_LABELS = {
    "imagenet": "fine-grained",
    "hierarchy": "everyday",
    "faces": "faces",
    "refine": "refined",
    "head": "learned",
    "user": "",
    "mixed": "mixed",
}
"""How each suggestion source reads on a row (``user``: the person's own tag, no label)."""

_STATE_MARK = {"accepted": "✓ accepted", "added": "✓ added", "rejected": "✗ rejected"}


@dataclass(frozen=True)
class TagEntry:
    """One row of the panel: a tag over the selected photos."""

    tag: str
    score: float | None
    state: TagState
    count: int = 1
    total: int = 1
    source: str = ""
    low_confidence: bool = False


def entries_for(items: list[PhotoItem]) -> list[TagEntry]:
    """The rows for one photo, or a tag-by-tag summary over several."""
    if len(items) == 1:
        return [
            TagEntry(t.tag, t.score, t.state, source=t.source, low_confidence=t.low_confidence)
            for t in items[0].tags
        ]
    grouped: dict[str, list] = {}
    for item in items:
        for t in item.tags:
            grouped.setdefault(t.tag, []).append(t)
    entries = []
    for tag, tags in grouped.items():
        states = {t.state for t in tags}
        confirmed = all(s.confirmed for s in states)
        state = (
            TagState.ACCEPTED
            if confirmed
            else TagState.REJECTED
            if states == {TagState.REJECTED}
            else TagState.SUGGESTED
        )
        scores = [t.score for t in tags if t.score is not None]
        score = sum(scores) / len(scores) if scores else None
        sources = {t.source for t in tags}
        source = sources.pop() if len(sources) == 1 else "mixed"
        entries.append(TagEntry(tag, score, state, len(tags), len(items), source))
    order = {TagState.ACCEPTED: 0, TagState.SUGGESTED: 1, TagState.REJECTED: 2}
    return sorted(entries, key=lambda e: (order[e.state], -e.count, -(e.score or 0.0), e.tag))


class TagChipDelegate(QStyledItemDelegate):
    """A row: the hashtag chip, a confidence bar with its percentage, and the decision."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hashtag_style = "joined"

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, 34)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        entry: TagEntry = index.data(Qt.ItemDataRole.UserRole)
        if entry is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(2, 2, -2, -2)
        if option.state & QStyle.StateFlag.State_Selected:
            path = QPainterPath()
            path.addRoundedRect(QRectF(rect), 6, 6)
            painter.fillPath(path, color("card_hover"))
            painter.fillRect(
                QRect(rect.left(), rect.top() + 4, 3, rect.height() - 8), color("accent")
            )
        metrics = QFontMetrics(option.font)
        text = hashtag(entry.tag, style=self.hashtag_style)  # type: ignore[arg-type]
        right_w = 150
        chip_w = min(chip_width(metrics, text) + 4, rect.width() - right_w - 12)
        chip = QRect(rect.left() + 8, rect.center().y() - 11, chip_w, 22)
        paint_chip(
            painter,
            chip,
            metrics.elidedText(text, Qt.TextElideMode.ElideRight, chip_w - 10),
            "low" if entry.low_confidence else entry.state,
        )

        right = QRect(rect.right() - right_w, rect.top(), right_w - 6, rect.height())
        source = SOURCE_LABELS.get(entry.source, entry.source)
        if entry.low_confidence:
            source = "low confidence"
        room = right.left() - chip.right() - 16
        if source and room > 24:  # where the suggestion came from, when there is room
            small = QFont(option.font)
            small.setPointSizeF(max(6.0, option.font.pointSizeF() * 0.8))
            painter.setFont(small)
            painter.setPen(color("muted"))
            painter.drawText(
                QRect(chip.right() + 8, rect.top(), room, rect.height()),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                QFontMetrics(small).elidedText(source, Qt.TextElideMode.ElideRight, room),
            )
            painter.setFont(option.font)
        bar = QRect(right.left(), right.center().y() - 3, 70, 6)
        if entry.score is not None:
            track = QPainterPath()
            track.addRoundedRect(QRectF(bar), 3, 3)
            painter.fillPath(track, color("border"))
            fill = QPainterPath()
            fill.addRoundedRect(
                QRectF(bar.adjusted(0, 0, -int(bar.width() * (1 - entry.score)), 0)), 3, 3
            )
            painter.fillPath(fill, color("rejected" if entry.state == "rejected" else "accent"))
        painter.setPen(color("muted"))
        label = (
            f"{entry.count}/{entry.total}"
            if entry.total > 1
            else (f"{entry.score:.0%}" if entry.score is not None else "yours")
        )
        painter.drawText(
            QRect(bar.right() + 8, right.top(), right.right() - bar.right() - 8, right.height()),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            label,
        )
        if entry.state in _STATE_MARK and entry.total == 1:
            painter.setPen(color("rejected" if entry.state == "rejected" else "accepted"))
            painter.drawText(
                QRect(right.right() - 22, right.top(), 22, right.height()),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                "✗" if entry.state == "rejected" else "✓",
            )
        painter.restore()


class PreviewLabel(QLabel):
    """The photo, as large as the panel allows, rescaled when the panel is resized."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("preview")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(120)
        self.setMaximumHeight(320)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self._source: QPixmap | None = None

    def set_source(self, pixmap: QPixmap | None, text: str = "") -> None:
        self._source = pixmap
        if pixmap is None:
            self.setPixmap(QPixmap())
            self.setText(text)
        self._rescale()

    def sizeHint(self) -> QSize:
        # A fixed wish, not the pixmap's size: the panel must not grow with each photo.
        return QSize(320, 300)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._rescale()

    def _rescale(self) -> None:
        if self._source is None or self._source.isNull():
            return
        size = self.size() - QSize(8, 8)
        self.setPixmap(
            self._source.scaled(
                size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )


def mosaic(pixmaps: list[QPixmap], size: int = 400) -> QPixmap:
    """Up to four thumbnails in a 2x2 square: what a multi-photo selection looks like."""
    canvas = QPixmap(size, size)
    canvas.fill(Qt.GlobalColor.transparent)
    painter = QPainter(canvas)
    half = size // 2
    for n, pixmap in enumerate(pixmaps[:4]):
        cell = QRect((n % 2) * half + 2, (n // 2) * half + 2, half - 4, half - 4)
        scaled = pixmap.scaled(
            cell.size(),
            Qt.AspectRatioMode.KeepAspectRatioByExpanding,
            Qt.TransformationMode.SmoothTransformation,
        )
        source = QRect(0, 0, cell.width(), cell.height())
        source.moveCenter(scaled.rect().center())
        painter.drawPixmap(cell, scaled, source)
    painter.end()
    return canvas


class TagPanel(QWidget):
    """Review of the selected photos.

    Signals:
        decisionRequested: (tag, action) for every selected photo; action is
            accept, reject, add or remove.
    """

    decisionRequested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tagPanel")
        self.setMinimumWidth(300)
        self.items: list[PhotoItem] = []
        self._next_tag: str | None = None

        self.preview = PreviewLabel()
        self.preview.set_source(None, "Select a photo to see it here")
        self.title = QLabel("No photo selected")
        self.title.setObjectName("photoTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.meta = QLabel("Open a folder and select a photo to review its tags.")
        self.meta.setObjectName("photoMeta")
        self.meta.setWordWrap(True)
        self.details = QLabel()
        self.details.setObjectName("photoMeta")
        self.details.setWordWrap(True)
        self.details.hide()
        self.failure = FailureBox()
        self.error = self.failure.reason  # the plain reason, shown when a photo failed

        heading = QLabel("TAGS")
        heading.setObjectName("sectionTitle")
        self.tag_list = QListWidget()
        self.tag_list.setObjectName("tagList")
        self.chip_delegate = TagChipDelegate(self.tag_list)
        self.tag_list.setItemDelegate(self.chip_delegate)
        self.tag_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tag_list.setUniformItemSizes(True)
        self.tag_list.itemDoubleClicked.connect(lambda _item: self.accept_current())

        self.accept_button = QPushButton("✓ Accept  A")
        self.accept_button.setObjectName("acceptButton")
        self.accept_button.setToolTip("Accept the current tag for the selected photos (A)")
        self.accept_button.clicked.connect(self.accept_current)
        self.reject_button = QPushButton("✗ Reject  R")
        self.reject_button.setObjectName("rejectButton")
        self.reject_button.setToolTip("Reject the current tag for the selected photos (R)")
        self.reject_button.clicked.connect(self.reject_current)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove a confirmed tag (Delete)")
        self.remove_button.clicked.connect(self.remove_current)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        for button in (self.accept_button, self.reject_button, self.remove_button):
            buttons.addWidget(button)

        self.add_edit = QLineEdit()
        self.add_edit.setObjectName("addTagEdit")
        self.add_edit.setPlaceholderText("Add a tag…   (T)")
        self.add_edit.setClearButtonEnabled(True)
        self.add_edit.returnPressed.connect(self._add_from_edit)
        self.completer = QCompleter([], self.add_edit)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setMaxVisibleItems(12)
        self.add_edit.setCompleter(self.completer)
        hint = QLabel(
            "A accept · R reject · Del remove · T add · J/K next/previous photo · Ctrl+Z undo"
        )
        hint.setObjectName("hint")
        hint.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        layout.addWidget(self.preview)
        layout.addWidget(self.title)
        layout.addWidget(self.meta)
        layout.addWidget(self.details)
        layout.addWidget(self.failure)
        layout.addWidget(heading)
        layout.addWidget(self.tag_list, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.add_edit)
        layout.addWidget(hint)
        self._update_enabled()

    # -- content -----------------------------------------------------------------

    def set_completions(self, tags: list[str]) -> None:
        self.completer.model().setStringList(tags)  # type: ignore[attr-defined]

    def set_hashtag_style(self, style: str) -> None:
        self.chip_delegate.hashtag_style = style
        self.tag_list.viewport().update()

    def set_items(self, items: list[PhotoItem]) -> None:
        """Show these photos' tags, keeping the current tag where it still exists."""
        keep = self._next_tag or self.current_tag()
        self._next_tag = None
        self.items = items
        self.tag_list.clear()
        for entry in entries_for(items):
            row = QListWidgetItem()
            row.setData(Qt.ItemDataRole.UserRole, entry)
            origin = SOURCE_LABELS.get(entry.source, entry.source)
            row.setToolTip(
                f"{entry.tag} — {entry.state}"
                + (f" · from {origin}" if origin else "")
                + (
                    " · low confidence: nothing on the photo cleared its threshold"
                    if entry.low_confidence
                    else ""
                )
            )
            self.tag_list.addItem(row)
        self._select_tag(keep)
        self._describe()
        self._update_enabled()

    def set_preview(self, pixmap: QPixmap | None, text: str = "Loading…") -> None:
        self.preview.set_source(pixmap, "" if pixmap else text)

    def entries(self) -> list[TagEntry]:
        return [
            self.tag_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.tag_list.count())
        ]

    def current_tag(self) -> str | None:
        row = self.tag_list.currentItem()
        return row.data(Qt.ItemDataRole.UserRole).tag if row is not None else None

    def _select_tag(self, tag: str | None) -> None:
        entries = self.entries()
        target = next((i for i, e in enumerate(entries) if e.tag == tag), None)
        if target is None:
            target = next((i for i, e in enumerate(entries) if e.state == "suggested"), None)
        if target is None and entries:
            target = 0
        if target is not None:
            self.tag_list.setCurrentRow(target)

    def set_details(self, text: str) -> None:
        """Date taken, camera and size of the one photo shown (empty: hidden)."""
        self.details.setText(text)
        self.details.setVisible(bool(text) and len(self.items) == 1)

    def _describe(self) -> None:
        items = self.items
        self.failure.set_items(items)
        self.details.hide()
        if not items:
            self.title.setText("No photo selected")
            self.meta.setText("Open a folder and select a photo to review its tags.")
            self.preview.set_source(None, "Select a photo to see it here")
            return
        if len(items) > 1:
            self.preview.set_source(None, f"{len(items)} photos")
            self.title.setText(f"{len(items)} photos selected")
            self.meta.setText("Accept, reject or add a tag for all of them at once.")
            return
        item = items[0]
        self.title.setText(item.name)
        confirmed = sum(1 for t in item.tags if t.confirmed)
        parts = {
            "untagged": "Not tagged yet — press Ctrl+T to tag",
            "suggested": "Suggestions to review",
            "reviewed": f"Reviewed · {confirmed} confirmed",
            "failed": "Could not be tagged",
        }
        self.meta.setText(parts[item.state])
        self.meta.setToolTip(item.ref.uri)

    def _update_enabled(self) -> None:
        has_items = bool(self.items)
        has_tag = self.tag_list.currentItem() is not None
        for button in (self.accept_button, self.reject_button, self.remove_button):
            button.setEnabled(has_items and has_tag)
        self.add_edit.setEnabled(has_items)

    # -- decisions ---------------------------------------------------------------

    def _decide_current(self, action: Decision) -> None:
        entries = self.entries()
        row = self.tag_list.currentRow()
        if not self.items or not entries:
            return
        if row < 0:
            row = next((i for i, e in enumerate(entries) if e.state == "suggested"), 0)
        entry = entries[row]
        # Move on to the next open suggestion, so A A R A walks through the list.
        later = [e for e in entries[row + 1 :] + entries[:row] if e.state == "suggested"]
        self._next_tag = later[0].tag if later else entry.tag
        self.decisionRequested.emit(entry.tag, action)

    def accept_current(self) -> None:
        self._decide_current(Decision.ACCEPT)

    def reject_current(self) -> None:
        self._decide_current(Decision.REJECT)

    def remove_current(self) -> None:
        tag = self.current_tag()
        if not self.items or tag is None:
            return
        entry = self.entries()[self.tag_list.currentRow()]
        self._next_tag = None
        self.decisionRequested.emit(
            tag, Decision.REMOVE if entry.state != TagState.SUGGESTED else Decision.REJECT
        )

    def focus_add(self) -> None:
        self.add_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.add_edit.selectAll()

    def add_tag(self, text: str) -> None:
        tag = text.strip().lstrip("#").strip()
        if tag and self.items:
            self._next_tag = tag
            self.decisionRequested.emit(tag, Decision.ADD)

    def _add_from_edit(self) -> None:
        self.add_tag(self.add_edit.text())
        self.add_edit.clear()
