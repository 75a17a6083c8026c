"""The bot's per-chat settings (``chat_settings``)."""

from __future__ import annotations

import json

from sqlite_utils import Database

from core.store.base import StoreBase, now


def create_chat_settings(db: Database) -> None:
    """Schema step ``m008_chat_settings``: each chat's /settings as JSON.

    JSON, so that a new setting needs no migration; they outlive a restart of the bot.
    """
    db["chat_settings"].create(
        {"chat_id": int, "settings": str, "updated": str}, pk="chat_id", if_not_exists=True
    )


class ChatsStore(StoreBase):
    """Telegram chats' own settings."""

    def chat_settings(self) -> dict[int, dict[str, object]]:
        """Each Telegram chat's own settings, as the bot stored them, by chat id."""
        rows = self._db.execute("select chat_id, settings from chat_settings").fetchall()
        return {int(chat): json.loads(values) for chat, values in rows}

    def save_chat_settings(self, chat_id: int, values: dict[str, object]) -> None:
        """Store one chat's settings (replacing what it had), committed at once."""
        with self._db.atomic():
            self._db["chat_settings"].upsert(
                {"chat_id": chat_id, "settings": json.dumps(values), "updated": now()},
                pk="chat_id",
            )
