"""The database worker's jobs: plain functions of a Store, run off the GUI thread.

Each returns plain data (lists of :class:`PhotoUpdate`, ids, counts) that the
window applies on the GUI thread. Keeping them Qt-free keeps them testable and
keeps the window's code about the window.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from core.curation.curate import rejected_photos
from core.engine.backbones import Availability
from core.engine.sources import PhotoRef, collect, iter_folder
from core.export.export import export_rows, write_csv, write_json, write_keyword_files
from core.export.metadata import KeywordReport
from core.learning.review import photo_tags_many
from core.store import Decision, PhotoStatus, Store
from desktop.tagging import PhotoUpdate


def scan_folder(_store: Store, folder: Path) -> list[PhotoRef]:
    return list(iter_folder(folder))


def scan_inputs(_store: Store, inputs: list[str]) -> list[PhotoRef]:
    """Dropped files and folders; ones that vanished meanwhile are skipped."""
    refs: list[PhotoRef] = []
    for item in inputs:
        try:
            refs.extend(collect([item]))
        except FileNotFoundError:
            continue
    return refs


def load_updates(
    store: Store,
    photo_ids: dict[str, int],
    *,
    threshold: float,
    top_k: int,
    refs: dict[str, PhotoRef] | None = None,
    look_up_rejects: bool = True,
) -> list[PhotoUpdate]:
    """Status, failure reason and tags (rejected ones included) of the given photos.

    The one place a :class:`PhotoUpdate` is made, in a few queries for all the
    photos: after a folder is read, a decision, and each batch of a tagging run.

    Args:
        photo_ids: Photo id by URI, in the order the updates come back.
        refs: The file as a tagging run found it, by URI (a new version).
        look_up_rejects: Whether to say which photos are marked "not this one";
            without, ``rejected`` is None (left as it was).
    """
    ids = list(photo_ids.values())
    tags = photo_tags_many(store, ids, threshold=threshold, top_k=top_k, include_rejected=True)
    rows = {pid: (row.status, row.error) for pid, row in store.photos_by_id(ids).items()}
    rejects = rejected_photos(store) if look_up_rejects else None
    refs = refs or {}
    return [
        PhotoUpdate(
            uri,
            pid,
            *rows.get(pid, (PhotoStatus.NEW, None)),
            tuple(tags.get(pid, ())),
            refs.get(uri),
            rejected=None if rejects is None else pid in rejects,
        )
        for uri, pid in photo_ids.items()
    ]


def register_refs(
    store: Store, refs: list[PhotoRef], *, threshold: float, top_k: int
) -> list[PhotoUpdate]:
    """Give every photo of a folder an id (so decisions can be made) and load what is known."""
    ids = store.add_photos(refs)
    return load_updates(
        store,
        {ref.uri: pid for ref, pid in zip(refs, ids, strict=True)},
        threshold=threshold,
        top_k=top_k,
    )


def decide(
    store: Store,
    photos: dict[str, int],
    tag: str,
    action: Decision,
    *,
    threshold: float,
    top_k: int,
) -> tuple[list[int], list[PhotoUpdate]]:
    """Record one decision for every photo (all or none) and return their new tags."""
    decision_ids = store.record_decisions(photos.values(), tag, action, origin="gui")
    return decision_ids, load_updates(store, photos, threshold=threshold, top_k=top_k)


def undo(
    store: Store,
    decision_ids: Iterable[int],
    photos: dict[str, int],
    *,
    threshold: float,
    top_k: int,
) -> list[PhotoUpdate]:
    store.undo_decisions(decision_ids)
    return load_updates(store, photos, threshold=threshold, top_k=top_k)


def export(
    store: Store,
    path: Path,
    *,
    fmt: str,
    scope: str,
    uris: list[str],
    threshold: float,
    top_k: int,
    style: str,
) -> int:
    rows = export_rows(store, scope=scope, threshold=threshold, top_k=top_k, uris=uris)  # type: ignore[arg-type]
    writer = write_csv if fmt == "csv" else write_json
    return writer(rows, path, style=style)


def export_keywords(
    store: Store,
    *,
    uris: list[str],
    scope: str,
    min_score: float,
    top_k: int,
    embed: bool,
    sidecar_name: str,
    progress: Callable[[int, int], None] | None = None,
) -> KeywordReport:
    """Merge the photos' keywords into XMP sidecars, or into the JPEGs themselves."""
    from core.engine.vocabulary import Vocabulary

    rows = export_rows(store, scope=scope, threshold=min_score, top_k=top_k, uris=uris)  # type: ignore[arg-type]
    return write_keyword_files(
        rows,
        vocabulary=Vocabulary.bundled(),
        sidecars=not embed,
        embed=embed,
        naming=sidecar_name,  # type: ignore[arg-type]
        store=store,
        progress=progress,
    )


def completions(store: Store) -> list[str]:
    """Tags for the add-tag completer: the user's own first (most used), then the vocabulary."""
    from core.engine.vocabulary import Vocabulary

    own = [tag for tag, _count in store.user_tags()]
    return list(dict.fromkeys([*own, *Vocabulary.bundled().all_tags]))


def backbone_notes(_store: Store) -> list[tuple[str, str, Availability]]:
    """(name, display name, availability) per backbone; may look in the hub cache."""
    from core.engine.backbones import availability, list_backbones

    return [(s.name, s.display_name, availability(s)) for s in list_backbones()]


def discard_learned(store: Store, *, backbone: str, version_id: int) -> int:
    """Discard a learned version and restore every photo's suggestions from before it."""
    from core.learning.learned import apply_learned
    from core.learning.versions import set_status

    set_status(store, version_id, "discarded")
    return apply_learned(store, backbone=backbone)
