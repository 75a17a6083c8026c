"""Writing keywords into XMP sidecars and JPEG files: merged, never replaced.

What a person already has is kept: every field and keyword PhotoTagger did
not write stays as it was, and only keywords PhotoTagger wrote earlier and the
person has since rejected (or removed) are taken out. What PhotoTagger wrote
is recorded in the file itself, in ``phototagger:Written`` (an XMP bag in
PhotoTagger's own namespace), so the record travels with the photo and holds
whichever database wrote it; see docs/adr/0004-metadata-merge.md.

A JPEG is changed at the segment level (:mod:`core.export.jpeg_segments`): only its
XMP packet and its Photoshop/IPTC block are replaced, so EXIF, maker notes,
ICC profiles and the image data stay byte-identical. Other formats get a
sidecar instead, and say so. A file whose keywords are already right is not
touched at all (same inode, same mtime). After writing into a photo the new
size and mtime are recorded in the store (:meth:`Store.note_metadata_written`),
so the next tagging run does not take the photo for a changed one; the mtime
itself is left to the system, as backup tools expect.

Every file is written atomically (:mod:`core.atomic`); a file that cannot be
written gives one line in the report and the batch goes on.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from core.atomic import replace_bytes
from core.engine.vocabulary import normalise_tag
from core.errors import PhotoTaggerError
from core.export.iptc import fit_keyword, iptc_keywords, read_resources, with_keywords
from core.export.jpeg_segments import join_jpeg, split_jpeg
from core.export.xmp import (
    HIERARCHY,
    SUBJECT,
    TAGS_LIST,
    WRITTEN,
    FaceRegion,
    XmpError,
    get_list,
    parse_xmp,
    set_list,
    set_regions,
    xmp_bytes,
)

SidecarNaming = Literal["photo.jpg.xmp", "photo.xmp"]
SIDECAR_NAMINGS: tuple[SidecarNaming, ...] = ("photo.jpg.xmp", "photo.xmp")
EMBEDDABLE = (".jpg", ".jpeg", ".jpe", ".jfif")
IPTC = "iptc"
Status = Literal["written", "unchanged", "failed"]


@dataclass(frozen=True)
class KeywordChange:
    """What PhotoTagger wants in one photo's metadata.

    Attributes:
        keywords: Tags to be present (dc:subject, IPTC Keywords).
        paths: Their general-to-specific paths, e.g. ``("animal", "dog")``.
        retract: Tags the person rejected or removed; taken out where PhotoTagger wrote them.
        regions: Named faces as MWG regions (None: regions are left as they are).
        size: The photo's width and height in pixels (for a new regions structure).
    """

    keywords: tuple[str, ...] = ()
    paths: tuple[tuple[str, ...], ...] = ()
    retract: frozenset[str] = frozenset()
    regions: tuple[FaceRegion, ...] | None = None
    size: tuple[int, int] | None = None

    @property
    def empty(self) -> bool:
        return not self.keywords and not self.retract and not self.regions

    def lists(self) -> dict[str, list[str]]:
        """The values wanted in each list PhotoTagger writes."""
        return {
            "subject": list(self.keywords),
            "hierarchy": ["|".join(p) for p in self.paths],
            "tags_list": ["/".join(p) for p in self.paths],
            IPTC: list(dict.fromkeys(fit_keyword(k) for k in self.keywords)),
        }


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one photo: ``target`` is the file written (the photo or its sidecar)."""

    photo: Path
    target: Path
    status: Status
    message: str = ""


