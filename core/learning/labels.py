"""Importing tags a person already gave elsewhere, as decisions.

Two sources: a CSV of ``path,tags`` (tags separated by ``;``, ``,`` or ``|``;
paths absolute or relative to the CSV's folder), and the keywords already
written into photos' XMP/IPTC by Lightroom, digiKam or PhotoTagger itself.
Each imported tag becomes an ``add`` decision with its own origin, so the work
counts for refinement and training at once and can be told apart (or undone)
later. A tag already decided on a photo is left as the person last said.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from core.engine.sources import PhotoRef, file_ref
from core.engine.vocabulary import normalise_tag
from core.store import Decision, Store

TAG_SEPARATORS = re.compile(r"[;,|]")


@dataclass(frozen=True)
class ImportSummary:
    """What an import did."""

    photos: int
    decisions: int
    skipped_tags: int
    missing: tuple[str, ...] = field(default=())
    looked_at: int = 0

    def why_nothing(self, source: str) -> str | None:
        """Why no photo was imported, or None if some were."""
        if self.photos:
            return None
        if self.missing:
            return (
                f"no photo imported: the {len(self.missing)} photos named in {source} are not "
                f"there (first: {self.missing[0]}); paths are read from the CSV's own folder"
            )
        if self.looked_at:
            return (
                f"no photo imported: none of the {self.looked_at} photos has keywords "
                "(XMP dc:subject, lr:hierarchicalSubject, digiKam:TagsList, IPTC Keywords, "
                "or a .xmp sidecar)"
            )
        return f"no photo imported: {source} names no photos with tags"


def parse_tags(text: str) -> list[str]:
    """Tags from one CSV cell; hashtags, blanks and repeats tidied."""
    tags = (normalise_tag(t) for t in TAG_SEPARATORS.split(text or ""))
    return list(dict.fromkeys(t for t in tags if t))


def read_labels_csv(path: Path) -> list[tuple[Path, list[str]]]:
    """Rows of (photo path, tags) from a CSV with ``path`` and ``tags`` columns.

    A file without a header is read as path, tags. Relative paths are taken
    from the CSV's own folder, so a labels file travels with its photos.
    """
    with open(path, newline="", encoding="utf-8-sig") as fh:
        sample = fh.read(4096)
        fh.seek(0)
        has_header = "path" in sample.splitlines()[0].lower() if sample.strip() else False
        rows: Iterable[list[str]] = csv.reader(fh)
        out = []
        if has_header:
            header = [h.strip().lower() for h in next(iter(rows))]
            p_col, t_col = header.index("path"), header.index("tags")
        else:
            p_col, t_col = 0, 1
        for row in rows:
            if len(row) <= max(p_col, t_col) or not row[p_col].strip():
                continue
            photo = Path(row[p_col].strip())
            out.append(
                (photo if photo.is_absolute() else path.parent / photo, parse_tags(row[t_col]))
            )
    return out


def import_tags(
    store: Store,
    items: Iterable[tuple[PhotoRef, list[str]]],
    *,
    origin: str,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Record each photo's tags as ``add`` decisions in one transaction.

    Photos not yet in the store are registered (status ``new``) so the next
    tagging run computes their embeddings. Tags the person already decided on a
    photo keep that decision.
    """
    photos = decisions = skipped = 0
    with store.transaction():
        for ref, tags in items:
            photo_id = store.ensure_photo(ref)
            states = store.tag_states(photo_id)
            photos += 1
            for tag in tags:
                if normalise_tag(tag) in states:
                    skipped += 1
                    continue
                store.record_decision(photo_id, tag, Decision.ADD, origin=origin)
                decisions += 1
            if progress is not None:
                progress(photos)
    return ImportSummary(photos, decisions, skipped)


def import_csv(
    store: Store, path: Path, *, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """Import a ``path,tags`` CSV; photos that are not there are listed, not fatal."""
    found, missing = [], []
    for photo, tags in read_labels_csv(path):
        if photo.is_file():
            found.append((file_ref(photo), tags))
        else:
            missing.append(str(photo))
    summary = import_tags(store, found, origin="import-csv", progress=progress)
    return ImportSummary(
        summary.photos, summary.decisions, summary.skipped_tags, tuple(missing), len(found)
    )


def import_keywords(
    store: Store, refs: Iterable[PhotoRef], *, progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """Import the keywords written in local photos and their sidecars; photos without any are skipped.

    Hierarchical keywords (``animal|dog``, ``animal/dog``) keep only their last
    level, the tag itself.
    """
    from core.export.export import read_embedded_keywords

    looked_at = 0

    def items():
        nonlocal looked_at
        for ref in refs:
            if ref.path is None:
                continue
            looked_at += 1
            try:
                keywords = read_embedded_keywords(ref.path)
            except (OSError, RuntimeError):  # pyexiv2 raises RuntimeError on unreadable metadata
                continue
            tags = list(dict.fromkeys(normalise_tag(k) for k in keywords))
            if tags := [t for t in tags if t]:
                yield ref, tags

    summary = import_tags(store, items(), origin="import-keywords", progress=progress)
    return ImportSummary(summary.photos, summary.decisions, summary.skipped_tags, (), looked_at)
