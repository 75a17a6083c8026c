"""What every part of the store shares: the connection, transactions, and id lists in chunks."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlite_utils import Database
from sqlite_utils.utils import chunks

MAX_PARAMS = 900
"""Ids bound in one ``in (...)`` list: under SQLite's bound-parameter limit of old builds (999)."""


def now() -> str:
    """The time a row is written, as stored (UTC, ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class StoreBase:
    """The connection that the store's table families share (one per thread)."""

    _db: Database

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several writes as one: all are committed together, or none.

        The outermost transaction takes the write lock first (``BEGIN IMMEDIATE``):
        a deferred one that reads and then writes fails at once with "database is
        locked" when another connection wrote in between, while taking the lock
        first waits for it (the busy timeout) instead. Nested, it is a savepoint.
        """
        conn = self._db.conn
        if conn.in_transaction:
            with self._db.atomic():
                yield
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        conn.commit()

    def _insert_row(self, table: str, row: dict[str, object]) -> int:
        """Insert one row into ``table`` and commit it (a savepoint when nested); returns its id."""
        with self._db.atomic():
            return int(self._db[table].insert(row).last_pk)  # type: ignore[arg-type]

    def _rows_where_in(
        self, sql: str, ids: Iterable[int], params: Sequence[object] = ()
    ) -> Iterator[tuple]:
        """Rows of ``sql`` whose ``{ids}`` placeholder becomes a list of ``ids``, in chunks.

        sqlite-utils chunks inserts itself (``batch_size``) but has no chunked select,
        so its :func:`~sqlite_utils.utils.chunks` splits the ids here; ``params``
        follow the ids in each query.
        """
        for chunk in chunks(ids, MAX_PARAMS):
            batch = list(chunk)
            marks = ",".join("?" * len(batch))
            yield from self._db.execute(sql.format(ids=marks), [*batch, *params])
