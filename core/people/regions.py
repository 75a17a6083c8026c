"""Named faces for the photos' metadata: keywords under ``People`` and MWG face regions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.people.naming import PEOPLE_KEYWORD
from core.people.records import PeopleRecords
from core.store import Store
from core.xmp import FaceRegion


@dataclass(frozen=True)
class PhotoPeople:
    """The named people of one photo, as its metadata should show them.

    Attributes:
        regions: One region per confirmed face of a named person.
        size: The photo's width and height in pixels, where known.
    """

    regions: tuple[FaceRegion, ...]
    size: tuple[int, int] | None


def person_path(name: str) -> tuple[str, ...]:
    """A person's hierarchical keyword: ``People|Anna``."""
    return (PEOPLE_KEYWORD, name)


def people_in_photos(store: Store, uris: Iterable[str]) -> dict[str, PhotoPeople]:
    """For each photo (by location), its confirmed named faces; photos without any are left out."""
    records = PeopleRecords(store)
    names = {p.id: p.name for p in records.persons() if p.name}
    wanted = {uri: store.photo_id(uri) for uri in uris}
    ids = {pid for pid in wanted.values() if pid is not None}
    regions: dict[int, list[FaceRegion]] = {}
    for face in records.faces():
        if face.photo_id in ids and face.source == "confirmed" and face.person_id in names:
            region = FaceRegion.from_box(names[face.person_id], face.box)  # type: ignore[arg-type]
            regions.setdefault(face.photo_id, []).append(region)
    sizes = records.photo_sizes(regions)
    out = {}
    for uri, pid in wanted.items():
        if pid in regions:
            w, h = sizes.get(pid, (None, None))
            found = sorted(regions[pid], key=lambda r: (r.x, r.y))
            out[uri] = PhotoPeople(tuple(found), (w, h) if w and h else None)
    return out
