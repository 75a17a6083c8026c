"""The thumbnail grid: a list view in icon mode and the delegate that paints each card.

Painting by delegate (not a widget per photo) is what lets the grid hold ten
thousand photos: only the cards on screen exist, and only for a moment.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QKeyEvent, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from core.engine.vocabulary import hashtag
from desktop.failures import plain_reason
from desktop.models import GroupRole, ItemRole, PhotoItem, ThumbnailRole
from desktop.theme import color

_PAD = 8
_NAME_H = 18
_CHIPS_H = 22
_CHIP_COLORS = {
    "accepted": ("accepted_soft", "accepted"),
    "added": ("accepted_soft", "accepted"),
    "suggested": ("suggested_soft", "text"),
    "rejected": ("rejected_soft", "rejected"),
    "low": ("surface", "muted"),
}
"""Chip fill and ink per state; ``low``: a low-confidence suggestion, greyed."""
_BADGES = {"failed": ("failed", "!"), "reviewed": ("accepted", "✓"), "suggested": ("accent", "•")}


def chip_width(metrics: QFontMetrics, text: str) -> int:
    return metrics.horizontalAdvance(text) + 12


def paint_chip(painter: QPainter, rect: QRect, text: str, state: str) -> None:
    """A rounded hashtag pill, coloured by its state (accepted, suggested, rejected, low)."""
    fill, ink = _CHIP_COLORS.get(state, _CHIP_COLORS["suggested"])
    path = QPainterPath()
    path.addRoundedRect(QRectF(rect), rect.height() / 2, rect.height() / 2)
    painter.fillPath(path, color(fill))
    painter.setPen(color(ink))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


class ThumbnailDelegate(QStyledItemDelegate):
    """Paints a card: the thumbnail, the file name, a state badge and the top hashtags."""

    def __init__(self, parent: QWidget | None = None, *, hashtag_style: str = "joined") -> None:
        super().__init__(parent)
        self.thumb_size = 160
        self.hashtag_style = hashtag_style

    def card_size(self) -> QSize:
        return QSize(self.thumb_size + 2 * _PAD, self.thumb_size + 2 * _PAD + _NAME_H + _CHIPS_H)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return self.card_size()

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        item: PhotoItem = index.data(ItemRole)
        if item is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = option.rect.adjusted(3, 3, -3, -3)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        hover = bool(option.state & QStyle.StateFlag.State_MouseOver)
        path = QPainterPath()
        path.addRoundedRect(QRectF(card), 8, 8)
        painter.fillPath(path, color("card_hover" if (hover or selected) else "card"))
        if selected:
            painter.setPen(QPen(color("accent"), 2))
            painter.drawPath(path)

        ts = self.thumb_size
        inner = card.adjusted(_PAD - 3, _PAD - 3, -(_PAD - 3), 0)
        box = QRect(inner.left() + (inner.width() - ts) // 2, inner.top(), ts, ts)
        pixmap = index.data(ThumbnailRole)
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, scaled.width(), scaled.height())
            target.moveCenter(box.center())
            painter.drawPixmap(target, pixmap)
        else:
            placeholder = QPainterPath()
            placeholder.addRoundedRect(QRectF(box.adjusted(8, 8, -8, -8)), 6, 6)
            painter.fillPath(placeholder, color("surface"))
            if item.state == "failed":
                painter.setPen(color("failed"))
                glyph = QFont(option.font)
                glyph.setPointSizeF(glyph.pointSizeF() * 2.4)
                painter.setFont(glyph)
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "⚠")
        self._paint_badge(painter, item, box)
        if item.rejected:  # still there, just set aside: dimmed, and said so
            painter.fillRect(box, QColor(0, 0, 0, 140))
            painter.setPen(color("failed"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "✗ reject")
        self._paint_group_caption(painter, index, card, option.font)

        font = QFont(option.font)
        font.setPointSizeF(max(7.5, font.pointSizeF() - 1))
        painter.setFont(font)
        metrics = QFontMetrics(font)
        name_rect = QRect(inner.left(), box.bottom() + 4, inner.width(), _NAME_H)
        painter.setPen(color("failed") if item.state == "failed" else color("muted"))
        text = item.name  # a failed photo is named too; its reason goes below
        painter.drawText(
            name_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, inner.width()),
        )
        chips = QRect(inner.left(), name_rect.bottom() + 2, inner.width(), 18)
        self._paint_chips(painter, item, chips, metrics)
        painter.restore()

    def _paint_group_caption(
        self, painter: QPainter, index: QModelIndex | QPersistentModelIndex, card: QRect, font
    ) -> None:
        """The first card of a group (folder or day) carries the group's name."""
        caption = index.data(GroupRole)
        if caption is None:
            return
        row = index.row()
        if row > 0 and index.sibling(row - 1, 0).data(GroupRole) == caption:
            return
        small = QFont(font)
        small.setBold(True)
        painter.setFont(small)
        metrics = QFontMetrics(small)
        text = metrics.elidedText(caption, Qt.TextElideMode.ElideMiddle, card.width() - 24)
        rect = QRect(card.left() + 4, card.top() + 4, metrics.horizontalAdvance(text) + 14, 20)
        path = QPainterPath()
        path.addRoundedRect(QRectF(rect), 6, 6)
        painter.fillPath(path, color("accent"))
        painter.setPen(color("text"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_badge(self, painter: QPainter, item: PhotoItem, box: QRect) -> None:
        badge = _BADGES.get(item.state)
        if badge is None:
            return
        fill, glyph = badge
        rect = QRect(box.right() - 20, box.top() + 4, 18, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color(fill))
        painter.drawEllipse(rect)
        painter.setPen(color("text"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, glyph)

    def _paint_chips(
        self, painter: QPainter, item: PhotoItem, area: QRect, metrics: QFontMetrics
    ) -> None:
        if item.state == "failed":
            painter.setPen(color("failed"))
            painter.drawText(
                area,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(
                    f"⚠ {plain_reason(item.error)}", Qt.TextElideMode.ElideRight, area.width()
                ),
            )
            return
        tags = item.visible_tags
        x = area.left()
        for shown, tag in enumerate(tags):
            text = hashtag(tag.tag, style=self.hashtag_style)  # type: ignore[arg-type]
            width = chip_width(metrics, text)
            rest = len(tags) - shown - 1
            more_w = chip_width(metrics, f"+{rest}") + 4 if rest else 0
            if x + width + more_w > area.right():
                paint_chip(
                    painter,
                    QRect(x, area.top(), chip_width(metrics, f"+{rest + 1}"), area.height()),
                    f"+{rest + 1}",
                    "suggested",
                )
                return
            state = "low" if tag.low_confidence else tag.state
            paint_chip(painter, QRect(x, area.top(), width, area.height()), text, state)
            x += width + 4


class PhotoGridView(QListView):
    """The grid itself: icon mode, uniform cards, batched layout for big folders.

    Signals:
        openRequested: Space, Enter or a double-click on a photo: show it full size.
    """

    openRequested = Signal()
    _OPEN_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoGrid")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(500)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setWordWrap(False)
        self.grid_delegate = ThumbnailDelegate(self)
        self.setItemDelegate(self.grid_delegate)
        self.doubleClicked.connect(lambda _index: self.openRequested.emit())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        plain = event.modifiers() == Qt.KeyboardModifier.NoModifier
        if event.key() in self._OPEN_KEYS and plain and self.currentIndex().isValid():
            self.openRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def set_thumb_size(self, size: int) -> None:
        self.grid_delegate.thumb_size = size
        self._fit_columns()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()
        # Again once the scroll bar has settled: its coming or going changes the viewport width.
        QTimer.singleShot(0, self._fit_columns)

    def _fit_columns(self) -> None:
        """Share the width out between the columns, so no strip is left empty on the right."""
        card = self.grid_delegate.card_size()
        width = max(self.viewport().width() - 2, card.width())
        columns = max(1, width // (card.width() + 4))
        cell = QSize(width // columns, card.height() + 4)
        if cell != self.gridSize():
            self.setGridSize(cell)
