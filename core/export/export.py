"""Exporting tags: CSV and JSON files, XMP sidecars, and keywords inside the photo files.

CSV and JSON go through :mod:`core.export.tables` (RFC 4180, UTF-8 with a
byte-order mark, formula-safe cells, files replaced atomically). Keywords go into
sidecars and photos through :mod:`core.export.metadata`, which merges them with what
is there and never removes a keyword PhotoTagger did not write.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Literal

from core.engine.sources import is_url
from core.engine.vocabulary import Vocabulary, hashtag
from core.export.metadata import (
    SIDECAR_NAMINGS,
    KeywordChange,
    KeywordReport,
    SidecarNaming,
    sidecar_path,
    write_keywords,
)
from core.export.tables import write_csv_table, write_json_table
from core.export.xmp import HIERARCHY, SUBJECT, TAGS_LIST, XmpError, get_list, parse_xmp
from core.learning.review import PhotoTag, photo_tags_many
from core.people.naming import person_names
from core.people.regions import PhotoPeople, people_in_photos, person_path
from core.store import Decision, Store

Scope = Literal["confirmed", "suggested"]
CSV_COLUMNS = ("location", "status", "hashtags", "tags", "error")
RETRACTING = (Decision.REJECT, Decision.REMOVE)
BATCH = 500
"""Photos read per batch while exporting: a few queries each, not a few per photo."""


@dataclass(frozen=True)
class ExportRow:
    location: str
    status: str
    tags: tuple[PhotoTag, ...]
    error: str
    retracted: frozenset[str] = frozenset()

    def hashtags(self, style: str = "joined") -> str:
        return " ".join(h for h in (hashtag(t.tag, style=style) for t in self.tags) if h)

    def scored(self) -> str:
        return "; ".join(
            (f"{t.tag}:{t.score:.3f}" if t.score is not None else t.tag)
            + (" (low confidence)" if t.low_confidence else "")
            for t in self.tags
        )


def export_rows(
    store: Store,
    *,
    scope: Scope = "suggested",
    threshold: float = 0.2,
    top_k: int = 8,
    backbone: str | None = None,
    uri_prefix: str | None = None,
    uris: list[str] | None = None,
) -> Iterator[ExportRow]:
    """One row per photo: confirmed tags, plus suggestions over threshold if ``scope`` says so.

    Each row also carries the tags the person rejected or removed, which a
    keyword export takes out of files where PhotoTagger wrote them.

    ``uris`` limits the export to those photos, in that order (the CLI's ``tag --csv``).
    Photos are read in batches (:data:`BATCH` at a time), a few queries each.
    """
    photos = (
        store.photos(uri_prefix=uri_prefix) if uris is None else iter(store.photos_with_uris(uris))
    )
    states = store.all_tag_states()
    while batch := list(islice(photos, BATCH)):
        tags = photo_tags_many(
            store,
            [photo.id for photo in batch],
            threshold=threshold,
            top_k=top_k,
            backbone=backbone,
            states=states,
        )
        for photo in batch:
            chosen = tags[photo.id]
            if scope == "confirmed":
                chosen = [t for t in chosen if t.confirmed]
            retracted = frozenset(
                tag for tag, action in states.get(photo.id, {}).items() if action in RETRACTING
            )
            yield ExportRow(photo.uri, photo.status, tuple(chosen), photo.error or "", retracted)


def write_csv(rows: Iterable[ExportRow], path: Path, *, style: str = "joined") -> int:
    """Write rows to ``path`` as CSV (replaced atomically); returns how many were written."""
    return write_csv_table(
        (
            {
                "location": row.location,
                "status": row.status,
                "hashtags": row.hashtags(style),
                "tags": row.scored(),
                "error": row.error,
            }
            for row in rows
        ),
        path,
        columns=CSV_COLUMNS,
    )


def write_json(rows: Iterable[ExportRow], path: Path, *, style: str = "joined") -> int:
    """Write rows to ``path`` as JSON (replaced atomically); returns how many were written."""
    return write_json_table(
        (
            {
                "location": r.location,
                "status": r.status,
                "hashtags": r.hashtags(style).split(),
                "tags": [
                    {
                        "tag": t.tag,
                        "score": t.score,
                        "source": t.source,
                        "state": t.state,
                        "low_confidence": t.low_confidence,
                    }
                    for t in r.tags
                ],
                "error": r.error or None,
            }
            for r in rows
        ),
        path,
    )


def keyword_change(
    row: ExportRow,
    vocabulary: Vocabulary,
    *,
    people: PhotoPeople | None = None,
    names: frozenset[str] = frozenset(),
) -> KeywordChange:
    """What a row asks of the photo's metadata: its tags, their paths, its rejected tags.

    Low-confidence guesses stay out of a photo's keywords. A person's name (one of
    ``names``) goes under ``People``; with ``names``, the photo's named faces
    (``people``, none if None) become its PhotoTagger face regions.
    """
    tags = [t for t in row.tags if not t.low_confidence]
    paths = (
        person_path(t.tag) if t.tag in names else vocabulary.hierarchy_path(t.tag) for t in tags
    )
    return KeywordChange(
        keywords=tuple(t.tag for t in tags),
        paths=tuple(dict.fromkeys(paths)),
        retract=row.retracted,
        regions=(people.regions if people else ()) if names else None,
        size=people.size if people else None,
    )


def write_keyword_files(
    rows: Iterable[ExportRow],
    *,
    vocabulary: Vocabulary,
    sidecars: bool,
    embed: bool,
    naming: SidecarNaming = "photo.jpg.xmp",
    store: Store | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> KeywordReport:
    """Merge each local photo's keywords into its XMP sidecar and/or into the JPEG itself.

    Photos given by URL are left out. With ``store``, a photo rewritten by
    ``embed`` keeps its analyses (see :meth:`Store.note_metadata_written`).
    """

    def rewritten(photo: Path, before: os.stat_result, after: os.stat_result) -> None:
        if store is not None:
            store.note_metadata_written(
                str(photo),
                before=(before.st_size, before.st_mtime_ns),
                after=(after.st_size, after.st_mtime_ns),
            )

    rows = [row for row in rows if not is_url(row.location)]
    names: frozenset[str] = frozenset()
    people: dict[str, PhotoPeople] = {}
    if store is not None:
        names = person_names(store)
        people = people_in_photos(store, [row.location for row in rows]) if names else {}
    items = [
        (
            Path(row.location),
            keyword_change(row, vocabulary, people=people.get(row.location), names=names),
        )
        for row in rows
    ]
    return write_keywords(
        items,
        sidecars=sidecars,
        embed=embed,
        naming=naming,
        on_rewritten=rewritten,
        progress=progress,
        cancel=cancel,
    )


def read_embedded_keywords(path: Path) -> list[str]:
    """Tags already given to a photo, in its own metadata or its sidecar, for importing.

    Read from the photo's XMP dc:subject, lr:hierarchicalSubject (``a|b``) and
    digiKam:TagsList (``a/b``) and its IPTC Keywords, and the same XMP lists of a
    ``photo.jpg.xmp`` or ``photo.xmp`` sidecar beside it. A hierarchical keyword
    gives its last level, the tag itself.

    Raises:
        OSError: If the photo cannot be read.
        RuntimeError: From exiv2, for metadata it cannot read.
    """
    import pyexiv2

    with pyexiv2.Image(str(path)) as image:
        xmp = image.read_xmp()
        iptc = image.read_iptc()

    def values(value: str | list[str] | None) -> list[str]:
        return [value] if isinstance(value, str) else list(value or [])

    flat = values(xmp.get("Xmp.dc.subject")) + values(iptc.get("Iptc.Application2.Keywords"))
    piped = values(xmp.get("Xmp.lr.hierarchicalSubject"))
    slashed = values(xmp.get("Xmp.digiKam.TagsList"))
    for naming in SIDECAR_NAMINGS:
        sidecar = sidecar_path(path, naming)
        if sidecar.is_file() and sidecar != path:
            try:
                root = parse_xmp(sidecar.read_bytes())
            except XmpError:
                continue
            flat += get_list(root, SUBJECT)
            piped += get_list(root, HIERARCHY)
            slashed += get_list(root, TAGS_LIST)
    found = flat + [p.split("|")[-1] for p in piped] + [p.split("/")[-1] for p in slashed]
    return list(dict.fromkeys(k.strip() for k in found if k.strip()))
