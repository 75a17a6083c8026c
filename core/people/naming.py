"""Naming people: a named group tags its photos; merging, moving a face out, confirming one.

A person's name is a tag like any other (``Anna`` → ``#anna``), given as a
decision (``add``, origin ``face``) to every photo where one of their faces is
confirmed, and written to metadata as ``People|Anna`` (:mod:`core.people.regions`).
A face moved out of a person ("not Anna") is a rejection kept forever: no later
grouping run puts it back; if it was the photo's only face of that person, the
name is taken off the photo again (only where naming put it there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from core.engine.vocabulary import normalise_tag
from core.store import Decision, FaceRow, PeopleError, PeopleRecords, Store

FACE_ORIGIN = "face"
"""The origin of the tag decisions naming makes."""
PEOPLE_KEYWORD = "People"
"""The parent of every person in hierarchical keywords (``People|Anna``)."""


@dataclass(frozen=True)
class GroupInfo:
    """One group of faces, as the People view and ``phototagger people`` list it.

    Attributes:
        id: The group's number (a person, named or not).
        name: Its name, or None.
        confirmed: Faces the user confirmed.
        suggested: Faces suggested for it, waiting for a yes or a no.
        grouped: Faces grouped into it by similarity (unnamed groups).
        photos: Photos with a face in it.
        best_face: The face to show for it (largest of the most confident).
    """

    id: int
    name: str | None
    confirmed: int
    suggested: int
    grouped: int
    photos: int
    best_face: int | None

    @property
    def faces(self) -> int:
        return self.confirmed + self.suggested + self.grouped


@dataclass(frozen=True)
class Suggestion:
    face_id: int
    photo_id: int
    person_id: int
    name: str | None
    confidence: float


def clean_name(name: str) -> str:
    """A person's name as stored; a clear error when it cannot be one."""
    text = normalise_tag(name)
    if not text:
        raise PeopleError("a name cannot be empty")
    if "|" in text or "/" in text:
        raise PeopleError(f"a name cannot hold '|' or '/': {name!r}")
    return text


def groups(store: Store) -> list[GroupInfo]:
    """Every group with faces (and every named person), named first, then by size."""
    records = store.people
    by_person: dict[int, list[FaceRow]] = {}
    for face in records.faces():
        if face.person_id is not None:
            by_person.setdefault(face.person_id, []).append(face)
    out = []
    for person in records.persons():
        faces = by_person.get(person.id, [])
        if not faces and person.name is None:
            continue
        count = {
            s: sum(f.source == s for f in faces) for s in ("confirmed", "suggested", "grouped")
        }
        shown = [f for f in faces if f.source != "suggested"] or faces
        best = max(shown, key=lambda f: (round(f.score, 2), f.area), default=None)
        out.append(
            GroupInfo(
                person.id,
                person.name,
                count["confirmed"],
                count["suggested"],
                count["grouped"],
                len({f.photo_id for f in faces}),
                best.id if best else None,
            )
        )
    return sorted(out, key=lambda g: (g.name is None, -g.faces, (g.name or "").casefold(), g.id))


def suggestions(store: Store) -> list[Suggestion]:
    """Faces with a suggested name, most confident first."""
    records = store.people
    names = {p.id: p.name for p in records.persons()}
    found = [
        Suggestion(f.id, f.photo_id, f.person_id, names.get(f.person_id), f.confidence or 0.0)
        for f in records.faces()
        if f.source == "suggested" and f.person_id is not None
    ]
    return sorted(found, key=lambda s: -s.confidence)


def person_names(store: Store) -> frozenset[str]:
    """The names given to people (their tags)."""
    return frozenset(p.name for p in store.people.persons() if p.name)


def _tag_photos(store: Store, photo_ids: Iterable[int], name: str) -> None:
    """Give ``name`` to the photos that do not carry it yet."""
    for pid in sorted(set(photo_ids)):
        latest = store.latest_decision(pid, name)
        if latest is None or not latest[0].confirms:
            store.record_decision(pid, name, Decision.ADD, origin=FACE_ORIGIN)


def _untag_photos(store: Store, photo_ids: Iterable[int], name: str) -> None:
    """Take ``name`` off the photos where naming put it (not where the user did)."""
    for pid in sorted(set(photo_ids)):
        latest = store.latest_decision(pid, name)
        if latest is not None and latest[0] == Decision.ADD and latest[1] == FACE_ORIGIN:
            store.record_decision(pid, name, Decision.REMOVE, origin=FACE_ORIGIN)


