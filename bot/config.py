"""What one run of the bot needs to know, resolved once from the settings and the token."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.credentials import Secret
from core.settings import Settings, database_path

TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
"""The cloud Bot API hands bots files of at most 20 MB; larger ones cannot even be fetched."""


def parse_allowed_users(text: str) -> frozenset[int]:
    """Numeric Telegram user ids from the settings field: commas, spaces or new lines apart.

    Raises:
        ValueError: Naming the first entry that is not a user id (e.g. an @username,
            which Telegram lets anyone change, so it would be no protection).
    """
    ids = set()
    for item in re.split(r"[\s,;]+", text.strip()):
        if not item:
            continue
        if not re.fullmatch(r"\d{1,20}", item):
            raise ValueError(f"{item!r} is not a numeric Telegram user id")
        ids.add(int(item))
    return frozenset(ids)


def normalise_api_url(url: str) -> str:
    """The Bot API base URL as PTB wants it, ending in ``/bot``, from any form people write.

    ``https://host``, ``https://host/``, ``https://host/bot`` and ``https://host/bot/``
    all mean the same server; PTB appends the token straight after the base.

    Raises:
        ValueError: If the URL is not an http(s) URL with a host.
    """
    text = url.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"the Bot API URL {text!r} is not an http(s) address like https://api.telegram.org"
        )
    path = parts.path.rstrip("/")
    if not path.endswith("/bot"):
        path += "/bot"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def file_url_for(api_url: str) -> str:
    """The Bot API file-download base for an API base URL (``.../bot`` -> ``.../file/bot``)."""
    base = normalise_api_url(api_url)
    return base[: -len("/bot")] + "/file/bot"


@dataclass(frozen=True)
class ChatPrefs:
    """One chat's own view of the tags: set through /settings, defaults from the app."""

    top_k: int
    threshold: float
    hashtag_style: str


@dataclass(frozen=True)
class BotConfig:
    """Everything a bot run reads; built from :class:`Settings`, never read from deep inside.

    Attributes:
        token: The bot token, masked in every repr.
        api_url: Bot API base URL (a self-hosted server, or the fake one in tests).
        allowed_users: Telegram user ids the bot answers.
        open_to_all: Answer everyone; only when the owner chose it explicitly.
        defaults: Tag count, threshold and hashtag style of a chat that set none.
        settings: The app settings (backbone, device, pixel cap) the engine is opened with.
        database: The store the bot writes photos and decisions to.
        max_file_bytes: Larger files get a polite refusal before any download.
        flood_burst: Photos a user may send at once before later ones wait their turn.
        flood_per_minute: Sustained photos per user and minute.
        inference_workers: Photos tagged at the same time (each runtime call uses threads too).
        poll_timeout: Long-poll seconds; stopping cancels a poll, so it does not delay stop.
    """

    token: Secret
    api_url: str = "https://api.telegram.org/bot"
    allowed_users: frozenset[int] = frozenset()
    open_to_all: bool = False
    defaults: ChatPrefs = ChatPrefs(top_k=8, threshold=0.2, hashtag_style="joined")
    settings: Settings = field(default_factory=Settings)
    database: Path | None = None
    max_file_bytes: int = TELEGRAM_DOWNLOAD_LIMIT
    flood_burst: int = 10
    flood_per_minute: float = 30.0
    inference_workers: int = 2
    poll_timeout: float = 10.0

    @property
    def file_url(self) -> str:
        return file_url_for(self.api_url)

    @property
    def database_path(self) -> Path:
        return self.database or database_path(self.settings)

    def allows(self, user_id: int | None) -> bool:
        """Whether this user may use the bot: on the list, or the owner opened it to all."""
        if self.open_to_all:
            return True
        return user_id is not None and user_id in self.allowed_users

    def replace(self, **changes: object) -> BotConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, token: Secret, database: Path | None = None, **extra: object
    ) -> BotConfig:
        """The bot's view of the app settings.

        Raises:
            ValueError: If the allow-list holds something that is not a user id, or the
                Bot API URL is not an http(s) address.
        """
        return cls(
            token=token,
            api_url=normalise_api_url(settings.bot_api_url),
            allowed_users=parse_allowed_users(settings.bot_allowed_users),
            open_to_all=settings.bot_open_to_all,
            defaults=ChatPrefs(settings.top_k, settings.threshold, settings.hashtag_style),
            settings=settings,
            database=database,
            **extra,  # type: ignore[arg-type]
        )
