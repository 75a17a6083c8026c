"""Learn from my decisions: train a head in the background, show its metrics, refresh suggestions.

Training (torch) and rewriting every photo's learned suggestions take seconds
to minutes, so they run on a :class:`LearnWorker` thread with its own Store on
the same WAL file, as tagging runs do; progress comes back through queued
signals to the status bar. The result dialog puts the new head's held-out
metrics next to the backbone alone and the previous head, so a person sees
whether their decisions taught it anything.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QThread, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnResult:
    """What one learning run produced.

    Attributes:
        head: The new head (its ``metrics`` are held-out), or None when it failed.
        previous: The head it replaces, for the before column; None the first time.
        refreshed: Photos whose learned suggestions were rewritten.
        error: Why nothing was learned (too few decisions, no embeddings), or None.
    """

    head: Any = None
    previous: Any = None
    refreshed: int = 0
    error: str | None = None


class LearnWorker(QThread):
    """Trains a head from every decision so far, then refreshes every photo's suggestions.

    Signals:
        stage: A status-bar line with (done, total) for the progress bar.
        learned: The :class:`LearnResult`, once, at the end.
    """

    stage = Signal(str, int, int)
    learned = Signal(object)

    def __init__(self, *, db_path: Path, backbone: str, device: str = "cpu") -> None:
        super().__init__()
        self.setObjectName("phototagger-learn")
        self.db_path = db_path
        self.backbone = backbone
        self.device = device
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        """Stop at the next epoch or chunk; a cancelled training stores nothing."""
        self.cancel_event.set()

    def run(self) -> None:
        try:
            result = self._run()
        except Exception as exc:  # too few decisions and the like: said in the status bar
            log.info("learning stopped: %s", exc)
            result = LearnResult(error=str(exc))
        self.learned.emit(result)

    def _run(self) -> LearnResult:
        # torch loads here, on this thread, only when a person asks to learn.
        from core.store import Store
        from core.train import TrainOptions, latest_head, refresh_suggestions, train_from_store

        device = self.device if self.device in ("cpu", "cuda") else "cpu"
        with Store(self.db_path) as store:
            previous = latest_head(store, backbone=self.backbone)

            def on_train(p) -> None:
                self.stage.emit(
                    f"Learning from your decisions: {p.stage}", p.epoch, max(p.max_epochs, 1)
                )

            head = train_from_store(
                store,
                backbone=self.backbone,
                options=TrainOptions(device=device),
                progress=on_train,
                cancel=self.cancel_event,
            )

            def on_refresh(done: int, total: int) -> None:
                self.stage.emit("Refreshing suggestions", done, max(total, 1))

            refreshed = refresh_suggestions(
                store,
                backbone=self.backbone,
                head=head,
                progress=on_refresh,
                cancel=self.cancel_event,
            )
        return LearnResult(head=head, previous=previous, refreshed=refreshed)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def metric_rows(result: LearnResult) -> list[tuple[str, str, str, str]]:
    """(metric, backbone alone, previous head, new head) rows for the dialog."""
    new = result.head.metrics
    old = result.previous.metrics if result.previous is not None else None
    return [
        (
            "Mean average precision",
            _percent(new.baseline_map),
            _percent(old.mean_average_precision if old else None),
            _percent(new.mean_average_precision),
        ),
        ("Micro F1", "—", _percent(old.micro_f1 if old else None), _percent(new.micro_f1)),
        ("Macro F1", "—", _percent(old.macro_f1 if old else None), _percent(new.macro_f1)),
        (
            "Tags learned",
            "—",
            str(len(result.previous.tags)) if result.previous is not None else "—",
            str(len(result.head.tags)),
        ),
        ("Reviewed photos", "—", str(old.photos) if old else "—", str(new.photos)),
    ]


class LearnDialog(QDialog):
    """Before and after: the new head's held-out metrics beside the backbone alone and the last head."""

    def __init__(self, result: LearnResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learned from your decisions")
        self.setMinimumWidth(560)
        metrics = result.head.metrics
        intro = QLabel(
            f"Trained on {metrics.photos} reviewed photos in {metrics.seconds:.1f} s; "
            f"suggestions refreshed on {result.refreshed} photos.\n"
            "Scores are held-out: each photo was scored by a head that never saw it."
        )
        intro.setWordWrap(True)
        rows = metric_rows(result)
        self.table = QTableWidget(len(rows), 4)
        self.table.setHorizontalHeaderLabels(["", "Backbone alone", "Before", "After"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(buttons)


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
            device=w.device_box.currentData(),
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
        if result.error is not None or result.head is None:
            w.show_message(f"Nothing learned: {result.error}", error=True)
            return
        w.show_message(
            f"Learned {len(result.head.tags)} tags; suggestions refreshed on "
            f"{result.refreshed} photos"
        )
        w.reload_tags()
        self.dialog = LearnDialog(result, w)
        self.dialog.open()  # window-modal but not blocking: the refreshed grid shows behind it
