"""BotRunner's life cycle from other threads, and the token's secrecy everywhere it could leak."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import keyring
import pytest
from keyring.backend import KeyringBackend

from bot import credentials
from bot.credentials import Secret, load_token, save_token
from bot.runner import BotRunner
from core.settings import Settings
from tests.bot.conftest import CHAT, SECRET_PART, TOKEN, USER
from tests.conftest import shared


def test_stop_and_restart_three_times_from_another_thread(api, make_runner) -> None:
    runner = make_runner(start=False)
    seen: list[str] = []
    runner.add_listener(lambda status: seen.append(status.state))
    outcome: list[object] = []

    def gui_thread() -> None:
        try:
            for round_ in range(1, 4):
                runner.start()
                assert runner.wait_for_state("running", timeout=30), runner.status
                api.add_text_message(CHAT, USER, "/help")
                api.wait_for("sendMessage", count=round_, timeout=30)
                assert runner.stop(wait=True, timeout=10)
                assert runner.state == "stopped" and not runner.is_running
            outcome.append("ok")
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=gui_thread)
    worker.start()
    worker.join(timeout=60)
    assert outcome == ["ok"]
    assert seen == ["starting", "running", "stopping", "stopped"] * 3
    assert not [t for t in threading.enumerate() if t.name == "telegram-bot"]
    assert len(api.calls("getMe")) == 3, "each start builds a fresh Application"


def test_stop_while_starting_and_repeated_stops_are_harmless(make_runner) -> None:
    runner = make_runner(start=False)
    runner.start()
    runner.start()  # idempotent while running or starting
    assert runner.stop(wait=True, timeout=10)
    assert runner.stop(wait=True) and runner.stop()
    assert runner.state == "stopped"


def test_stopping_a_bot_whose_loop_just_closed_is_harmless(api, make_runner, monkeypatch) -> None:
    """A bot that stopped on an error closes its loop while its thread still runs.

    A stop in that moment (the window closing, a test's teardown) once raised
    "Event loop is closed"; the moment is stretched here so it always happens.
    """
    closed = threading.Event()
    unset = asyncio.set_event_loop

    def slowly_unset(loop: asyncio.AbstractEventLoop | None) -> None:
        unset(loop)
        if loop is None and threading.current_thread().name == "telegram-bot":
            closed.set()
            time.sleep(0.5)

    monkeypatch.setattr(asyncio, "set_event_loop", slowly_unset)
    wrong = make_runner(start=False, token="999:WRONG-token-never-to-be-shown")
    wrong.start()
    assert closed.wait(30), "the bot thread never closed its loop"
    assert wrong.state == "error"
    assert wrong.stop(wait=True, timeout=10)
    assert wrong.state == "error"


def test_logs_status_and_repr_never_show_the_token(api, make_runner, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    runner = make_runner()
    api.add_photo_message(
        CHAT, USER, shared("imagenet-sample", "n02123045_tabby.JPEG").read_bytes()
    )
    api.wait_for("sendMessage", timeout=30)
    logging.getLogger("bot.test").error("leak attempt %s", TOKEN)
    try:
        raise RuntimeError(f"https://api.telegram.org/bot{TOKEN}/getMe failed")
    except RuntimeError:
        logging.getLogger("bot.test").exception("request failed")
    runner.stop(wait=True)

    wrong = make_runner(start=False, token="999:WRONG-token-never-to-be-shown")
    wrong.start()
    assert wrong.wait_for_state("error", timeout=30)

    texts = [caplog.text, *runner.log_lines(), *wrong.log_lines(), repr(runner)]
    texts += [wrong.status.message, repr(Secret(TOKEN)), f"{Secret(TOKEN)}", str(Secret(TOKEN))]
    assert any("httpx" in r.name for r in caplog.records), "httpx logged its URLs"
    assert any("getMe" in r.getMessage() for r in caplog.records)
    for text in texts:
        assert SECRET_PART not in text and "WRONG-token-never" not in text
    assert "refused the bot token" in wrong.status.message
    assert "leak attempt ********" in caplog.text
    assert any("is running" in line for line in runner.log_lines())


def test_missing_token_and_bad_allow_list_are_errors_not_crashes(api, monkeypatch) -> None:
    monkeypatch.setattr(credentials, "_keyring", lambda: None)
    runner = BotRunner(Settings(bot_api_url=api.base_url))
    runner.start()
    assert runner.state == "error" and "no bot token" in runner.status.message
    runner.start(settings=Settings(bot_allowed_users="12, @someone"), token=TOKEN)
    assert runner.state == "error" and "'@someone' is not a numeric" in runner.status.message
    assert runner.close()


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.values.pop((service, username), None)


@pytest.fixture
def memory_keyring():
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_token_from_keyring_first_then_environment(memory_keyring, monkeypatch) -> None:
    monkeypatch.setenv("PHOTOTAGGER_BOT_TOKEN", "1:from-environment-variable")
    assert load_token().reveal() == "1:from-environment-variable"
    save_token(TOKEN)
    assert memory_keyring.values[("PhotoTagger", "telegram-bot-token")] == TOKEN
    token = load_token()
    assert token == Secret(TOKEN) and token.looks_valid
    assert token.masked() == "123456:********" and SECRET_PART not in repr(token)
    credentials.delete_token()
    assert load_token().reveal() == "1:from-environment-variable"


def test_no_keyring_falls_back_to_environment(monkeypatch) -> None:
    monkeypatch.setattr(credentials, "_keyring", lambda: None)
    monkeypatch.delenv("PHOTOTAGGER_BOT_TOKEN", raising=False)
    assert load_token() is None
    with pytest.raises(RuntimeError, match="PHOTOTAGGER_BOT_TOKEN"):
        save_token(TOKEN)
