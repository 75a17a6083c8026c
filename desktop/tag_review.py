"""Review by tag, Lightroom-style: every photo suggested one tag, accepted or rejected each or all.

While a tag is under review the grid shows only the photos where it is an
open suggestion; A and R decide it for the selected photos, which then leave
the grid, and the bar above the grid accepts or rejects it on all of them at
once. Every decision is an ordinary one: committed at once, undone with Ctrl+Z.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from desktop.models import PhotoItem


def open_tag_counts(items: list[PhotoItem]) -> list[tuple[str, int]]:
    """Each tag still suggested on some photo, with on how many, most first."""
    counts: dict[str, int] = {}
    for item in items:
        for tag in item.tags:
            if tag.state == "suggested":
                counts[tag.tag] = counts.get(tag.tag, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def _photos(n: int) -> str:
    return f"{n} photo" if n == 1 else f"{n} photos"


class TagReviewBar(QFrame):
    """The bar above the grid while one tag is reviewed: what, how many are left, all at once, done.

    Signals:
        acceptAll: Accept the tag on every photo still showing.
        rejectAll: Reject it on every photo still showing.
        finished: Leave the review (the grid shows what it showed before).
    """

    acceptAll = Signal()
    rejectAll = Signal()
    finished = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tagReviewBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setObjectName("tagReviewLabel")
        self.label.setWordWrap(True)
        # The bar must never widen the grid column: the text wraps instead.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.accept_all_button = QPushButton("✓ All")
        self.accept_all_button.setToolTip("Accept this tag on every photo shown")
        self.accept_all_button.clicked.connect(self.acceptAll)
        self.reject_all_button = QPushButton("✗ All")
        self.reject_all_button.setToolTip("Reject this tag on every photo shown")
        self.reject_all_button.clicked.connect(self.rejectAll)
        self.done_button = QPushButton("Done")
        self.done_button.setToolTip("Leave the review by tag")
        self.done_button.clicked.connect(self.finished)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 6, 4)
        layout.addWidget(self.label, 1)
        for button in (self.accept_all_button, self.reject_all_button, self.done_button):
            layout.addWidget(button)
        self.hide()

    def show_counts(self, tag: str, *, left: int, decided: int) -> None:
        """Say where the review of ``tag`` stands: photos left, photos decided so far."""
        if left:
            text = f"Reviewing #{tag} · {_photos(left)} left · A accept · R reject" + (
                f" · {decided} decided" if decided else ""
            )
        else:
            text = f"#{tag}: all reviewed ✓ ({_photos(decided)} decided)"
        self.label.setText(text)
        self.accept_all_button.setEnabled(bool(left))
        self.reject_all_button.setEnabled(bool(left))
