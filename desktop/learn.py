"""Learn from my decisions: a learned version in the background, before/after per tag, keep or discard.

Learning (scipy) and writing every photo's learned suggestions take seconds,
so they run as a background job (:func:`learn_in_background`, with its own
Store on the same WAL file, as tagging runs do); progress comes back to the
status bar. The dialog says per tag, in plain words, what the person would see
with the new version against before ("#dog: found 12 of 13, was 9 of 13"), and
lets them keep it or discard it; discarding restores the earlier suggestions.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from desktop import tasks
from desktop.jobs import Job, StatusReporter, run_in_background
from desktop.workers import DbWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnResult:
    """What one learning run produced.

    Attributes:
        version: The new learned version (:class:`core.learning.versions.LearnedVersion`),
            or None when nothing was learned.
        refreshed: Photos whose learned suggestions were rewritten.
        error: Why nothing was learned (too few decisions, no embeddings), or None.
    """

    version: Any = None
    refreshed: int = 0
    error: str | None = None


def learn_in_background(
    *,
    db_path: Path,
    backbone: str,
    threshold: float,
    cancel: threading.Event,
    progress: Callable[[tuple[str, int, int]], None],
) -> LearnResult:
    """Learn a new version from every decision so far, then apply it to every photo.

    A background job (:mod:`desktop.jobs`): reports (status line, done, total);
    a cancelled learning run stores nothing. Too few decisions and the like
    come back as the result's ``error``, not as an exception.
    """
    from core.learning.learned import apply_learned, learn_from_store
    from core.store import Store

    try:
        with Store(db_path) as store:
            version = learn_from_store(
                store,
                backbone=backbone,
                display_threshold=threshold,
                progress=lambda p: progress(
                    (f"Learning from your decisions: {p.stage}", p.step, max(p.steps, 1))
                ),
                cancel=cancel,
            )
            refreshed = apply_learned(
                store,
                backbone=backbone,
                progress=lambda done, total: progress(
                    ("Refreshing suggestions", done, max(total, 1))
                ),
                cancel=cancel,
            )
    except Exception as exc:  # said in the status bar
        log.info("learning stopped: %s", exc)
        return LearnResult(error=str(exc))
    return LearnResult(version=version, refreshed=refreshed)


def tag_lines(version: Any) -> tuple[list[str], list[str]]:
    """(tags learning now suggests, tags left to the backbone) as plain sentences."""
    kept = [g.sentence() for g in sorted(version.gates, key=lambda g: -g.positives) if g.kept]
    left = [g.sentence() for g in sorted(version.gates, key=lambda g: -g.positives) if not g.kept]
    return kept, left


def _tags(count: int) -> str:
    return f"{count} tag" if count == 1 else f"{count} tags"


class LearnDialog(QDialog):
    """Before and after per tag in plain words, with Keep and Discard.

    Signals:
        discardRequested: The person discarded the version.
    """

    discardRequested = Signal()

    def __init__(self, result: LearnResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learned from your decisions")
        self.setMinimumWidth(560)
        version = result.version
        m = version.metrics
        kept, left = tag_lines(version)
        intro = QLabel(
            f"Learned from {m.photos} reviewed photos in {m.seconds:.1f} s. Each count below "
            "is on your reviewed photos, each scored by a version that never saw it.\n"
            f"Learning now suggests {_tags(len(kept))}; for {_tags(len(left))} the "
            "backbone's suggestions stay, because learning did not do better there."
        )
        intro.setWordWrap(True)
        self.tag_list = QListWidget()
        self.tag_list.addItems(kept or ["No tag: your suggestions stay as they were."])
        self.left_list = QListWidget()
        self.left_list.addItems(left)
        self.left_list.setMaximumHeight(110)
        buttons = QDialogButtonBox()
        self.keep_button = QPushButton("Keep")
        self.discard_button = QPushButton("Discard")
        buttons.addButton(self.keep_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        self.keep_button.setDefault(True)
        self.keep_button.clicked.connect(self.accept)
        self.discard_button.clicked.connect(self._discard)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(QLabel("Learning suggests:"))
        layout.addWidget(self.tag_list)
        layout.addWidget(QLabel("Unchanged:"))
        layout.addWidget(self.left_list)
        layout.addWidget(buttons)

    def _discard(self) -> None:
        self.discardRequested.emit()
        self.reject()


class LearnController(QObject):
    """Learning for the window: one run at a time, status bar, dialog, refreshed suggestions.

    It sees the window only through what it is given: the status bar, the
    database worker, the run's backbone and threshold, and callbacks.
    """

    def __init__(
        self,
        *,
        status: StatusReporter,
        db: DbWorker,
        db_path: Path,
        run_choice: Callable[[], tuple[str, float]],
        tagging: Callable[[], bool],
        refreshed: Callable[[], None],
        action: QAction | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.status = status
        self.db = db
        self.db_path = db_path
        self.run_choice = run_choice
        self.tagging = tagging
        self.refreshed = refreshed
        self.action = action
        self.parent_widget = parent
        self.job: Job | None = None
        self.dialog: LearnDialog | None = None
        self.last_result: LearnResult | None = None
        self._backbone = ""

    @property
    def busy(self) -> bool:
        return self.job is not None

    def _enable(self, enabled: bool) -> None:
        if self.action is not None:
            self.action.setEnabled(enabled)

    def start(self) -> None:
        """Start learning unless a tagging or learning run is under way; returns at once."""
        if self.job is not None:
            return
        if self.tagging():
            self.status.show_message("Learn after the tagging run has finished", error=True)
            return
        self._backbone, threshold = self.run_choice()
        self._enable(False)
        self.status.show_progress(0, 0)
        self.status.show_message("Learning from your decisions…")
        self.job = run_in_background(
            learn_in_background,
            db_path=self.db_path,
            backbone=self._backbone,
            threshold=threshold,
            on_progress=self._on_stage,
            on_done=self._on_learned,
            on_error=lambda exc: self._on_learned(LearnResult(error=str(exc))),
            parent=self,
        )

    def stop(self) -> None:
        """Cancel and wait (the window is closing)."""
        if self.job is not None:
            self.job.cancel()
            self.job.wait(30)

    def _on_stage(self, stage: tuple[str, int, int]) -> None:
        text, done, total = stage
        self.status.show_message(text)
        self.status.show_progress(done, total)

    def _on_learned(self, result: LearnResult) -> None:
        self.job = None
        self.status.hide_progress()
        self._enable(True)
        self.last_result = result
        if result.error is not None or result.version is None:
            self.status.show_message(f"Nothing learned: {result.error}", error=True)
            return
        self.status.show_message(
            f"Learned {len(result.version.kept_tags)} tags; suggestions refreshed on "
            f"{result.refreshed} photos"
        )
        self.refreshed()
        self.dialog = LearnDialog(result, self.parent_widget)
        self.dialog.discardRequested.connect(partial(self.discard, result.version.id))
        self.dialog.open()  # window-modal but not blocking: the refreshed grid shows behind it

    def discard(self, version_id: int) -> None:
        """Discard a learned version on the database thread; earlier suggestions come back."""
        self.status.show_message("Discarding the learned version…")
        self.db.submit(
            partial(tasks.discard_learned, backbone=self._backbone, version_id=version_id),
            self._on_discarded,
        )

    def _on_discarded(self, refreshed: int) -> None:
        self.status.show_message(f"Learned version discarded; {refreshed} photos as before")
        self.refreshed()
