"""Above the grid: what the grid shows ("#dog · 13 of 162 ✕"), and a page for an empty grid.

The bar appears only while a filter narrows the grid, says how many photos it
lets through out of how many, and clears with one click. The empty page says
what to do when there is nothing to show: open a folder at first start, clear
the filter when it matches nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.engine.vocabulary import hashtag

STATE_NAMES = {
    "untagged": "Untagged",
    "suggested": "Suggested",
    "reviewed": "Reviewed",
    "failed": "Failed",
}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 photo``, ``2 photos`` (``many`` for nouns whose plural is not noun + s)."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def filter_summary(
    *, state: str | None, tag: str | None, shown: int, total: int, style: str = "joined"
) -> str:
    """The bar's words: ``Suggested · #dog · 13 of 162``; empty when nothing is filtered."""
    parts = []
    if state:
        parts.append(STATE_NAMES.get(state, state))
    if tag:
        parts.append(hashtag(tag, style=style))  # type: ignore[arg-type]
    if not parts:
        return ""
    return " · ".join([*parts, f"{shown:,} of {plural(total, 'photo')}"])


class FilterBar(QWidget):
    """One line over the grid while a filter is on, with a button that clears it.

    Signals:
        clearRequested: The person asked for every photo again.
    """

    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.label = QLabel()
        self.label.setObjectName("filterText")
        self.label.setMinimumWidth(1)
        self.clear_button = QToolButton()
        self.clear_button.setObjectName("filterClear")
        self.clear_button.setText("✕")
        self.clear_button.setToolTip("Show all photos")
        self.clear_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.clear_button.clicked.connect(self.clearRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 3, 6, 3)
        layout.addWidget(self.label)
        layout.addWidget(self.clear_button)
        layout.addStretch(1)
        self.hide()

    def show_filter(
        self, *, state: str | None, tag: str | None, shown: int, total: int, style: str = "joined"
    ) -> None:
        text = filter_summary(state=state, tag=tag, shown=shown, total=total, style=style)
        self.label.setText(text)
        self.setVisible(bool(text))


class EmptyGridPage(QWidget):
    """What the grid area says when it has nothing to show, and the one button that helps.

    Signals:
        openRequested: Open a folder (first start, or a folder without photos).
        clearRequested: Clear the filter (it matched nothing).
    """

    openRequested = Signal()
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("emptyGrid")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.heading = QLabel()
        self.heading.setObjectName("emptyHeading")
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.heading.setWordWrap(True)
        self.body = QLabel()
        self.body.setObjectName("emptyBody")
        self.body.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.body.setWordWrap(True)
        for label in (self.heading, self.body):
            label.setMinimumWidth(1)  # wrapped, never holding the window wide
        self.button = QPushButton()
        self.button.setObjectName("emptyAction")
        self.button.clicked.connect(self._act)
        self._mode = "start"
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.heading)
        layout.addWidget(self.body)
        layout.addSpacing(12)
        layout.addWidget(self.button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)
        self.show_start()

    @property
    def mode(self) -> str:
        return self._mode

    def show_start(self) -> None:
        self._mode = "start"
        self.heading.setText("Open a folder of photos to begin")
        self.body.setText(
            "Pick a folder in the tree on the left, press Ctrl+O, or drop a folder here.\n"
            "Then Ctrl+T tags every photo; A accepts a tag, R rejects it, T adds your own."
        )
        self.button.setText("Open Folder…  Ctrl+O")

    def show_no_photos(self, folder: str) -> None:
        self._mode = "no_photos"
        self.heading.setText("No photos in this folder")
        self.body.setText(
            f"{folder} holds no JPEG, PNG, HEIC or other photo files.\n"
            "Choose another folder on the left."
        )
        self.button.setText("Open Another Folder…")

    def show_no_match(self, summary: str) -> None:
        self._mode = "no_match"
        self.heading.setText("No photo matches the filter")
        self.body.setText(summary)
        self.button.setText("Show All Photos")

    def _act(self) -> None:
        if self._mode == "no_match":
            self.clearRequested.emit()
        else:
            self.openRequested.emit()
