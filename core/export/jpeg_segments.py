"""Splitting a JPEG into its marker segments and putting it back together.

Only the XMP (APP1) and Photoshop/IPTC (APP13) segments are ever replaced;
every other byte, EXIF with its maker notes, ICC profiles, MPF indexes, the
image data and anything after it, is copied unchanged. That is what keeps a
camera's maker notes readable: rewriting EXIF moves offsets that the maker
notes point into.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from core.errors import PhotoTaggerError

XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
XMP_EXTENSION_HEADER = b"http://ns.adobe.com/xmp/extension/\x00"
PHOTOSHOP_HEADER = b"Photoshop 3.0\x00"
MAX_PAYLOAD = 0xFFFF - 2  # a segment's length field counts itself
APP1, APP2, APP13, SOS = 0xE1, 0xE2, 0xED, 0xDA
_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}


class JpegError(PhotoTaggerError):
    """A file that is not a JPEG whose metadata can be changed safely."""


@dataclass(frozen=True)
class Segment:
    """One marker segment: ``marker`` (the byte after 0xFF) and its payload."""

    marker: int
    payload: bytes

    def encode(self) -> bytes:
        if len(self.payload) > MAX_PAYLOAD:
            raise JpegError(f"a metadata segment of {len(self.payload)} bytes does not fit a JPEG")
        return bytes((0xFF, self.marker)) + struct.pack(">H", len(self.payload) + 2) + self.payload

    @property
    def is_xmp(self) -> bool:
        return self.marker == APP1 and self.payload.startswith(XMP_HEADER)

    @property
    def is_photoshop(self) -> bool:
        return self.marker == APP13 and self.payload.startswith(PHOTOSHOP_HEADER)

    @property
    def is_mpf(self) -> bool:
        return self.marker == APP2 and self.payload.startswith(b"MPF\x00")


@dataclass(frozen=True)
class Jpeg:
    """The segments before the first scan, kept as their original bytes, and the rest."""

    raw: tuple[tuple[Segment, bytes], ...]
    tail: bytes

    @property
    def segments(self) -> list[Segment]:
        return [segment for segment, _ in self.raw]

    def xmp(self) -> bytes | None:
        """The main XMP packet, without its header."""
        found = next((s for s in self.segments if s.is_xmp), None)
        return None if found is None else found.payload[len(XMP_HEADER) :]

    def photoshop(self) -> bytes | None:
        """The Photoshop image resources, joined across APP13 segments."""
        parts = [s.payload[len(PHOTOSHOP_HEADER) :] for s in self.segments if s.is_photoshop]
        return b"".join(parts) if parts else None


def split_jpeg(data: bytes) -> Jpeg:
    """Parse the segments up to the first start-of-scan.

    Raises:
        JpegError: For a file that is not a JPEG or whose segments are cut or garbled.
    """
    if not data.startswith(b"\xff\xd8"):
        raise JpegError("not a JPEG file")
    pos, raw = 2, []
    while True:
        if pos >= len(data):
            raise JpegError("corrupt JPEG: it ends before any image data")
        if data[pos] != 0xFF:
            raise JpegError(f"corrupt JPEG: no marker at byte {pos}")
        start = pos
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes before a marker
            pos += 1
        if pos >= len(data):
            raise JpegError("corrupt JPEG: it ends inside a marker")
        marker = data[pos]
        pos += 1
        if marker == SOS:
            return Jpeg(tuple(raw), data[start:])
        if marker in _NO_LENGTH or marker == 0xD8:
            raw.append((Segment(marker, b""), data[start:pos]))
            continue
        if marker == 0xD9:
            raise JpegError("corrupt JPEG: it ends before any image data")
        if pos + 2 > len(data):
            raise JpegError("corrupt JPEG: it ends inside a segment header")
        (length,) = struct.unpack(">H", data[pos : pos + 2])
        if length < 2 or pos + length > len(data):
            raise JpegError(f"corrupt JPEG: a segment at byte {start} runs past the end")
        raw.append((Segment(marker, data[pos + 2 : pos + length]), data[start : pos + length]))
        pos += length


def photoshop_segments(resources: bytes) -> list[Segment]:
    """Photoshop image resources as one APP13 segment, or several where they do not fit one."""
    room = MAX_PAYLOAD - len(PHOTOSHOP_HEADER)
    chunks = [resources[i : i + room] for i in range(0, len(resources), room)] or [b""]
    return [Segment(APP13, PHOTOSHOP_HEADER + chunk) for chunk in chunks]


def join_jpeg(jpeg: Jpeg, *, xmp: bytes | None, photoshop: bytes | None) -> bytes:
    """The file with its XMP and Photoshop resources replaced, every other byte as it was.

    ``None`` keeps that block as it is. A block replaces the old one where it
    stood; a new one goes after the leading APP0/APP1 segments (JFIF, EXIF),
    before any MPF index, whose offsets count from its own position and so must
    not see bytes move after it.

    Raises:
        JpegError: If a block to replace sits after an MPF index, or does not fit.
    """
    segments = jpeg.segments
    new: dict[str, list[Segment]] = {}
    if xmp is not None:
        new["xmp"] = [Segment(APP1, XMP_HEADER + xmp)]
    if photoshop is not None:
        new["photoshop"] = photoshop_segments(photoshop)
    mpf_at = next((i for i, s in enumerate(segments) if s.is_mpf), len(segments))
    at = {name: [i for i, s in enumerate(segments) if _kind(s) == name] for name in new}
    if any(i > mpf_at for positions in at.values() for i in positions):
        raise JpegError("its metadata sits after an MPF index; it cannot be changed safely")
    insert_at = next(
        (i for i, s in enumerate(segments) if s.marker not in (0xE0, APP1)), len(segments)
    )
    out = [b"\xff\xd8"]
    for i, (segment, original) in enumerate(jpeg.raw):
        if i == insert_at:
            out += [s.encode() for name in new if not at[name] for s in new[name]]
        kind = _kind(segment)
        if kind in new:
            if i == at[kind][0]:
                out += [s.encode() for s in new[kind]]
            if kind == "photoshop" or i == at[kind][0]:
                continue  # the other APP13 parts were joined into the new block
        out.append(original)
    if insert_at == len(segments):
        out += [s.encode() for name in new if not at[name] for s in new[name]]
    out.append(jpeg.tail)
    return b"".join(out)


def _kind(segment: Segment) -> str | None:
    return "xmp" if segment.is_xmp else "photoshop" if segment.is_photoshop else None
