"""Low-confidence guesses look different from suggestions, in the grid and the tag panel."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtGui import QImage, QPainter

from core.engine.sources import PhotoRef
from core.learning.review import PhotoTag
from desktop.grid import paint_chip
from desktop.models import PhotoItem
from desktop.tag_panel import entries_for
from desktop.theme import color


def chip_fill(state: str) -> tuple[int, int, int]:
    image = QImage(60, 20, QImage.Format.Format_RGB32)
    image.fill(0)
    painter = QPainter(image)
    paint_chip(painter, QRect(0, 0, 60, 20), "", state)
    painter.end()
    pixel = image.pixelColor(30, 10)
    return pixel.red(), pixel.green(), pixel.blue()


def test_low_confidence_chip_is_greyed(qapp):
    low = chip_fill("low")
    assert low != chip_fill("suggested")
    surface = color("surface")
    assert low == (surface.red(), surface.green(), surface.blue())


def test_panel_rows_carry_the_low_confidence_mark(qapp):
    item = PhotoItem(
        PhotoRef("/p/1.jpg", size=1, mtime=1),
        photo_id=1,
        status="tagged",
        tags=(PhotoTag("dog", 0.13, "hierarchy", "suggested", low_confidence=True),),
    )
    (entry,) = entries_for([item])
    assert entry.low_confidence and entry.tag == "dog"
