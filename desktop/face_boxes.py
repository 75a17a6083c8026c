"""Named face boxes drawn over a photo, wherever it is shown (the panel's preview, the viewer).

Confirmed names are boxed in a solid line, suggested ones (``Anna?``) in a dashed
one, each with its name on a dark strip under the box.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen

CONFIRMED = QColor("#ffd54f")
SUGGESTED = QColor("#90caf9")


def paint_face_boxes(
    painter: QPainter, photo: QRectF, faces: Sequence[Any], *, font_px: int | None = None
) -> None:
    """Draw ``faces`` (``box`` as fractions of the photo, ``label``, ``confirmed``) on ``photo``.

    Args:
        painter: An active painter.
        photo: Where the whole photo lies in the painter's coordinates.
        faces: :class:`core.people.regions.NamedFace` or anything shaped alike.
        font_px: Label size in pixels (default: scaled to the photo's height).
    """
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont(painter.font())
    font.setPixelSize(font_px or max(11, int(photo.height()) // 40))
    painter.setFont(font)
    for face in faces:
        left, top, right, bottom = face.box
        rect = QRectF(
            photo.left() + left * photo.width(),
            photo.top() + top * photo.height(),
            (right - left) * photo.width(),
            (bottom - top) * photo.height(),
        )
        pen = QPen(CONFIRMED if face.confirmed else SUGGESTED, 2)
        pen.setStyle(Qt.PenStyle.SolidLine if face.confirmed else Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRect(rect)
        label = QRectF(rect.left(), rect.bottom() + 2, max(rect.width(), 120), font.pixelSize() + 6)
        painter.fillRect(label, QColor(0, 0, 0, 160))
        painter.drawText(label.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, face.label)
    painter.restore()
