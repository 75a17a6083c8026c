"""The run controls: the toolbar (backbone, device, threshold, top-k) and the status bar (progress).

Split from the main window so it stays about wiring; these widgets hold no
state of their own beyond what they show. The window keeps short names for
the controls (``window.threshold_box`` and so on), which it and the tests use.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStatusBar,
    QToolBar,
    QToolButton,
    QWidget,
)

from core.engine.backbones import list_backbones
from core.engine.runtime import offered_devices
from core.settings import Settings


def clock(seconds: float | None) -> str:
    """A time left as m:ss, or h mm past an hour; "…" while unknown."""
    if seconds is None:
        return "…"
    seconds = int(seconds)
    return (
        f"{seconds // 60}:{seconds % 60:02d}"
        if seconds < 3600
        else f"{seconds // 3600} h {seconds // 60 % 60:02d}"
    )


class RunToolBar(QToolBar):
    """Sources, the run controls, the tag actions, then (right-aligned) export and settings.

    Signals:
        rankingChanged: Threshold or top-k changed, debounced (300 ms): re-rank the tags.
    """

    rankingChanged = Signal()

    def __init__(
        self,
        settings: Settings,
        *,
        sources: list[QAction],
        runs: list[QAction],
        trailing: list[QAction],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Main", parent)
        self.setObjectName("mainToolbar")
        self.setMovable(False)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in sources:
            self.addAction(action)
        self.addSeparator()
        self._build_controls(settings)
        self.addSeparator()
        for action in runs:
            self.addAction(action)
        tag_button = self.widgetForAction(runs[0])
        if isinstance(tag_button, QToolButton):
            tag_button.setObjectName("primaryAction")
        spacer = QWidget()
        spacer.setSizePolicy(
            spacer.sizePolicy().Policy.Expanding, spacer.sizePolicy().Policy.Preferred
        )
        self.addWidget(spacer)
        for action in trailing:
            self.addAction(action)
        settings_button = self.widgetForAction(trailing[-1])
        if isinstance(settings_button, QToolButton):
            settings_button.setText("⚙")
            settings_button.setObjectName("iconAction")

    def _build_controls(self, settings: Settings) -> None:
        self.backbone_box = QComboBox()
        self.backbone_box.setMinimumContentsLength(13)
        self.backbone_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        for spec in list_backbones():
            # "(offline)" and other notes go to the tooltip; the toolbar has no room for them.
            self.backbone_box.addItem(spec.display_name.split(" (")[0], spec.name)
            self.backbone_box.setItemData(
                self.backbone_box.count() - 1, spec.display_name, Qt.ItemDataRole.ToolTipRole
            )
        self.backbone_box.view().setMinimumWidth(380)
        self.backbone_box.setCurrentIndex(max(0, self.backbone_box.findData(settings.backbone)))
        self.device_box = QComboBox()
        for device in offered_devices():
            self.device_box.addItem(device.upper() if device != "auto" else "Auto", device)
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(settings.device)))
        self.threshold_box = QDoubleSpinBox()
        self.threshold_box.setRange(0.0, 1.0)
        self.threshold_box.setSingleStep(0.05)
        self.threshold_box.setValue(settings.threshold)
        self.threshold_box.setFixedWidth(76)
        self.threshold_box.setToolTip("Suggestions below this confidence are hidden")
        self.top_k_box = QSpinBox()
        self.top_k_box.setRange(1, 50)
        self.top_k_box.setValue(settings.top_k)
        self.top_k_box.setFixedWidth(60)
        self.top_k_box.setToolTip("At most this many suggestions per photo")
        self.backbone_box.setToolTip("Backbone: the network that tags the photos")
        self.device_box.setToolTip(
            "Device: where tagging runs (Auto picks a GPU when there is one)"
        )
        for label, widget in (
            ("Backbone", self.backbone_box),
            ("on", self.device_box),
            ("Threshold", self.threshold_box),
            ("Top", self.top_k_box),
        ):
            self.addWidget(QLabel(label))
            self.addWidget(widget)
        # Spinning through values must not re-rank every photo at each step.
        self._reload_timer = QTimer(self, singleShot=True, interval=300)
        self._reload_timer.timeout.connect(self.rankingChanged)
        self.threshold_box.valueChanged.connect(self._reload_timer.start)
        self.top_k_box.valueChanged.connect(self._reload_timer.start)


class RunStatusBar(QStatusBar):
    """The message line, and while a run goes: its progress, rate, time left and Cancel; counts."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message_label = QLabel("Open a folder to begin (Ctrl+O), or drop photos here.")
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.progress.setFormat("%v / %m")
        self.rate_label = QLabel()
        self.cancel_button = QPushButton("Cancel  Esc")
        self.cancel_button.setObjectName("cancelButton")
        self.counts_label = QLabel()
        self.counts_label.setObjectName("statusCounts")
        self.addWidget(self.message_label, 1)
        self.addPermanentWidget(self.progress)
        self.addPermanentWidget(self.rate_label)
        self.addPermanentWidget(self.cancel_button)
        self.addPermanentWidget(self.counts_label)
        self.run_ended()

    def show_message(self, text: str, *, error: bool = False) -> None:
        """The message line; an error shows in red."""
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #e5534b;" if error else "")

    def show_progress(self, done: int, total: int) -> None:
        """The progress bar at done of total; a total of 0 shows a busy bar."""
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)
        self.progress.show()

    def hide_progress(self) -> None:
        self.progress.hide()

    def run_started(self) -> None:
        """A busy bar until the first batch says how many photos there are."""
        self.progress.setRange(0, 0)
        for widget in (self.progress, self.rate_label, self.cancel_button):
            widget.show()
        self.rate_label.setText("")
        self.cancel_button.setEnabled(True)

    def show_run_progress(self, progress) -> None:
        """A :class:`core.engine.pipeline.Progress`: done of total, photos per second, time left."""
        self.progress.setRange(0, max(progress.total, 1))
        self.progress.setValue(progress.done)
        self.rate_label.setText(f"{progress.rate:.1f} photos/s · {clock(progress.eta)} left")

    def run_ended(self) -> None:
        for widget in (self.progress, self.rate_label, self.cancel_button):
            widget.hide()
