"""The Telegram bot panel of the settings dialog: token, who may write, start and stop.

The bot runs in a thread of :class:`bot.runner.BotRunner`, which the main
window owns (one per app), so the settings dialog can close while the bot keeps
answering. The runner calls its listeners from the bot's thread; :class:`BotBridge`
turns those calls into Qt signals, which reach widgets on the GUI thread through
queued connections. The token is typed into a masked field, kept in the OS
keyring and never shown again: the field stays empty once one is stored.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from bot.runner import BotRunner, RunnerStatus, keyring_available, load_token, save_token
from core.settings import Settings
from desktop.theme import COLORS

LIGHTS = {
    "stopped": ("muted", "Stopped"),
    "starting": ("warning", "Starting"),
    "running": ("accepted", "Running"),
    "stopping": ("warning", "Stopping"),
    "error": ("failed", "Error"),
}
"""Each runner state's dot colour (a theme colour name) and word."""


class BotBridge(QObject):
    """Carries the runner's status changes and log lines onto the GUI thread.

    It lives on the GUI thread; the runner calls :meth:`_status` and :meth:`_line`
    from the bot's thread, and emitting from there makes every connection to a
    GUI-thread receiver queued, so no widget is touched from the bot's thread.

    Signals:
        statusChanged: A :class:`bot.runner.RunnerStatus`.
        logLine: One redacted log line.
    """

    statusChanged = Signal(object)
    logLine = Signal(str)

    def __init__(self, runner: BotRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._removers = [runner.add_listener(self._status), runner.add_log_listener(self._line)]

    def _status(self, status: RunnerStatus) -> None:
        self.statusChanged.emit(status)

    def _line(self, line: str) -> None:
        self.logLine.emit(line)

    def close(self, timeout: float = 15.0) -> bool:
        """Stop the bot and wait for it (the app is quitting); listeners go first.

        Returns:
            True when the bot's thread ended.
        """
        for remove in self._removers:
            remove()
        self._removers.clear()
        return self.runner.close(timeout=timeout)


class BotPanel(QWidget):
    """Token, Bot API URL, allow-list, open-to-all, start/stop, status light, log and counts.

    Args:
        editors: The dialog's generated editors for the Telegram section's fields
            (``bot_api_url``, ``bot_allowed_users``, ``bot_open_to_all``), laid out here.
        settings: Called on Start for the settings as edited so far (validated;
            raises :class:`core.errors.PhotoTaggerError`), so the bot starts with
            what the person sees, saved or not.
        bridge: The main window's bridge to its runner; None shows the controls disabled.
        labels: Each editor's label text.
    """

    def __init__(
        self,
        *,
        editors: dict[str, QWidget],
        labels: dict[str, str],
        settings: Callable[[], Settings],
        bridge: BotBridge | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._settings = settings
        self.bridge = bridge
        intro = QLabel("The Telegram bot answers a photo with its hashtags.")
        intro.setObjectName("hint")
        intro.setWordWrap(True)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setToolTip("The token BotFather gave you; it is never shown again.")
        self.token_note = QLabel()
        self.token_note.setObjectName("hint")
        self.token_note.setWordWrap(True)
        form = QFormLayout()
        form.setSpacing(10)
        form.addRow("Bot token", self.token_edit)
        form.addRow("", self.token_note)
        for name, editor in editors.items():
            form.addRow(labels.get(name, name), editor)

        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("primary")
        self.stop_button = QPushButton("Stop")
        self.start_button.clicked.connect(self.start_bot)
        self.stop_button.clicked.connect(self.stop_bot)
        self.light = QLabel()
        self.light.setTextFormat(Qt.TextFormat.RichText)
        self.light.setWordWrap(True)
        self.counts_label = QLabel()
        self.counts_label.setObjectName("hint")
        controls = QHBoxLayout()
        controls.addWidget(self.start_button)
        controls.addWidget(self.stop_button)
        controls.addStretch(1)
        controls.addWidget(self.counts_label)

        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumBlockCount(200)
        self.log_view.setPlaceholderText("The bot's log appears here (the token is masked).")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addLayout(controls)
        layout.addWidget(self.light)
        layout.addWidget(self.log_view, 1)

        # Counts change on the bot's thread without a listener; a slow poll keeps them current.
        self._counts_timer = QTimer(self, interval=1000)
        self._counts_timer.timeout.connect(self._show_counts)
        self._show_token_note()
        if bridge is None:
            self.start_button.setEnabled(False)
            self.stop_button.setEnabled(False)
            self._show_status(RunnerStatus("stopped", "the bot is not available here"))
            return
        bridge.statusChanged.connect(self._show_status)
        bridge.logLine.connect(self._append_line)
        self.log_view.setPlainText("\n".join(bridge.runner.log_lines()))
        self._show_status(bridge.runner.status)
        self._counts_timer.start()

    # -- actions ---------------------------------------------------------------------------------

    @Slot()
    def start_bot(self) -> None:
        """Start with the edited settings and the typed token (else the stored one); returns at once."""
        if self.bridge is None:
            return
        try:
            settings = self._settings()
        except Exception as exc:  # a bad field: say so here, the bot does not start
            self._show_status(RunnerStatus("error", str(exc)))
            return
        token = self.token_edit.text().strip() or None
        self.bridge.runner.start(settings=settings, token=token)

    @Slot()
    def stop_bot(self) -> None:
        """Ask the bot to stop without waiting; the status light says when it has."""
        if self.bridge is not None:
            self.bridge.runner.stop()

    def save_token(self) -> str | None:
        """Store a typed token in the keyring (on Save).

        Returns:
            Why it could not be stored, or None. Without a keyring the token is
            still used for this session: the runner keeps it until the app quits.
        """
        token = self.token_edit.text().strip()
        if not token:
            return None
        if self.bridge is not None:
            self.bridge.runner.configure(token=token)
        if not keyring_available():
            return "No OS keyring here: the token is used until you quit; set PHOTOTAGGER_BOT_TOKEN to keep it."
        try:
            save_token(token)
        except Exception as exc:  # a locked keyring must not lose the other settings
            return f"The token was not saved: {exc}"
        self.token_edit.clear()
        self._show_token_note()
        return None

    # -- display ---------------------------------------------------------------------------------

    def _show_token_note(self) -> None:
        stored = load_token() is not None
        if stored:
            self.token_edit.setPlaceholderText("a token is stored; type a new one to replace it")
        else:
            self.token_edit.setPlaceholderText("123456:ABC… from @BotFather")
        where = (
            "the OS keyring" if keyring_available() else "PHOTOTAGGER_BOT_TOKEN (no keyring here)"
        )
        self.token_note.setText(f"Kept in {where}; it never appears on screen or in the log.")

    @Slot(object)
    def _show_status(self, status: RunnerStatus) -> None:
        colour, word = LIGHTS.get(status.state, ("muted", status.state))
        text = f"{word} — {status.message}" if status.message else word
        self.light.setText(
            f'<span style="color:{COLORS[colour]}; font-size:14pt">●</span>&nbsp;{_escape(text)}'
        )
        self.light.setProperty("state", status.state)
        busy = status.state in ("starting", "running", "stopping")
        if self.bridge is not None:
            self.start_button.setEnabled(not busy)
            self.stop_button.setEnabled(status.state in ("starting", "running"))
        self._show_counts()

    @Slot(str)
    def _append_line(self, line: str) -> None:
        self.log_view.appendPlainText(line)

    @Slot()
    def _show_counts(self) -> None:
        if self.bridge is None:
            self.counts_label.setText("")
            return
        counts = self.bridge.runner.counts
        photos = "photo" if counts.answered == 1 else "photos"
        self.counts_label.setText(
            f"{counts.answered} {photos} answered · {counts.refused} refused"
            f" · {counts.errors} errors"
        )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
