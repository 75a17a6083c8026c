"""The people tables: faces' embeddings and persons, persons, rejections (SQL lives here).

Tables come from the store's migration ``m009_people``. Every write is one
transaction, committed before the call returns, as for every decision.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from core.errors import PhotoTaggerError
from core.store import Store

Source = Literal["confirmed", "suggested", "grouped"]
"""How a face came to its person: the user said so, the nearest named person within the
threshold (a suggestion to confirm), or grouped with other unnamed faces."""


class PeopleError(PhotoTaggerError):
    """A person or face that does not exist, or a name that cannot be given."""


@dataclass(frozen=True)
class FaceRow:
    """One stored face with what is known of its person.

    Attributes:
        box: left, top, right, bottom as fractions of the photo.
        embedding: (128,) float32, or None where the face was not embedded.
    """

    id: int
    photo_id: int
    box: tuple[float, float, float, float]
    score: float
    embedding: np.ndarray | None
    person_id: int | None
    source: Source | None
    confidence: float | None

    @property
    def area(self) -> float:
        left, top, right, bottom = self.box
        return max(right - left, 0.0) * max(bottom - top, 0.0)


@dataclass(frozen=True)
class Person:
    id: int
    name: str | None


def _face_row(row: tuple) -> FaceRow:
    """A FaceRow from ``select id, photo_id, box, score, embedding, person_id, source, confidence``."""
    fid, pid, box, score, blob, person, source, confidence = row
    return FaceRow(
        fid,
        pid,
        tuple(json.loads(box)),  # type: ignore[arg-type]
        score,
        None if blob is None else np.frombuffer(blob, dtype=np.float32),
        person,
        source,
        confidence,
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PeopleRecords:
    """Reads and writes the people tables of one store (one per thread, like the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db

    # -- reading -----------------------------------------------------------------------

    def faces(self, *, embedded_only: bool = False, person_id: int | None = None) -> list[FaceRow]:
        """Stored faces, in id order (optionally only embedded ones, or one person's)."""
        where, args = [], []
        if embedded_only:
            where.append("embedding is not null")
        if person_id is not None:
            where.append("person_id = ?")
            args.append(person_id)
        sql = (
            "select id, photo_id, box, score, embedding, person_id, source, confidence from faces"
            + (" where " + " and ".join(where) if where else "")
            + " order by id"
        )
        return [_face_row(row) for row in self.db.execute(sql, args)]

    def face(self, face_id: int) -> FaceRow:
        row = self.db.execute(
            "select id, photo_id, box, score, embedding, person_id, source, confidence"
            " from faces where id = ?",
            [face_id],
        ).fetchone()
        if row is None:
            raise PeopleError(f"no face {face_id}")
        return _face_row(row)

    def persons(self) -> list[Person]:
        return [
            Person(i, n) for i, n in self.db.execute("select id, name from persons order by id")
        ]

    def person(self, person_id: int) -> Person:
        row = self.db.execute("select id, name from persons where id = ?", [person_id]).fetchone()
        if row is None:
            raise PeopleError(f"no group {person_id}")
        return Person(*row)

    def person_named(self, name: str) -> Person | None:
        row = self.db.execute(
            "select id, name from persons where name = ? collate nocase", [name]
        ).fetchone()
        return Person(*row) if row else None

    def rejections(self) -> dict[int, set[int]]:
        """Per face, the persons it was said not to be."""
        out: dict[int, set[int]] = {}
        for face_id, person_id in self.db.execute("select face_id, person_id from face_rejections"):
            out.setdefault(face_id, set()).add(person_id)
        return out

    def photo_uris(self, photo_ids: Iterable[int]) -> dict[int, str]:
        ids = list(photo_ids)
        out: dict[int, str] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            out.update(
                self.db.execute(
                    f"select id, uri from photos where id in ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
            )
        return out

    def photo_sizes(self, photo_ids: Iterable[int]) -> dict[int, tuple[int | None, int | None]]:
        ids = list(photo_ids)
        out: dict[int, tuple[int | None, int | None]] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for pid, w, h in self.db.execute(
                f"select id, width, height from photos where id in ({','.join('?' * len(chunk))})",
                chunk,
            ):
                out[pid] = (w, h)
        return out

    # -- writing -----------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[None]:
        """One transaction that takes the write lock first (``BEGIN IMMEDIATE``).

        A deferred transaction that reads and then writes fails at once with "database
        is locked" when another connection wrote in between; taking the lock first
        waits for it (the store's busy timeout) instead. Nested, it is a savepoint.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.conn.rollback()
            raise
        self.db.conn.commit()

    def new_person(self, name: str | None = None) -> int:
        return int(
            self.db["persons"].insert({"name": name, "created_at": _now()}).last_pk  # type: ignore[arg-type]
        )

    def set_name(self, person_id: int, name: str | None) -> None:
        self.db.execute("update persons set name = ? where id = ?", [name, person_id])

    def delete_person(self, person_id: int) -> None:
        self.db.execute(
            "update faces set person_id = null, source = null, confidence = null"
            " where person_id = ?",
            [person_id],
        )
        self.db.execute("delete from face_rejections where person_id = ?", [person_id])
        self.db.execute("delete from persons where id = ?", [person_id])

    def assign(
        self, face_ids: Iterable[int], person_id: int | None, source: Source | None, confidence=None
    ) -> None:
        """Put faces in a person (None: in no one) with how they came there."""
        self.db.conn.executemany(
            "update faces set person_id = ?, source = ?, confidence = ? where id = ?",
            [(person_id, source, confidence, fid) for fid in face_ids],
        )

    def assign_many(
        self, rows: Iterable[tuple[int, int | None, Source | None, float | None]]
    ) -> None:
        """(face, person, source, confidence) rows at once."""
        self.db.conn.executemany(
            "update faces set person_id = ?, source = ?, confidence = ? where id = ?",
            [(person, source, conf, fid) for fid, person, source, conf in rows],
        )

    def reject(self, face_id: int, person_id: int) -> None:
        self.db.execute(
            "insert or ignore into face_rejections (face_id, person_id, rejected_at)"
            " values (?, ?, ?)",
            [face_id, person_id, _now()],
        )

    def move_rejections(self, source: int, target: int) -> None:
        self.db.execute(
            "insert or ignore into face_rejections (face_id, person_id, rejected_at)"
            " select face_id, ?, rejected_at from face_rejections where person_id = ?",
            [target, source],
        )
        self.db.execute("delete from face_rejections where person_id = ?", [source])

    def forget(self) -> int:
        """Delete every face, embedding, person and rejection; returns how many faces went.

        The photos' face scans go too, so a later run with faces on searches again.
        """
        count = self.db.execute("select count(*) from faces").fetchone()[0]
        for table in ("face_rejections", "faces", "face_scans", "persons"):
            self.db.execute(f"delete from {table}")
        return int(count)
