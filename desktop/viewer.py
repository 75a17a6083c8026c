"""The full-size viewer: one photo as large as the window allows, with zoom, one key from the grid.

The photo is decoded off the GUI thread at the size it is shown (a 24 MP JPEG
on a 1080p screen decodes at a fraction of its pixels; a photo that cannot
decode reduced, such as a progressive JPEG, from the screen-sized preview made
with its thumbnail, :mod:`desktop.previews`); the grid's thumbnail stands in
until it arrives, and the next photo is decoded ahead so J feels instant.
Zooming to 100 % decodes the full resolution, also off the thread.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QObject,
    QPointF,
    QRectF,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)
from PySide6.QtGui import QImage, QKeyEvent, QMouseEvent, QPainter, QPixmap, QWheelEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop.face_boxes import paint_face_boxes
from desktop.models import PhotoItem
from desktop.previews import preview_for, source_info
from desktop.theme import color

ZOOM_STEP = 1.25
MAX_ZOOM = 8.0
_CACHED_IMAGES = 6


class _DecodeSignals(QObject):
    decoded = Signal(str, QSize, QImage, QSize)  # uri, box asked for, pixels, original size
    failed = Signal(str, QSize, str)


class _DecodeJob(QRunnable):
    """Decodes one photo (or its preview, where one covers the box) to fit a box on a pool thread."""

    def __init__(
        self, uri: str, box: QSize, signals: _DecodeSignals, preview_dir: Path | None = None
    ) -> None:
        super().__init__()
        self.uri, self.box, self.signals, self.preview_dir = uri, box, signals, preview_dir

    def _decode(self):
        from core.engine.imaging import DecodedPhoto, decode_to_fit

        path, width, height = Path(self.uri), self.box.width(), self.box.height()
        preview = preview_for(path, width=width, height=height, preview_dir=self.preview_dir)
        if preview is None:
            return decode_to_fit(path, width=width, height=height)
        decoded = decode_to_fit(preview, width=width, height=height)
        original = source_info(path)
        return DecodedPhoto(decoded.image, original.width, original.height, decoded.format)

    def run(self) -> None:
        try:
            decoded = self._decode()
            rgb = decoded.image
            image = QImage(
                rgb.tobytes(), rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888
            ).copy()  # the QImage must own its pixels once the Python bytes go away
        except Exception as exc:  # every failure is a message on the viewer, never a crash
            self.signals.failed.emit(self.uri, self.box, str(exc))
        else:
            self.signals.decoded.emit(
                self.uri, self.box, image, QSize(decoded.width, decoded.height)
            )


class PhotoDecoder(QObject):
    """Screen-sized decodes on a small thread pool, with a few recent results kept.

    Signals:
        decoded: (uri, image, original size) on the GUI thread.
        failed: (uri, reason).
    """

    decoded = Signal(str, QImage, QSize)
    failed = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max(1, min(2, os.cpu_count() or 1)))
        self._signals = _DecodeSignals()
        self._signals.decoded.connect(self._on_decoded)
        self._signals.failed.connect(self._on_failed)
        self._cache: OrderedDict[tuple[str, int, int], tuple[QImage, QSize]] = OrderedDict()
        self._pending: set[tuple[str, int, int]] = set()
        self.preview_dir: Path | None = None  # previews of photos slow to decode (desktop.previews)

    def request(self, uri: str, box: QSize, *, prefetch: bool = False) -> bool:
        """Decode ``uri`` to fit ``box``; True when the answer was cached and emitted at once."""
        key = (uri, box.width(), box.height())
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            if not prefetch:
                self.decoded.emit(uri, *hit)
            return True
        if key not in self._pending:
            self._pending.add(key)
            job = _DecodeJob(uri, QSize(box), self._signals, self.preview_dir)
            self._pool.start(job, 0 if prefetch else 1)
        return False

    def stop(self) -> None:
        self._pool.clear()
        self._pool.waitForDone(5000)

    @Slot(str, QSize, QImage, QSize)
    def _on_decoded(self, uri: str, box: QSize, image: QImage, original: QSize) -> None:
        key = (uri, box.width(), box.height())
        self._pending.discard(key)
        self._cache[key] = (image, original)
        while len(self._cache) > _CACHED_IMAGES:
            self._cache.popitem(last=False)
        self.decoded.emit(uri, image, original)

    @Slot(str, QSize, str)
    def _on_failed(self, uri: str, box: QSize, reason: str) -> None:
        self._pending.discard((uri, box.width(), box.height()))
        self.failed.emit(uri, reason)


class ZoomView(QWidget):
    """Paints one photo fitted to the widget or at a zoom factor, panned by dragging.

    The zoom is in screen pixels per pixel of the original photo, whatever
    resolution the pixmap on hand has, so 100 % means one photo pixel per
    screen pixel even while only a screen-sized decode is loaded.

    Signals:
        zoomChanged: The zoom now shown (1.0 is 100 %).
    """

    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("zoomView")
        self.setMouseTracking(False)
        self._pixmap: QPixmap | None = None
        self._original = QSize()
        self._zoom: float | None = None  # None: fit to the widget
        self._center = QPointF()  # the photo point (original pixels) at the widget's centre
        self._drag_from: QPointF | None = None
        self.message = ""
        self.faces: list[Any] = []  # named faces boxed over the photo, at any zoom

    # -- content -------------------------------------------------------------

    def set_photo(
        self, pixmap: QPixmap | None, original: QSize, *, keep_view: bool = False
    ) -> None:
        """Show ``pixmap`` (any resolution) standing for a photo of ``original`` size."""
        self._pixmap = pixmap
        if not keep_view or self._original != original:
            self._zoom = None
            self._center = QPointF(original.width() / 2, original.height() / 2)
        self._original = QSize(original)
        self.message = ""
        self.update()
        self.zoomChanged.emit(self.zoom())

    def set_message(self, text: str) -> None:
        self._pixmap = None
        self.message = text
        self.update()

    def original_size(self) -> QSize:
        return QSize(self._original)

    def has_photo(self) -> bool:
        return self._pixmap is not None and not self._pixmap.isNull()

    def pixmap(self) -> QPixmap | None:
        return self._pixmap

    # -- zoom ----------------------------------------------------------------

    def fit_zoom(self) -> float:
        if self._original.isEmpty():
            return 1.0
        return min(
            self.width() / self._original.width(), self.height() / self._original.height(), 1.0
        )

    def zoom(self) -> float:
        return self.fit_zoom() if self._zoom is None else self._zoom

    def is_fit(self) -> bool:
        return self._zoom is None

    def fit(self) -> None:
        self._zoom = None
        self._center = QPointF(self._original.width() / 2, self._original.height() / 2)
        self.update()
        self.zoomChanged.emit(self.zoom())

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` keeping the photo point under ``anchor`` (widget coordinates) still."""
        if self._original.isEmpty():
            return
        zoom = min(max(zoom, self.fit_zoom()), MAX_ZOOM)
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        old = self.zoom()
        under = self._to_photo(anchor, old)
        self._zoom = zoom
        offset = anchor - QPointF(self.width() / 2, self.height() / 2)
        self._center = under - offset / zoom
        self._clamp()
        self.update()
        self.zoomChanged.emit(zoom)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom() * factor, anchor)

    def _to_photo(self, point: QPointF, zoom: float) -> QPointF:
        return self._center + (point - QPointF(self.width() / 2, self.height() / 2)) / zoom

    def _clamp(self) -> None:
        zoom = self.zoom()
        half_w, half_h = self.width() / 2 / zoom, self.height() / 2 / zoom
        w, h = self._original.width(), self._original.height()
        x = w / 2 if 2 * half_w >= w else min(max(self._center.x(), half_w), w - half_w)
        y = h / 2 if 2 * half_h >= h else min(max(self._center.y(), half_h), h - half_h)
        self._center = QPointF(x, y)

    def photo_rect(self) -> QRectF:
        """Where the whole photo lies in widget coordinates at the current zoom."""
        zoom = self.zoom()
        w, h = self._original.width() * zoom, self._original.height() * zoom
        top_left = QPointF(self.width() / 2, self.height() / 2) - self._center * zoom
        return QRectF(top_left.x(), top_left.y(), w, h)

    # -- events --------------------------------------------------------------

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), color("window"))
        if not self.has_photo():
            painter.setPen(color("muted"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        assert self._pixmap is not None
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom() < 1.0)
        painter.drawPixmap(self.photo_rect(), self._pixmap, QRectF(self._pixmap.rect()))
        if self.faces:
            paint_face_boxes(painter, self.photo_rect(), self.faces, font_px=13)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._zoom is not None:
            self._clamp()
        self.zoomChanged.emit(self.zoom())

    def wheelEvent(self, event: QWheelEvent) -> None:
        steps = event.angleDelta().y() / 120
        if steps:
            self.zoom_by(ZOOM_STEP**steps, event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self.is_fit():
            self._drag_from = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._drag_from is not None:
            delta = event.position() - self._drag_from
            self._drag_from = event.position()
            self._center -= delta / self.zoom()
            self._clamp()
            self.update()
        super().mouseMoveEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.is_fit():
            self.set_zoom(1.0, event.position())
        else:
            self.fit()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag_from = None
        self.unsetCursor()
        super().mouseReleaseEvent(event)


class PhotoViewer(QWidget):
    """The viewer page: a title line, the zoomable photo and a line of keys.

    Keys while it has focus: Esc, Enter or Space go back to the grid; F fits;
    1 shows 100 %; + and - zoom; double-click toggles fit and 100 %. J and K
    are the window's, so they move through the grid's filtered photos.

    Signals:
        closeRequested: The person asked to go back to the grid.
    """

    closeRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("photoViewer")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.decoder = PhotoDecoder(self)
        self.decoder.decoded.connect(self._on_decoded)
        self.decoder.failed.connect(self._on_failed)
        self.item: PhotoItem | None = None
        self._ahead: PhotoItem | None = None  # decoded once this one is on screen
        self._box = QSize()
        self._full = False  # whether the full resolution is loaded or on its way
        self._loaded_uri: str | None = None  # whose decode (not stand-in) is on screen

        self.title = QLabel()
        self.title.setObjectName("viewerTitle")
        self.zoom_label = QLabel()
        self.zoom_label.setObjectName("viewerZoom")
        self.hint = QLabel("Esc back · J/K next/previous · F fit · 1 100% · wheel zoom")
        self.hint.setObjectName("hint")
        for label in (self.title, self.hint):
            label.setMinimumWidth(1)  # a narrow window cuts them; it must not be held wide
        header = QHBoxLayout()
        header.setContentsMargins(12, 6, 12, 6)
        header.addWidget(self.title, 1)
        header.addWidget(self.hint)
        header.addSpacing(12)
        header.addWidget(self.zoom_label)
        self.view = ZoomView()
        self.view.setFocusProxy(self)
        self.view.zoomChanged.connect(self._on_zoom)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)

    # -- content -------------------------------------------------------------

    def show_item(
        self,
        item: PhotoItem | None,
        placeholder: QPixmap | None = None,
        *,
        ahead: PhotoItem | None = None,
    ) -> None:
        """Show ``item``; the grid's ``placeholder`` thumbnail stands in until its decode arrives."""
        self.item = item
        self._full = False
        self._loaded_uri = None
        self._ahead = None
        self.view.faces = []
        if item is None:
            self.title.setText("")
            self.view.set_message("No photo")
            return
        self.title.setText(item.name)
        self.title.setToolTip(item.ref.uri)
        if item.ref.kind != "file":
            self.view.set_message("Photos from the web are shown in the panel only")
            return
        if item.state == "failed":
            self.view.set_message(f"{item.name} could not be read: {item.error or 'unknown'}")
            return
        self._box = self._screen_box()
        if placeholder is not None and not placeholder.isNull():
            # Stretched to fill the view until the real pixels come: a blurry photo, not a blank.
            stand_in = placeholder.size().scaled(
                self.view.size(), Qt.AspectRatioMode.KeepAspectRatio
            )
            self.view.set_photo(placeholder, stand_in)
        else:
            self.view.set_message("Loading…")
        self._ahead = ahead
        if self.decoder.request(item.ref.uri, self._box):
            self._prefetch()

    def set_faces(self, uri: str, faces: list[Any]) -> None:
        """Box and name ``faces`` on the photo, if ``uri`` is still the one shown."""
        if self.item is not None and self.item.ref.uri == uri:
            self.view.faces = list(faces)
            self.view.update()

    def _prefetch(self) -> None:
        # Only after the photo on screen is decoded: on two cores it must not share them.
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.ref.kind == "file" and ahead.state != "failed":
            self.decoder.request(ahead.ref.uri, self._box, prefetch=True)

    def loaded(self) -> bool:
        """Whether the photo (not its stand-in) is on screen."""
        return (
            self.item is not None
            and self.view.has_photo()
            and self._loaded_uri == self.item.ref.uri
        )

    def _screen_box(self) -> QSize:
        # The widget's size in device pixels: the photo is never decoded larger than shown.
        ratio = self.devicePixelRatioF()
        size = self.view.size() if self.view.width() > 50 else QSize(1280, 800)
        return QSize(int(size.width() * ratio), int(size.height() * ratio))

    @Slot(str, QImage, QSize)
    def _on_decoded(self, uri: str, image: QImage, original: QSize) -> None:
        if self.item is None or uri != self.item.ref.uri:
            return
        keep = self._loaded_uri == uri  # the full resolution replacing the screen-sized one
        self._loaded_uri = uri
        self.view.set_photo(QPixmap.fromImage(image), original, keep_view=keep)
        self._prefetch()

    @Slot(str, str)
    def _on_failed(self, uri: str, reason: str) -> None:
        if self.item is not None and uri == self.item.ref.uri:
            self.view.set_message(f"{self.item.name} could not be shown: {reason}")

    def _on_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom:.0%}" + (" (fit)" if self.view.is_fit() else ""))
        self._need_full_resolution()

    def _need_full_resolution(self) -> None:
        """Past the screen-sized decode, fetch every pixel (once per photo)."""
        pixmap = self.view.pixmap()
        if self.item is None or self._full or pixmap is None or not self.loaded():
            return
        original = self.view.original_size()
        if self.view.zoom() * original.width() > pixmap.width() * 1.05:
            self._full = True
            self.decoder.request(self.item.ref.uri, QSize(original))

    # -- zoom commands ---------------------------------------------------------

    def fit(self) -> None:
        self.view.fit()

    def actual_size(self) -> None:
        self.view.set_zoom(1.0)

    def toggle_zoom(self) -> None:
        if self.view.is_fit():
            self.actual_size()
        else:
            self.fit()

    # -- events ----------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.closeRequested.emit()
        elif key in (Qt.Key.Key_F, Qt.Key.Key_0):
            self.fit()
        elif key == Qt.Key.Key_1:
            self.actual_size()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.view.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.view.zoom_by(1 / ZOOM_STEP)
        else:
            super().keyPressEvent(event)
