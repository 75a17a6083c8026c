"""The app's look: one dark palette for the stylesheet and for the custom painters.

Painted items (grid cards, hashtag chips) cannot be styled from QSS, so their
colours live here and the stylesheet in ``resources/style.qss`` uses the same
names through ``@name`` placeholders.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

COLORS = {
    "window": "#16181d",
    "surface": "#1f2229",
    "card": "#262a32",
    "card_hover": "#2e333d",
    "border": "#343a46",
    "text": "#e8eaed",
    "muted": "#9aa3b2",
    "accent": "#4c8dff",
    "accent_soft": "#23395e",
    "accepted": "#3fb97a",
    "accepted_soft": "#1d3a2c",
    "rejected": "#e5534b",
    "rejected_soft": "#3d2224",
    "suggested": "#4c8dff",
    "suggested_soft": "#22304a",
    "failed": "#e5534b",
    "warning": "#d9a441",
}


def color(name: str) -> QColor:
    return QColor(COLORS[name])


def stylesheet() -> str:
    """The bundled stylesheet with the palette filled in."""
    folder = resources.files("resources")
    text = folder.joinpath("style.qss").read_text(encoding="utf-8")
    text = text.replace("@icons", Path(str(folder.joinpath("icons"))).as_posix())
    # Longest names first, so @card_hover is not read as @card followed by "_hover".
    for name in sorted(COLORS, key=len, reverse=True):
        text = text.replace(f"@{name}", COLORS[name])
    return text


def apply_theme(app: QApplication) -> None:
    """Fusion style, a dark palette (for what QSS does not reach) and the stylesheet."""
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "window",
        QPalette.ColorRole.Base: "surface",
        QPalette.ColorRole.AlternateBase: "card",
        QPalette.ColorRole.Button: "card",
        QPalette.ColorRole.Text: "text",
        QPalette.ColorRole.WindowText: "text",
        QPalette.ColorRole.ButtonText: "text",
        QPalette.ColorRole.Highlight: "accent",
        QPalette.ColorRole.ToolTipBase: "card",
        QPalette.ColorRole.ToolTipText: "text",
        QPalette.ColorRole.PlaceholderText: "muted",
    }
    for role, name in roles.items():
        palette.setColor(role, color(name))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    app.setPalette(palette)
    font = QFont(app.font())
    if font.pointSizeF() < 10:
        font.setPointSizeF(10)
    app.setFont(font)
    app.setStyleSheet(stylesheet())
