"""Curating an album: the user's picks and stars, the album's embeddings, highlights out.

The work itself lives in :mod:`core.curation.dupes` (near-duplicates and bursts),
:mod:`core.curation.groups` (visual groups) and :mod:`core.curation.highlights` (best-of); this
module holds what they share with the store and the file system.

Picks, "not this one" and star ratings are marks on a photo, kept in a table of
their own (not among tag decisions, so review and tag learning never count them):
like decisions they are committed at once, undone the same way, and ``best``
learns from them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from core.errors import PhotoTaggerError
from core.export import tables
from core.export.tables import TableFormat
from core.store import Mark, Store

LinkMode = Literal["copy", "link"]


def record_pick(store: Store, photo_id: int, *, picked: bool = True, origin: str = "cli") -> int:
    """Record that the user picked a photo (or said "not this one"); returns the mark's id."""
    return store.record_mark(photo_id, Mark.PICK if picked else Mark.UNPICK, origin=origin)


def record_rating(store: Store, photo_id: int, *, stars: int, origin: str = "cli") -> int:
    """Record a star rating, 1 to 5, or 0 to clear it; returns the mark's id."""
    if not 0 <= stars <= 5:
        raise PhotoTaggerError(f"a rating is 0 to 5 stars, not {stars}")
    return store.record_mark(photo_id, Mark.RATE, stars=stars, origin=origin)


def curation_states(store: Store) -> dict[int, tuple[bool | None, int | None]]:
    """Each photo's latest pick state (True, False or None) and star rating (None if unrated)."""
    return store.curation_states()


def picked_photos(store: Store) -> set[int]:
    """Photos whose latest pick decision is a pick."""
    return {pid for pid, (pick, _) in curation_states(store).items() if pick}


def preference_labels(store: Store) -> dict[int, float]:
    """What the user said about each photo they judged, as a target in 0..1.

    A pick is 1 and "not this one" 0; stars map 1..5 to 0..1; a photo with
    both gets their mean.
    """
    labels = {}
    for pid, (pick, stars) in curation_states(store).items():
        signals = ([] if pick is None else [float(pick)]) + (
            [] if stars is None else [(stars - 1) / 4]
        )
        if signals:
            labels[pid] = sum(signals) / len(signals)
    return labels


def rejected_photos(store: Store) -> set[int]:
    """Photos whose latest pick decision is "not this one" (a reject, shown by the Rejects filter)."""
    return {pid for pid, (pick, _) in curation_states(store).items() if pick is False}


def mark_rejects(store: Store, photo_ids: list[int], *, origin: str = "cli") -> list[int]:
    """Mark photos as rejects, all or none; returns the marks' ids (to undo them).

    A reject deletes nothing: it is a decision like a tag's, shown by a filter
    and taken back by :func:`undo_marks`.
    """
    with store.transaction():
        return [record_pick(store, pid, picked=False, origin=origin) for pid in photo_ids]


def undo_marks(store: Store, mark_ids: list[int]) -> None:
    """Take back marks (picks, rejects or ratings), all or none."""
    store.undo_marks(mark_ids)


def album_ids(store: Store, *, uri_prefix: str | None = None) -> list[int]:
    """The ids of an album: photos whose location starts with ``uri_prefix`` (all if None)."""
    return [p.id for p in store.photos(uri_prefix=uri_prefix)]


def album_embeddings(
    store: Store, *, backbone: str, photo_ids: Iterable[int] | None = None
) -> tuple[list[int], np.ndarray]:
    """Ids and embeddings of the album's photos that ``backbone`` has embedded."""
    ids, matrix = store.embeddings(backbone=backbone)
    if photo_ids is None:
        return ids, matrix
    wanted = set(photo_ids)
    rows = [k for k, pid in enumerate(ids) if pid in wanted]
    return [ids[k] for k in rows], matrix[rows] if rows else matrix[:0]


@dataclass(frozen=True)
class Placed:
    """One highlight written to the output folder."""

    photo_id: int
    source: Path
    target: Path


def place_photos(
    store: Store, photo_ids: list[int], folder: Path, *, mode: LinkMode = "copy"
) -> list[Placed]:
    """Copy or link photos into ``folder``, numbered in the given order.

    Originals are never moved, changed or deleted, and no existing file in
    ``folder`` is overwritten: a taken name gets a ``-2``, ``-3``... suffix.
    Photos that are not local files (URLs, Telegram) are skipped.
    """
    folder.mkdir(parents=True, exist_ok=True)
    width = len(str(len(photo_ids)))
    placed = []
    for rank, pid in enumerate(photo_ids, 1):
        row = store.photo(pid)
        source = Path(row.uri)
        if row.kind != "file" or not source.is_file():
            continue
        target = _place(source, folder, f"{rank:0{width}d}-{source.stem}", source.suffix, mode)
        placed.append(Placed(pid, source, target))
    return placed


def _place(source: Path, folder: Path, stem: str, suffix: str, mode: LinkMode) -> Path:
    for attempt in range(1, 10_000):
        target = folder / (f"{stem}{suffix}" if attempt == 1 else f"{stem}-{attempt}{suffix}")
        try:
            if mode == "link":
                os.symlink(source.resolve(), target)
            else:
                # Exclusive creation: the check for a free name and the write are one step.
                with open(source, "rb") as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst)
                shutil.copystat(source, target)
            return target
        except FileExistsError:
            continue
    raise PhotoTaggerError(f"no free file name for {source.name} in {folder}")


def write_table(rows: list[dict], path: Path, *, fmt: TableFormat) -> int:
    """Write curation results (one dict per row, same keys) as CSV or JSON; returns the row count.

    Through the one table writer (:mod:`core.export.tables`): CSV in UTF-8 with
    a byte-order mark and formula-safe cells, like tag exports.
    """
    return tables.write_table(rows, path, columns=list(rows[0]) if rows else [], fmt=fmt)
