"""Bot fixtures: the fake Bot API, and a BotRunner aimed at it with the session's real tagger."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.bot.fake_telegram import FakeBotApi

TOKEN = "123456:AAH-TestSecretPart_0123456789abcdefghijk"
"""Shaped like a real token, so its secret half is long enough to be redacted on its own."""
SECRET_PART = TOKEN.split(":", 1)[1]
USER = CHAT = 4242
STRANGER = 777


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx honours proxy variables; a CI proxy must never see loopback traffic."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    with FakeBotApi(token=TOKEN) as server:
        yield server


@pytest.fixture
def make_runner(api: FakeBotApi, tagger, tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Builds BotRunners on the fake server; each is closed at the end of the test."""
    from bot.runner import BotRunner
    from core.settings import Settings

    made: list[BotRunner] = []

    def make(*, start: bool = True, token: str = TOKEN, **overrides: object) -> BotRunner:
        settings = Settings(bot_api_url=api.base_url, bot_allowed_users=f"{USER}, 5555")
        for name in ("threshold", "top_k", "hashtag_style", "bot_open_to_all", "bot_api_url"):
            if name in overrides:
                settings = settings.replace(**{name: overrides.pop(name)})
        runner = BotRunner(
            settings,
            token=token,
            database=tmp_path / "bot.db",
            tagger_factory=lambda config: tagger,
            poll_timeout=2.0,
            **overrides,
        )
        made.append(runner)
        if start:
            runner.start()
            assert runner.wait_for_state("running", "error", timeout=30), runner.status
            assert runner.state == "running", runner.status
        return runner

    yield make
    for runner in made:
        assert runner.close(timeout=10), "the bot thread did not stop"
