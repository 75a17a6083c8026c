"""The heads table: learned versions' rows, its schema steps and its queries.

Each row is one learning run (:mod:`core.learning.versions` turns rows into
versions): arrays and settings as JSON and packed bytes, a status the user
changes (``kept``, ``discarded``; heads from before versions are ``retired``).
"""

from __future__ import annotations

from sqlite_utils import Database

from core.errors import StoreError
from core.store.base import StoreBase


def create_heads(db: Database) -> None:
    """Schema step ``m002_heads``: trained heads, versioned; the newest per backbone tags."""
    db["heads"].create(
        {
            "id": int,
            "backbone": str,
            "kind": str,
            "created_at": str,
            "tags": str,
            "thresholds": str,
            "metrics": str,
            "weights": bytes,
            "decisions_count": int,
            "last_decision_id": int,
        },
        pk="id",
        not_null={"backbone", "kind", "tags", "weights"},
    )
    db["heads"].create_index(["backbone", "id"])


def add_heads_view(db: Database) -> None:
    """Part of schema step ``m004_views``: how the backbone was shown the photos."""
    db["heads"].add_column("view", str)


def add_heads_versions(db: Database) -> None:
    """Schema step ``m006_learned_versions``: status, verdicts, learner and evidence.

    Heads from before have no verdicts, so they are retired rather than applied.
    """
    db["heads"].add_column("status", str)
    db["heads"].add_column("learner", str)
    db["heads"].add_column("gates", str)
    db["heads"].add_column("evidence", bytes)
    db.execute("update heads set status = 'retired'")


class HeadsStore(StoreBase):
    """Learned versions' rows."""

    def save_head(self, row: dict[str, object]) -> int:
        """Insert one head row, committed at once; returns its id."""
        return self._insert_row("heads", row)

    def head(self, head_id: int) -> dict:
        rows = list(self._db["heads"].rows_where("id = ?", [head_id]))
        if not rows:
            raise StoreError(f"no learned version {head_id}")
        return rows[0]

    def heads(self, *, backbone: str | None = None) -> list[dict]:
        """Rows of learned versions (heads from before versions left out), newest first."""
        where = "gates is not null" + (" and backbone = ?" if backbone else "")
        return list(
            self._db["heads"].rows_where(where, [backbone] if backbone else [], order_by="id desc")
        )

    def current_head(self, *, backbone: str, view: str) -> dict | None:
        """The newest kept version's row for ``backbone`` shown photos as ``view``."""
        rows = list(
            self._db["heads"].rows_where(
                "backbone = ? and view = ? and status = 'kept' and gates is not null",
                [backbone, view],
                order_by="id desc",
                limit=1,
            )
        )
        return rows[0] if rows else None

    def set_head_status(self, head_id: int, status: str) -> None:
        with self._db.atomic():
            self._db["heads"].update(head_id, {"status": status})