@dataclass
class KeywordReport:
    """A batch's outcomes, in order."""

    outcomes: list[FileOutcome] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(o.status == status for o in self.outcomes)

    def summary(self) -> str:
        """``3 files written, 1 already right, 0 failed`` in plain words."""
        written = self.count("written")
        noun = "file" if written == 1 else "files"
        return (
            f"{written} {noun} written, {self.count('unchanged')} already right, "
            f"{len(self.failures)} failed"
        )

    @property
    def failures(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def notes(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status != "failed" and o.message]


def key(value: str) -> str:
    """How keywords compare: as tags are stored, without regard to case."""
    return normalise_tag(value).casefold()


def _leaf(value: str) -> str:
    return key(value.replace("/", "|").split("|")[-1])


def merge_lists(
    existing: dict[str, list[str]],
    wanted: dict[str, list[str]],
    *,
    written: list[str],
    retract: frozenset[str],
) -> tuple[dict[str, list[str]], list[str]]:
    """New values for each list and for the record of what PhotoTagger wrote.

    A value is removed only if PhotoTagger wrote it (it is in ``written``) and
    its tag (the last level of a path) is in ``retract``; wanted values not yet
    there (compared without case) are appended. The record keeps what
    PhotoTagger wrote and is still there, plus what it adds now; a value the
    person had before PhotoTagger wanted it stays theirs.
    """
    gone = {key(k) for k in retract}
    ours = set(written)
    lists, added = {}, []
    for name, old in existing.items():
        kept = [v for v in old if not (v in ours and _leaf(v) in gone)]
        present = {key(v) for v in kept}
        new = [v for v in dict.fromkeys(wanted.get(name, [])) if key(v) not in present]
        lists[name] = kept + new
        added += new
    remaining = {v for values in lists.values() for v in values}
    record = [v for v in dict.fromkeys([*written, *added]) if v in remaining]
    return lists, record


def _check_writable(path: Path) -> None:
    info = os.stat(path)
    if not info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(
        path, os.W_OK
    ):
        raise PermissionError(f"{path.name} is read-only; left as it is")


def sidecar_path(photo: Path, naming: SidecarNaming = "photo.jpg.xmp") -> Path:
    """``photo.jpg.xmp`` (digiKam, darktable) or ``photo.xmp`` (Lightroom)."""
    return (
        photo.with_name(photo.name + ".xmp")
        if naming == "photo.jpg.xmp"
        else photo.with_suffix(".xmp")
    )


_XMP_LISTS = {"subject": SUBJECT, "hierarchy": HIERARCHY, "tags_list": TAGS_LIST}


def write_sidecar(
    photo: Path, change: KeywordChange, *, naming: SidecarNaming
) -> FileOutcome | None:
    """Merge ``change`` into the photo's sidecar (made if needed); None when there is nothing to do."""
    target = sidecar_path(photo, naming)
    exists = target.exists()
    if not exists and not change.keywords and not change.regions:
        return None
    if exists:
        _check_writable(target)
    try:
        root = parse_xmp(target.read_bytes() if exists else None)
    except XmpError as exc:
        raise XmpError(f"{target.name}: {exc}; left as it was") from exc
    existing = {name: get_list(root, prop) for name, prop in _XMP_LISTS.items()}
    wanted = {n: v for n, v in change.lists().items() if n in _XMP_LISTS}
    written = get_list(root, WRITTEN)
    lists, record = merge_lists(existing, wanted, written=written, retract=change.retract)
    regions_changed = change.regions is not None and set_regions(
        root, list(change.regions), size=change.size
    )
    if exists and lists == existing and record == written and not regions_changed:
        return FileOutcome(photo, target, "unchanged")
    for name, prop in _XMP_LISTS.items():
        if lists[name] != existing[name]:
            set_list(root, prop, lists[name])
    if record != written:
        set_list(root, WRITTEN, record)
    replace_bytes(target, xmp_bytes(root, indent=not exists))
    return FileOutcome(photo, target, "written")


def embed_keywords_in(
    photo: Path, change: KeywordChange
) -> tuple[FileOutcome, tuple[os.stat_result, os.stat_result] | None]:
    """Merge ``change`` into a JPEG's own XMP and IPTC; other bytes stay as they were.

    Returns:
        The outcome, and the file's stat before and after when it was rewritten.
    """
    _check_writable(photo)
    before = os.stat(photo)
    data = photo.read_bytes()
    jpeg = split_jpeg(data)
    root = parse_xmp(jpeg.xmp())
    resources = read_resources(jpeg.photoshop() or b"")
    existing = {name: get_list(root, prop) for name, prop in _XMP_LISTS.items()}
    existing[IPTC] = iptc_keywords(resources)
    written = get_list(root, WRITTEN)
    # Keywords another program left in only one of XMP and IPTC go to the other as well (the
    # person's, not recorded as PhotoTagger's), so a reader that prefers either sees them.
    base = dict(existing)
    if not base["subject"]:
        base["subject"] = list(existing[IPTC])
    if not base[IPTC]:
        base[IPTC] = list(dict.fromkeys(fit_keyword(k) for k in existing["subject"]))
    lists, record = merge_lists(base, change.lists(), written=written, retract=change.retract)
    regions_changed = change.regions is not None and set_regions(
        root, list(change.regions), size=change.size
    )
    xmp_changed = (
        regions_changed or record != written or any(lists[n] != existing[n] for n in _XMP_LISTS)
    )
    iptc_changed = lists[IPTC] != existing[IPTC] or (
        lists[IPTC] and b"\x1b%G" not in (jpeg.photoshop() or b"")
    )
    if not xmp_changed and not iptc_changed:
        return FileOutcome(photo, photo, "unchanged"), None
    for name, prop in _XMP_LISTS.items():
        if lists[name] != existing[name]:
            set_list(root, prop, lists[name])
    if record != written:
        set_list(root, WRITTEN, record)
    out = join_jpeg(
        jpeg,
        xmp=xmp_bytes(root, padding=1024, indent=jpeg.xmp() is None) if xmp_changed else None,
        photoshop=with_keywords(resources, lists[IPTC]) if iptc_changed else None,
    )
    if split_jpeg(out).tail != jpeg.tail:  # never write a file whose image data moved
        raise PhotoTaggerError("the rewritten file would not keep its image data; left as it is")
    after = replace_bytes(photo, out)
    return FileOutcome(photo, photo, "written"), (before, after)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + "; left as it was"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def write_keywords(
    items: Iterable[tuple[Path, KeywordChange]],
    *,
    sidecars: bool,
    embed: bool,
    naming: SidecarNaming = "photo.jpg.xmp",
    on_rewritten: Callable[[Path, os.stat_result, os.stat_result], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> KeywordReport:
    """Write each photo's keywords into its sidecar and/or into the photo itself.

    A photo that cannot be embedded into (not a JPEG) gets a sidecar instead,
    with a note. Errors are per photo: one line each in the report.

    Args:
        items: (photo path, change) pairs.
        sidecars: Write XMP sidecars.
        embed: Write into JPEG files themselves.
        naming: Sidecar file naming.
        on_rewritten: Called with the photo and its stat before and after a rewrite.
        progress: Called with (done, total).
        cancel: Set to stop between photos.
    """
    items = list(items)
    report = KeywordReport()
    for done, (photo, change) in enumerate(items, start=1):
        if cancel is not None and cancel.is_set():
            break
        try:
            report.outcomes += _write_one(
                photo,
                change,
                sidecars=sidecars,
                embed=embed,
                naming=naming,
                on_rewritten=on_rewritten,
            )
        except (OSError, PhotoTaggerError) as exc:
            report.outcomes.append(FileOutcome(photo, photo, "failed", _one_line(exc)))
        if progress is not None:
            progress(done, len(items))
    return report


def _write_one(
    photo: Path,
    change: KeywordChange,
    *,
    sidecars: bool,
    embed: bool,
    naming: SidecarNaming,
    on_rewritten: Callable[[Path, os.stat_result, os.stat_result], None] | None,
) -> list[FileOutcome]:
    if change.empty and not sidecars:
        return []
    if not photo.is_file():
        raise FileNotFoundError(f"{photo} is no longer there")
    out = []
    if embed and photo.suffix.lower() in EMBEDDABLE:
        try:
            outcome, stats = embed_keywords_in(photo, change)
        except (OSError, PhotoTaggerError) as exc:  # its sidecar can still be written
            if not sidecars:
                raise
            outcome, stats = FileOutcome(photo, photo, "failed", _one_line(exc)), None
        if stats is not None and on_rewritten is not None:
            on_rewritten(photo, *stats)
        out.append(outcome)
    elif embed and not sidecars:
        done = write_sidecar(photo, change, naming=naming)
        if done is not None:
            kind = photo.suffix.lstrip(".").upper() or "this format"
            note = f"{kind} files are not written into; keywords went to {done.target.name}"
            out.append(FileOutcome(done.photo, done.target, done.status, note))
    if sidecars:
        done = write_sidecar(photo, change, naming=naming)
        if done is not None:
            out.append(done)
    return out
