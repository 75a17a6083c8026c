"""Photos that could not be tagged: why, in plain words, where the file is, and a retry.

The engine stores a reason per failed photo (``core.engine.imaging`` words it for
people; a technical detail may follow after " — "). The grid card shows the
file name with the plain reason; the panel's failure box adds the full path,
"Show in folder" and "Retry", which tags the photos again even if their file
did not change. A file fixed since (new size or mtime) is retried by any run.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.store import PhotoState
from desktop.models import PhotoItem

DETAIL_SEPARATOR = " — "


def plain_reason(error: str | None) -> str:
    """The reason a person reads: the sentence before any technical detail, capitalised."""
    if not error:
        return "Could not be tagged"
    reason = error.split(DETAIL_SEPARATOR, 1)[0].strip().rstrip(".")
    return reason[:1].upper() + reason[1:]


def show_in_folder(path: Path) -> bool:
    """Open the folder that holds ``path`` in the desktop's file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


class FailureBox(QFrame):
    """Shown in the panel for failed photos: reason, full path, Show in folder, Retry.

    Signals:
        retryRequested: Tag the shown failed photos again.
    """

    retryRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failureBox")
        self.items: list[PhotoItem] = []
        self.reason = QLabel()
        self.reason.setObjectName("photoError")
        self.reason.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setObjectName("hint")
        self.detail.setWordWrap(True)
        self.path = QLabel()
        self.path.setObjectName("photoMeta")
        self.path.setWordWrap(True)
        self.path.setTextInteractionFlags(self.path.textInteractionFlags().TextSelectableByMouse)
        self.folder_button = QPushButton("Show in folder")
        self.folder_button.setToolTip("Open the folder that holds this file")
        self.folder_button.clicked.connect(self._show_in_folder)
        self.retry_button = QPushButton("Retry")
        self.retry_button.setToolTip("Tag again, for example after fixing or replacing the file")
        self.retry_button.clicked.connect(self.retryRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.retry_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.reason)
        layout.addWidget(self.detail)
        layout.addWidget(self.path)
        layout.addLayout(buttons)
        self.hide()

    def set_items(self, items: list[PhotoItem]) -> None:
        """Show the failed ones among ``items``; hidden when none failed."""
        self.items = [i for i in items if i.state == PhotoState.FAILED]
        if not self.items:
            self.hide()
            return
        first = self.items[0]
        if len(self.items) == 1:
            self.reason.setText(f"⚠ {plain_reason(first.error)}")
            detail = (first.error or "").partition(DETAIL_SEPARATOR)[2]
            self.detail.setText(f"Details: {detail}" if detail else "")
            self.detail.setVisible(bool(detail))
            self.path.setText(first.ref.uri)
            self.retry_button.setText("Retry")
        else:
            self.reason.setText(f"⚠ {len(self.items)} photos could not be tagged")
            self.detail.hide()
            self.path.setText(first.ref.uri + (" and others" if len(self.items) > 1 else ""))
            self.retry_button.setText(f"Retry {len(self.items)}")
        self.folder_button.setEnabled(first.ref.kind == "file")
        self.show()

    def _show_in_folder(self) -> None:
        if self.items and self.items[0].ref.path is not None:
            show_in_folder(self.items[0].ref.path)
