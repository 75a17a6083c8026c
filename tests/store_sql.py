"""Raw SQL on a store, for tests that check what was written row by row.

Product code reaches the database through the store's methods only; a test may
look underneath to prove that those methods wrote what they say.
"""

from __future__ import annotations

import sqlite3

from core.store import Store


def sql(store: Store, query: str, params: list | tuple = ()) -> sqlite3.Cursor:
    """Run ``query`` on the store's own connection (inside its current transaction, if any)."""
    return store._db.execute(query, list(params))


def count(store: Store, table: str) -> int:
    """How many rows ``table`` holds."""
    return int(store._db[table].count)
