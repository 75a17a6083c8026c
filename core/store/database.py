"""PhotoTagger's SQLite store, through sqlite-utils.

Tables: photos, runs, analyses (one per photo and backbone: the embedding, or
why it failed), suggestions, decisions, ratings (picks and stars), heads
(learned versions), photo_quality, faces, face_scans, persons, face_rejections
and chat_settings. The schema is built by sqlite-utils migrations at open
(:mod:`core.store.schema`); WAL and a busy timeout let the GUI's database
worker, the inference worker and the bot share one file. Each batch of results
is written in one transaction, and a decision is committed the moment it is
recorded. Open one :class:`Store` per thread.

The store is the only code that speaks SQL; each table family's queries live
in a module of their own, and :class:`Store` is all of them on one connection.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from core.errors import StoreError
from core.store.chats import ChatsStore
from core.store.curation import CurationStore
from core.store.heads import HeadsStore
from core.store.people import PeopleRecords
from core.store.photos import PhotosStore
from core.store.schema import STEP_NAMES, migrations
from core.store.tags import TagsStore


class Store(PhotosStore, TagsStore, CurationStore, HeadsStore, ChatsStore):
    """A connection to the PhotoTagger database. One per thread.

    Attributes:
        path: The database file (or ``:memory:``).
        people: Faces' persons, persons and rejections.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=True)
            self._db = Database(conn)
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        self.people = PeopleRecords(self._db)

    def _migrate(self) -> None:
        applied = {m.name for m in migrations.applied(self._db)}
        unknown = sorted(applied - STEP_NAMES)
        if unknown:
            raise StoreError(
                f"the database {self.path} was written by a newer PhotoTagger "
                f"(schema steps {', '.join(unknown)}); update PhotoTagger to open it"
            )
        migrations.apply(self._db)

    def checkpoint(self) -> None:
        """Fold the write-ahead log into the database file (before copying the file)."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
