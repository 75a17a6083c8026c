"""Learn from my decisions: a learned version in the background, before/after per tag, keep or discard.

Learning (scipy) and writing every photo's learned suggestions take seconds,
so they run on a :class:`LearnWorker` thread with its own Store on the same WAL
file, as tagging runs do; progress comes back through queued signals to the
status bar. The dialog says per tag, in plain words, what the person would see
with the new version against before ("#dog: found 12 of 13, was 9 of 13"), and
lets them keep it or discard it; discarding restores the earlier suggestions.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal
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

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

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


class LearnWorker(QThread):
    """Learns a new version from every decision so far, then applies it to every photo.

    Signals:
        stage: A status-bar line with (done, total) for the progress bar.
        learned: The :class:`LearnResult`, once, at the end.
    """

    stage = Signal(str, int, int)
    learned = Signal(object)

    def __init__(self, *, db_path: Path, backbone: str, threshold: float = 0.2) -> None:
        super().__init__()
        self.setObjectName("phototagger-learn")
        self.db_path = db_path
        self.backbone = backbone
        self.threshold = threshold
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        """Stop at the next stage or chunk; a cancelled learning run stores nothing."""
        self.cancel_event.set()

    def run(self) -> None:
        try:
            result = self._run()
        except Exception as exc:  # too few decisions and the like: said in the status bar
            log.info("learning stopped: %s", exc)
            result = LearnResult(error=str(exc))
        self.learned.emit(result)

    def _run(self) -> LearnResult:
        from core.learning.learned import apply_learned, learn_from_store
        from core.store import Store

        with Store(self.db_path) as store:

            def on_learn(p) -> None:
                self.stage.emit(f"Learning from your decisions: {p.stage}", p.step, max(p.steps, 1))

            version = learn_from_store(
                store,
                backbone=self.backbone,
                display_threshold=self.threshold,
                progress=on_learn,
                cancel=self.cancel_event,
            )

            def on_apply(done: int, total: int) -> None:
                self.stage.emit("Refreshing suggestions", done, max(total, 1))

            refreshed = apply_learned(
                store, backbone=self.backbone, progress=on_apply, cancel=self.cancel_event
            )
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
    """The window's side of learning: one run at a time, status bar, dialog, refreshed grid."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.worker: LearnWorker | None = None
        self.dialog: LearnDialog | None = None
        self.last_result: LearnResult | None = None

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(self) -> None:
        """Start learning unless a tagging or learning run is under way; returns at once."""
        w = self.window
        if self.worker is not None:
            return
        if w.inference is not None:
            w.show_message("Learn after the tagging run has finished", error=True)
            return
        worker = LearnWorker(
            db_path=w.db_path,
            backbone=w.backbone_box.currentData(),
            threshold=w.threshold_box.value(),
        )
        worker.stage.connect(self._on_stage)
        worker.learned.connect(self._on_learned)
        self.worker = worker
        w.learn_action.setEnabled(False)
        w.progress.setRange(0, 0)
        w.progress.show()
        w.show_message("Learning from your decisions…")
        worker.start()

    def stop(self) -> None:
        """Cancel and wait (the window is closing)."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait(30000)

    def _on_stage(self, text: str, done: int, total: int) -> None:
        self.window.show_message(text)
        self.window.progress.setRange(0, total)
        self.window.progress.setValue(done)

    def _on_learned(self, result: LearnResult) -> None:
        w = self.window
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        w.progress.hide()
        w.learn_action.setEnabled(True)
        self.last_result = result
        if result.error is not None or result.version is None:
            w.show_message(f"Nothing learned: {result.error}", error=True)
            return
        w.show_message(
            f"Learned {len(result.version.kept_tags)} tags; suggestions refreshed on "
            f"{result.refreshed} photos"
        )
        w.reload_tags()
        self.dialog = LearnDialog(result, w)
        self.dialog.discardRequested.connect(partial(self.discard, result.version.id))
        self.dialog.open()  # window-modal but not blocking: the refreshed grid shows behind it

    def discard(self, version_id: int) -> None:
        """Discard a learned version on the database thread; earlier suggestions come back."""
        w = self.window
        w.show_message("Discarding the learned version…")
        w.db.submit(
            partial(
                tasks.discard_learned, backbone=w.backbone_box.currentData(), version_id=version_id
            ),
            self._on_discarded,
        )

    def _on_discarded(self, refreshed: int) -> None:
        self.window.show_message(f"Learned version discarded; {refreshed} photos as before")
        self.window.reload_tags()
