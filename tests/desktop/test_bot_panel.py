"""The Telegram bot panel: started, stopped and restarted from the settings dialog, against a fake Bot API.

The window owns the runner, so the bot outlives the dialog and the window's
close stops it. Every wait is qtbot.waitUntil, which keeps the GUI thread
spinning: a panel that blocked on the bot would fail these waits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit

from tests.bot.conftest import CHAT, SECRET_PART, TOKEN, USER
from tests.bot.fake_telegram import FakeBotApi
from tests.conftest import shared
from tests.desktop.conftest import make_window

WAIT_MS = 60_000


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotApi]:
    # httpx honours proxy variables; a CI proxy must never see loopback traffic.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with FakeBotApi(token=TOKEN) as server:
        yield server


def _bot_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "telegram-bot" and t.is_alive()]


def _grab(widget, path: Path) -> None:
    QApplication.processEvents()
    widget.grab().save(str(path))


def test_panel_starts_stops_and_restarts_the_bot_and_closing_the_window_stops_it(
    qtbot, api, tagger, tmp_path, output_dir
):
    from bot.runner import BotRunner

    window = make_window(qtbot)
    runner = BotRunner(
        window.settings,
        database=tmp_path / "bot.db",
        tagger_factory=lambda config: tagger,
        poll_timeout=2.0,
    )
    window.attach_bot_runner(runner)
    dialog = window.settings_dialog()
    qtbot.addWidget(dialog)
    panel = dialog.bot_panel
    dialog.tabs.setCurrentWidget(panel)
    dialog.resize(620, 560)
    dialog.show()
    qtbot.waitExposed(dialog)

    assert panel.token_edit.echoMode() == QLineEdit.EchoMode.Password
    assert set(dialog.editors) >= {"bot_api_url", "bot_allowed_users", "bot_open_to_all"}
    assert panel.light.property("state") == "stopped"
    dialog.editors["bot_api_url"].setText(api.base_url)
    dialog.editors["bot_allowed_users"].setText(f"{USER}, 5555")
    panel.token_edit.setText(TOKEN)
    _grab(dialog, output_dir / "bot-panel-stopped.png")

    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.light.property("state") == "running", timeout=WAIT_MS)
    assert runner.state == "running"
    assert not panel.start_button.isEnabled() and panel.stop_button.isEnabled()

    api.add_photo_message(
        CHAT, USER, shared("imagenet-sample", "n02123045_tabby.JPEG").read_bytes()
    )
    qtbot.waitUntil(lambda: runner.counts.answered == 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.counts_label.text().startswith("1 photo answered"), timeout=5_000)
    qtbot.waitUntil(lambda: "running" in panel.log_view.toPlainText(), timeout=5_000)
    _grab(dialog, output_dir / "bot-panel-running.png")
    for text in (panel.log_view.toPlainText(), panel.light.text(), panel.counts_label.text()):
        assert SECRET_PART not in text

    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.light.property("state") == "stopped", timeout=WAIT_MS)
    assert panel.start_button.isEnabled()
    qtbot.waitUntil(lambda: not runner.is_running, timeout=WAIT_MS)  # 'stopped' precedes the exit

    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.light.property("state") == "running", timeout=WAIT_MS)
    assert len(api.calls("getMe")) == 2, "each start builds a fresh Application"

    dialog.reject()  # the bot belongs to the window: it keeps running without the panel
    QApplication.processEvents()
    assert runner.state == "running" and _bot_threads()
    window.close()
    assert runner.state == "stopped"
    assert not _bot_threads()


def test_panel_shows_a_start_problem_in_the_light_and_is_inert_without_a_runner(qtbot, output_dir):
    from desktop.dialogs import SettingsDialog

    window = make_window(qtbot)
    dialog = window.settings_dialog()
    qtbot.addWidget(dialog)
    panel = dialog.bot_panel
    dialog.editors["bot_allowed_users"].setText("not-a-number")
    panel.start_button.click()
    qtbot.waitUntil(lambda: panel.light.property("state") == "error", timeout=WAIT_MS)
    dialog.tabs.setCurrentWidget(panel)
    dialog.resize(620, 560)
    dialog.show()
    qtbot.waitExposed(dialog)
    _grab(dialog, output_dir / "bot-panel-error.png")
    assert "Error —" in panel.light.text(), "the light says what went wrong"

    bare = SettingsDialog(window.settings, backbones=[("efficientnet-lite0", "Lite0")])
    qtbot.addWidget(bare)
    assert not bare.bot_panel.start_button.isEnabled()
    assert not bare.bot_panel.stop_button.isEnabled()
