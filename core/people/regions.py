"""Named faces for the photos' metadata: keywords under ``People`` and MWG face regions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.export.xmp import FaceRegion
from core.people.naming import PEOPLE_KEYWORD
from core.store import Store


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
    records = store.people
    names = {p.id: p.name for p in records.persons() if p.name}
    wanted = {uri: store.photo_id(uri) for uri in uris}
    ids = {pid for pid in wanted.values() if pid is not None}
    regions: dict[int, list[FaceRegion]] = {}
    for face in records.faces():
        if face.photo_id in ids and face.source == "confirmed" and face.person_id in names:
            region = FaceRegion.from_box(names[face.person_id], face.box)  # type: ignore[arg-type]
            regions.setdefault(face.photo_id, []).append(region)
    sizes = store.photo_sizes(regions)
    out = {}
    for uri, pid in wanted.items():
        if pid in regions:
            w, h = sizes.get(pid, (None, None))
            found = sorted(regions[pid], key=lambda r: (r.x, r.y))
            out[uri] = PhotoPeople(tuple(found), (w, h) if w and h else None)
    return out


@dataclass(frozen=True)
class NamedFace:
    """A face to draw on the photo: its box (fractions), label, and whether it is confirmed."""

    box: tuple[float, float, float, float]
    label: str
    confirmed: bool


def named_faces(store: Store, uri: str) -> list[NamedFace]:
    """The photo's faces that have a name, confirmed or suggested (``Anna?``), left to right."""
    pid = store.photo_id(uri)
    if pid is None:
        return []
    records = store.people
    names = {p.id: p.name for p in records.persons() if p.name}
    out = []
    for face in records.faces():
        if face.photo_id != pid or face.person_id not in names:
            continue
        if face.source == "confirmed":
            out.append(NamedFace(face.box, names[face.person_id], True))  # type: ignore[index]
        elif face.source == "suggested":
            out.append(NamedFace(face.box, f"{names[face.person_id]}?", False))  # type: ignore[index]
    return sorted(out, key=lambda f: f.box[0])


def face_crop(path: str, box: tuple[float, float, float, float], *, size: int = 96):
    """The face cut from its photo with some margin, as a ``size`` x ``size`` RGB image."""
    from PIL import Image

    from core.engine.imaging import decode_photo

    image = decode_photo(path, min_short_side=600).image
    width, height = image.size
    left, top, right, bottom = box
    side = max(right - left, bottom - top) * 1.4
    cx, cy = (left + right) / 2, (top + bottom) / 2
    crop = (
        max(0, round((cx - side / 2) * width)),
        max(0, round((cy - side / 2) * height)),
        min(width, round((cx + side / 2) * width)),
        min(height, round((cy + side / 2) * height)),
    )
    face = image.convert("RGB").crop(crop)
    return face.resize((size, size), Image.Resampling.BILINEAR)
