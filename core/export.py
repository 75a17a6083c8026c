"""Exporting tags: CSV and JSON files, XMP sidecars, and keywords inside the photo files.

CSV follows RFC 4180 through the csv module, in UTF-8 with a byte-order mark so
spreadsheet programs read accents right, and any cell a spreadsheet would take
for a formula is prefixed with an apostrophe. XMP uses dc:subject for keywords
and lr:hierarchicalSubject for ancestor paths, which Lightroom, digiKam and
darktable read.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.review import PhotoTag, photo_tags
from core.store import Store
from core.vocabulary import Vocabulary, hashtag

Scope = Literal["confirmed", "suggested"]
CSV_COLUMNS = ("location", "status", "hashtags", "tags", "error")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportRow:
    location: str
    status: str
    tags: tuple[PhotoTag, ...]
    error: str

    def hashtags(self, style: str = "joined") -> str:
        return " ".join(h for h in (hashtag(t.tag, style=style) for t in self.tags) if h)

    def scored(self) -> str:
        return "; ".join(
            f"{t.tag}:{t.score:.3f}" if t.score is not None else t.tag for t in self.tags
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

    ``uris`` limits the export to those photos, in that order (the CLI's ``tag --csv``).
    """
    photos = (
        store.photos(uri_prefix=uri_prefix)
        if uris is None
        else (store.photo(pid) for pid in map(store.photo_id, uris) if pid is not None)
    )
    for photo in photos:
        tags = photo_tags(store, photo.id, threshold=threshold, top_k=top_k, backbone=backbone)
        if scope == "confirmed":
            tags = [t for t in tags if t.confirmed]
        yield ExportRow(photo.uri, photo.status, tuple(tags), photo.error or "")


def safe_cell(value: str) -> str:
    """Neutralise a cell a spreadsheet would evaluate as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _atomic_write(path: Path, mode: str = "w", **kwargs) -> tuple:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    os.close(fd)
    return open(tmp, mode, **kwargs), Path(tmp)


def write_csv(
    rows: Iterator[ExportRow] | list[ExportRow], path: Path, *, style: str = "joined"
) -> int:
    """Write rows to ``path`` (replaced atomically); returns how many were written."""
    fh, tmp = _atomic_write(path, "w", encoding="utf-8-sig", newline="")
    count = 0
    try:
        with fh:
            writer = csv.writer(fh, dialect="excel")
            writer.writerow(CSV_COLUMNS)
            for row in rows:
                writer.writerow(
                    safe_cell(v)
                    for v in (
                        row.location,
                        row.status,
                        row.hashtags(style),
                        row.scored(),
                        row.error,
                    )
                )
                count += 1
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def write_json(
    rows: Iterator[ExportRow] | list[ExportRow], path: Path, *, style: str = "joined"
) -> int:
    items = [
        {
            "location": r.location,
            "status": r.status,
            "hashtags": r.hashtags(style).split(),
            "tags": [
                {"tag": t.tag, "score": t.score, "source": t.source, "state": t.state}
                for t in r.tags
            ],
            "error": r.error or None,
        }
        for r in rows
    ]
    fh, tmp = _atomic_write(path, "w", encoding="utf-8")
    try:
        with fh:
            json.dump(items, fh, ensure_ascii=False, indent=1)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(items)


_NS = {
    "x": "adobe:ns:meta/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dc": "http://purl.org/dc/elements/1.1/",
    "lr": "http://ns.adobe.com/lightroom/1.0/",
}


def xmp_packet(keywords: list[str], hierarchies: list[str]) -> bytes:
    """An XMP sidecar holding dc:subject and lr:hierarchicalSubject."""
    for prefix, uri in _NS.items():
        ET.register_namespace(prefix, uri)
    meta = ET.Element(f"{{{_NS['x']}}}xmpmeta")
    rdf = ET.SubElement(meta, f"{{{_NS['rdf']}}}RDF")
    desc = ET.SubElement(rdf, f"{{{_NS['rdf']}}}Description", {f"{{{_NS['rdf']}}}about": ""})
    for tag, values in (("dc", "subject"), ("lr", "hierarchicalSubject")):
        items = keywords if values == "subject" else hierarchies
        bag = ET.SubElement(ET.SubElement(desc, f"{{{_NS[tag]}}}{values}"), f"{{{_NS['rdf']}}}Bag")
        for value in items:
            ET.SubElement(bag, f"{{{_NS['rdf']}}}li").text = value
    return (
        b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        + ET.tostring(meta, encoding="utf-8", xml_declaration=False)
        + b'\n<?xpacket end="w"?>\n'
    )


def keywords_for(row: ExportRow, vocabulary: Vocabulary) -> tuple[list[str], list[str]]:
    keywords = [t.tag for t in row.tags]
    hierarchies = sorted({"|".join(vocabulary.hierarchy_path(t.tag)) for t in row.tags})
    return keywords, hierarchies


def write_sidecars(rows: Iterator[ExportRow], *, vocabulary: Vocabulary) -> int:
    """Write ``photo.jpg.xmp`` beside each local photo that has tags; returns how many."""
    count = 0
    for row in rows:
        path = Path(row.location)
        if not row.tags or not path.is_file():
            continue
        keywords, hierarchies = keywords_for(row, vocabulary)
        fh, tmp = _atomic_write(path.with_name(path.name + ".xmp"), "wb")
        with fh:
            fh.write(xmp_packet(keywords, hierarchies))
        tmp.replace(path.with_name(path.name + ".xmp"))
        count += 1
    return count


def embed_keywords(path: Path, keywords: list[str], hierarchies: list[str]) -> None:
    """Write keywords into the photo's own XMP and IPTC, leaving the image data untouched.

    The change is made on a temporary copy that replaces the original by an
    atomic rename, so a crash never leaves a half-written photo.
    """
    import pyexiv2

    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copy2(path, tmp)
        with pyexiv2.Image(str(tmp)) as image:
            image.modify_xmp(
                {"Xmp.dc.subject": keywords, "Xmp.lr.hierarchicalSubject": hierarchies}
            )
            if path.suffix.lower() in (".jpg", ".jpeg", ".jpe", ".tif", ".tiff"):
                image.modify_iptc({"Iptc.Application2.Keywords": keywords})
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_embedded_keywords(path: Path) -> list[str]:
    """Keywords already in a photo (XMP dc:subject, then IPTC), for importing earlier work."""
    import pyexiv2

    with pyexiv2.Image(str(path)) as image:
        xmp = image.read_xmp().get("Xmp.dc.subject") or []
        iptc = image.read_iptc().get("Iptc.Application2.Keywords") or []
    found = [xmp] if isinstance(xmp, str) else list(xmp)
    found += [iptc] if isinstance(iptc, str) else list(iptc)
    return list(dict.fromkeys(k.strip() for k in found if k.strip()))
