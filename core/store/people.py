"""The people tables: faces' persons, persons, rejections (``Store.people``).

Tables come from the schema step ``m009_people``. Writes join the caller's
transaction: wrap a change of several in ``with store.transaction():`` so it is
committed as one, before the call returns, as every decision is.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sqlite_utils import Database

from core.errors import PhotoTaggerError
from core.store.base import now

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


class PeopleRecords:
    """Reads and writes the people tables of one store (``Store.people``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
        return [_face_row(row) for row in self._db.execute(sql, args)]

    def face(self, face_id: int) -> FaceRow:
        row = self._db.execute(
            "select id, photo_id, box, score, embedding, person_id, source, confidence"
            " from faces where id = ?",
            [face_id],
        ).fetchone()
        if row is None:
            raise PeopleError(f"no face {face_id}")
        return _face_row(row)

    def persons(self) -> list[Person]:
        return [
            Person(i, n) for i, n in self._db.execute("select id, name from persons order by id")
        ]

    def person(self, person_id: int) -> Person:
        row = self._db.execute("select id, name from persons where id = ?", [person_id]).fetchone()
        if row is None:
            raise PeopleError(f"no group {person_id}")
        return Person(*row)

    def person_named(self, name: str) -> Person | None:
        row = self._db.execute(
            "select id, name from persons where name = ? collate nocase", [name]
        ).fetchone()
        return Person(*row) if row else None

    def rejections(self) -> dict[int, set[int]]:
        """Per face, the persons it was said not to be."""
        out: dict[int, set[int]] = {}
        for face_id, person_id in self._db.execute(
            "select face_id, person_id from face_rejections"
        ):
            out.setdefault(face_id, set()).add(person_id)
        return out

    # -- writing -----------------------------------------------------------------------

    def new_person(self, name: str | None = None) -> int:
        return int(
            self._db["persons"].insert({"name": name, "created_at": now()}).last_pk  # type: ignore[arg-type]
        )

    def set_name(self, person_id: int, name: str | None) -> None:
        self._db.execute("update persons set name = ? where id = ?", [name, person_id])

    def delete_person(self, person_id: int) -> None:
        self._db.execute(
            "update faces set person_id = null, source = null, confidence = null"
            " where person_id = ?",
            [person_id],
        )
        self._db.execute("delete from face_rejections where person_id = ?", [person_id])
        self._db.execute("delete from persons where id = ?", [person_id])

    def assign(
        self, face_ids: Iterable[int], person_id: int | None, source: Source | None, confidence=None
    ) -> None:
        """Put faces in a person (None: in no one) with how they came there."""
        self._db.conn.executemany(
            "update faces set person_id = ?, source = ?, confidence = ? where id = ?",
            [(person_id, source, confidence, fid) for fid in face_ids],
        )

    def assign_many(
        self, rows: Iterable[tuple[int, int | None, Source | None, float | None]]
    ) -> None:
        """(face, person, source, confidence) rows at once."""
        self._db.conn.executemany(
            "update faces set person_id = ?, source = ?, confidence = ? where id = ?",
            [(person, source, conf, fid) for fid, person, source, conf in rows],
        )

    def reject(self, face_id: int, person_id: int) -> None:
        self._db.execute(
            "insert or ignore into face_rejections (face_id, person_id, rejected_at)"
            " values (?, ?, ?)",
            [face_id, person_id, now()],
        )

    def unreject(self, face_id: int, person_id: int) -> None:
        """Take back that a face is not a person (the user now says it is)."""
        self._db.execute(
            "delete from face_rejections where face_id = ? and person_id = ?", [face_id, person_id]
        )

    def drop_empty_unnamed(self) -> None:
        """Delete unnamed groups left without faces, with their rejections."""
        # A rejection from a group that is gone means nothing any more; its id may be reused.
        empty = (
            "select id from persons where name is null and id not in"
            " (select person_id from faces where person_id is not null)"
        )
        self._db.execute(f"delete from face_rejections where person_id in ({empty})")
        self._db.execute(f"delete from persons where id in ({empty})")

    def unnamed_group_count(self) -> int:
        """Unnamed groups that hold at least one face."""
        return int(
            self._db.execute(
                "select count(*) from persons where name is null and id in"
                " (select person_id from faces where person_id is not null)"
            ).fetchone()[0]
        )

    def move_rejections(self, source: int, target: int) -> None:
        self._db.execute(
            "insert or ignore into face_rejections (face_id, person_id, rejected_at)"
            " select face_id, ?, rejected_at from face_rejections where person_id = ?",
            [target, source],
        )
        self._db.execute("delete from face_rejections where person_id = ?", [source])

    def forget(self) -> int:
        """Delete every face, embedding, person and rejection; returns how many faces went.

        The photos' face scans go too, so a later run with faces on searches again.
        """
        count = self._db.execute("select count(*) from faces").fetchone()[0]
        for table in ("face_rejections", "faces", "face_scans", "persons"):
            self._db.execute(f"delete from {table}")
        return int(count)
