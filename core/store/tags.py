"""Suggestions (what backbones and learning say of a photo) and decisions (what a person said)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from core.engine.vocabulary import TagScore, normalise_tag
from core.errors import StoreError
from core.store.base import StoreBase, now
from core.store.states import Decision


def suggestion_rows(
    photo_id: int, suggestions: Iterable[TagScore], *, backbone: str, run_id: int | None
) -> Iterator[dict[str, object]]:
    """The ``suggestions`` rows of one photo's tag scores."""
    for s in suggestions:
        yield {
            "photo_id": photo_id,
            "backbone": backbone,
            "tag": s.tag,
            "score": s.score,
            "source": s.source,
            "run_id": run_id,
        }


class TagsStore(StoreBase):
    """Suggestions and decisions."""

    # -- suggestions -----------------------------------------------------------

    def replace_suggestions(
        self,
        photo_id: int,
        suggestions: Iterable[TagScore],
        *,
        backbone: str,
        sources: Iterable[str],
    ) -> None:
        """Swap one photo's suggestions from the given sources (refinement, heads) atomically."""
        sources = tuple(sources)
        with self._db.atomic():
            marks = ",".join("?" * len(sources))
            self._db.execute(
                f"delete from suggestions where photo_id = ? and backbone = ? and source in ({marks})",
                [photo_id, backbone, *sources],
            )
            self._db["suggestions"].insert_all(
                suggestion_rows(photo_id, suggestions, backbone=backbone, run_id=None)
            )

    def suggestions(self, photo_id: int, *, backbone: str | None = None) -> list[TagScore]:
        """One photo's stored suggestions, best first."""
        return self.suggestions_by_photo([photo_id], backbone=backbone)[photo_id]

    def suggestions_by_photo(
        self, photo_ids: Iterable[int], *, backbone: str | None = None
    ) -> dict[int, list[TagScore]]:
        """Stored suggestions of many photos, best first, in a few queries (a grid of thousands)."""
        ids = list(photo_ids)
        found: dict[int, list[TagScore]] = {pid: [] for pid in ids}
        sql = "select photo_id, tag, score, source from suggestions where photo_id in ({ids})"
        params: list[object] = []
        if backbone:
            sql += " and backbone = ?"
            params.append(backbone)
        for pid, tag, score, source in self._rows_where_in(
            sql + " order by score desc", ids, params
        ):
            found[pid].append(TagScore(tag, score, source))
        return found

    def suggestion_scores(
        self, *, backbone: str, excluding: Iterable[str] = ()
    ) -> Iterator[tuple[int, str, float]]:
        """(photo, tag, score) of every suggestion of ``backbone``, but from sources ``excluding``."""
        sources = tuple(excluding)
        sql = "select photo_id, tag, score from suggestions where backbone = ?"
        if sources:
            sql += f" and source not in ({','.join('?' * len(sources))})"
        yield from self._db.execute(sql, [backbone, *sources])

    # -- decisions ---------------------------------------------------------------

    def record_decision(
        self, photo_id: int, tag: str, action: Decision | str, *, origin: str = "cli"
    ) -> int:
        """Record and commit one decision; returns its id (for undo)."""
        try:
            action = Decision(action)
        except ValueError:
            raise StoreError(
                f"unknown decision {action!r}; use one of {', '.join(Decision)}"
            ) from None
        tag = normalise_tag(tag)
        if not tag:
            raise StoreError("a tag cannot be empty")
        return self._insert_row(
            "decisions",
            {
                "photo_id": photo_id,
                "tag": tag,
                "action": action.value,
                "origin": origin,
                "decided_at": now(),
            },
        )

    def record_decisions(
        self, photo_ids: Iterable[int], tag: str, action: Decision | str, *, origin: str
    ) -> list[int]:
        """The same decision for many photos, all or none."""
        with self._db.atomic():
            return [self.record_decision(pid, tag, action, origin=origin) for pid in photo_ids]

    def undo_decision(self, decision_id: int) -> None:
        self.undo_decisions([decision_id])

    def undo_decisions(self, decision_ids: Iterable[int]) -> None:
        """Take back decisions, all or none: the decision before each stands again."""
        with self._db.atomic():
            for decision_id in decision_ids:
                self._db.execute("delete from decisions where id = ?", [decision_id])

    def tag_states(self, photo_id: int) -> dict[str, Decision]:
        """Each tag's latest decision for a photo."""
        rows = self._db.execute(
            "select tag, action from decisions where photo_id = ? order by id", [photo_id]
        ).fetchall()
        return {tag: Decision(action) for tag, action in rows}

    def latest_decision(self, photo_id: int, tag: str) -> tuple[Decision, str] | None:
        """The latest decision on one tag of a photo, with its origin; None if never decided."""
        row = self._db.execute(
            "select action, origin from decisions where photo_id = ? and tag = ?"
            " order by id desc limit 1",
            [photo_id, tag],
        ).fetchone()
        return (Decision(row[0]), row[1]) if row else None

    def confirmed_tags(self, photo_id: int) -> list[str]:
        """Tags the user accepted or added, and has not since rejected or removed."""
        return sorted(t for t, a in self.tag_states(photo_id).items() if a.confirms)

    def all_tag_states(self) -> dict[int, dict[str, Decision]]:
        """Latest decision per (photo, tag), for every photo with decisions."""
        states: dict[int, dict[str, Decision]] = {}
        for photo_id, tag, action in self._db.execute(
            "select photo_id, tag, action from decisions order by id"
        ):
            states.setdefault(photo_id, {})[tag] = Decision(action)
        return states

    def decision_stats(self) -> tuple[int, int]:
        """How many decisions there are, and the newest one's id (0 when none)."""
        count, last = self._db.execute(
            "select count(*), coalesce(max(id), 0) from decisions"
        ).fetchone()
        return int(count), int(last)

    def user_tags(self) -> list[tuple[str, int]]:
        """Tags the user confirmed anywhere, with how many photos carry each."""
        counts: dict[str, int] = {}
        for tags in self.all_tag_states().values():
            for tag, action in tags.items():
                if action.confirms:
                    counts[tag] = counts.get(tag, 0) + 1
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
