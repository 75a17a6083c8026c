"""Curation's tables: picks and star ratings (``ratings``) and pixel measures (``photo_quality``).

Picks, "not this one" and stars are marks on a photo, not on a tag: they have a
table of their own, so nothing that reads tag decisions (review, learning) sees
them. Like decisions they are committed at once, kept as a history (the latest
mark of each kind stands) and undone by deleting the mark.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database

from core.errors import StoreError
from core.store.base import StoreBase, now
from core.store.states import Mark

LEGACY_TAG = "★"
"""The tag under which decisions carried picks and stars before ``m010_ratings``."""


def create_quality(db: Database) -> None:
    """Part of schema step ``m003_curation``: pixel measures and the perceptual hash per version.

    They are cached per photo version (size, mtime) so curating again decodes nothing.
    """
    db["photo_quality"].create(
        {
            "photo_id": int,
            "size": int,
            "mtime": int,
            "dhash": str,
            "sharpness": float,
            "exposure": float,
            "noise": float,
            "megapixels": float,
            "jpeg_quality": float,
            "error": str,
        },
        pk="photo_id",
        foreign_keys=[("photo_id", "photos")],
    )


def move_ratings(db: Database) -> None:
    """Schema step ``m010_ratings``: a table for marks, and the "★" decisions moved into it.

    Every mark keeps its order, time and origin, so each photo's latest pick and
    rating read the same after the move; the decisions table is left with tags only.
    """
    db["ratings"].create(
        {
            "id": int,
            "photo_id": int,
            "action": str,
            "stars": int,
            "origin": str,
            "decided_at": str,
        },
        pk="id",
        foreign_keys=[("photo_id", "photos")],
        not_null={"photo_id", "action"},
    )
    db["ratings"].create_index(["photo_id"])
    db.execute(
        "insert into ratings (photo_id, action, stars, origin, decided_at)"
        " select photo_id, action, case when action = 'rate' then cast(value as integer) end,"
        " origin, decided_at from decisions where tag = ? order by id",
        [LEGACY_TAG],
    )
    db.execute("delete from decisions where tag = ?", [LEGACY_TAG])


class CurationStore(StoreBase):
    """Marks (picks, rejects, stars) and the pixel-measure cache."""

    def record_mark(
        self, photo_id: int, mark: Mark, *, stars: int | None = None, origin: str = "cli"
    ) -> int:
        """Record and commit one mark; returns its id (for undo).

        Args:
            mark: A pick, "not this one", or a rating.
            stars: The rating's stars, 1 to 5, or 0 to clear it (ratings only).
        """
        mark = Mark(mark)
        if (mark is Mark.RATE) != (stars is not None):
            raise StoreError("stars go with a rating, and only with a rating")
        if stars is not None and not 0 <= stars <= 5:
            raise StoreError(f"a rating is 0 to 5 stars, not {stars}")
        return self._insert_row(
            "ratings",
            {
                "photo_id": photo_id,
                "action": mark,
                "stars": stars,
                "origin": origin,
                "decided_at": now(),
            },
        )

    def undo_marks(self, mark_ids: Iterable[int]) -> None:
        """Take back marks, all or none: the mark before each stands again."""
        with self._db.atomic():
            for mark_id in mark_ids:
                self._db.execute("delete from ratings where id = ?", [mark_id])

    def curation_states(self) -> dict[int, tuple[bool | None, int | None]]:
        """Each marked photo's latest pick (True, False or None) and stars (None if unrated)."""
        states: dict[int, tuple[bool | None, int | None]] = {}
        for photo_id, action, stars in self._db.execute(
            "select photo_id, action, stars from ratings order by id"
        ):
            pick, rating = states.get(photo_id, (None, None))
            if action == Mark.RATE:
                rating = int(stars) if stars else None
            else:
                pick = action == Mark.PICK
            states[photo_id] = (pick, rating)
        return states

    def quality_rows(self) -> list[tuple]:
        """Every photo with its cached measures, if any.

        Rows of (id, uri, kind, size, mtime, then the cache's size, mtime, dhash,
        sharpness, exposure, noise, megapixels, jpeg_quality, error; None where
        the photo was never measured).
        """
        return self._db.execute(
            "select p.id, p.uri, p.kind, p.size, p.mtime, q.size, q.mtime, q.dhash, q.sharpness,"
            " q.exposure, q.noise, q.megapixels, q.jpeg_quality, q.error"
            " from photos p left join photo_quality q on q.photo_id = p.id"
        ).fetchall()

    def save_quality(self, rows: Iterable[dict[str, object]]) -> None:
        """Cache measures (one row per photo version, as :meth:`quality_rows` reads them) at once."""
        with self._db.atomic():
            self._db["photo_quality"].upsert_all(rows, pk="photo_id")