def _confirmed_photos(records: PeopleRecords, person_id: int) -> set[int]:
    return {f.photo_id for f in records.faces(person_id=person_id) if f.source == "confirmed"}


def name_group(store: Store, person_id: int, name: str) -> int:
    """Name a group: its faces are confirmed and its photos tagged with the name.

    A name another group already has merges this group into that one.

    Returns:
        The id of the person now carrying the name.
    """
    name = clean_name(name)
    records = store.people
    with store.transaction():
        person = records.person(person_id)
        other = records.person_named(name)
        if other is not None and other.id != person.id:
            return merge_groups(store, person.id, other.id)
        # The faces the group showed are confirmed; suggestions still wait for a yes.
        faces = [f for f in records.faces(person_id=person.id) if f.source != "suggested"]
        records.assign([f.id for f in faces], person.id, "confirmed", 1.0)
        if person.name and person.name != name:
            _untag_photos(store, {f.photo_id for f in faces}, person.name)
        records.set_name(person.id, name)
        _tag_photos(store, {f.photo_id for f in faces}, name)
    return person.id


def merge_groups(store: Store, source: int, target: int) -> int:
    """Move every face of group ``source`` into ``target`` (confirmed), and drop ``source``.

    Photos of a named ``source`` lose its name for ``target``'s, if it has one;
    if only ``source`` was named, ``target`` takes its name.
    """
    if source == target:
        raise PeopleError("a group cannot be merged with itself")
    records = store.people
    with store.transaction():
        src, dst = records.person(source), records.person(target)
        faces = records.faces(person_id=src.id)
        pending = [f for f in faces if f.source == "suggested"]
        faces = [f for f in faces if f.source != "suggested"]
        photos = {f.photo_id for f in faces}
        records.assign([f.id for f in faces], dst.id, "confirmed", 1.0)
        records.assign_many((f.id, dst.id, "suggested", f.confidence) for f in pending)
        records.move_rejections(src.id, dst.id)
        name = dst.name or src.name
        if src.name and src.name != name:
            _untag_photos(store, photos, src.name)
        records.delete_person(src.id)
        if name:
            if dst.name is None:
                records.set_name(dst.id, name)
            _tag_photos(store, photos | _confirmed_photos(records, dst.id), name)
    return dst.id


def confirm_face(store: Store, face_id: int, person_id: int | None = None) -> int:
    """Yes to a face's suggested name (or put it in ``person_id``): confirmed, photo tagged.

    Returns:
        The person the face now belongs to.
    """
    records = store.people
    with store.transaction():
        face = records.face(face_id)
        target = person_id if person_id is not None else face.person_id
        if target is None:
            raise PeopleError(f"face {face_id} has no suggested name; say whose it is")
        person = records.person(target)
        if face.person_id is not None and face.person_id != target:
            _leave(store, records, face, face.person_id)
        records.unreject(face.id, target)
        records.assign([face.id], target, "confirmed", 1.0)
        if person.name:
            _tag_photos(store, [face.photo_id], person.name)
    return target


def reject_face(store: Store, face_id: int, person_id: int | None = None) -> None:
    """ "Not this person": the face leaves the person for good (no later run puts it back).

    Args:
        face_id: The face.
        person_id: The person it is not (default: the one it is in now).
    """
    records = store.people
    with store.transaction():
        face = records.face(face_id)
        target = person_id if person_id is not None else face.person_id
        if target is None:
            raise PeopleError(f"face {face_id} is in no group; say which person it is not")
        records.person(target)
        records.reject(face.id, target)
        if face.person_id == target:
            _leave(store, records, face, target)
            records.assign([face.id], None, None)


def _leave(store: Store, records: PeopleRecords, face: FaceRow, person_id: int) -> None:
    """Take the person's name off the face's photo if no other confirmed face of theirs is there."""
    person = records.person(person_id)
    if not person.name:
        return
    others = [
        f
        for f in records.faces(person_id=person_id)
        if f.photo_id == face.photo_id and f.id != face.id and f.source == "confirmed"
    ]
    if not others:
        _untag_photos(store, [face.photo_id], person.name)


def forget_people(store: Store) -> int:
    """Delete every face, embedding, group, name and rejection; returns the faces deleted.

    Tags already given to photos are the user's decisions and stay.
    """
    records = store.people
    with store.transaction():
        return records.forget()
