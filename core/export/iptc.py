"""IPTC keywords inside Photoshop image resources (the 8BIM 0x0404 block of APP13).

Only dataset 2:25 (Keywords) and 1:90 (CodedCharacterSet) are ever changed;
every other dataset and every other image resource is kept as it was. The
character set is declared UTF-8, so accents read right; text datasets written
earlier without a declaration and not valid UTF-8 are read as Latin-1 and kept,
re-encoded, so the declaration stays true for them. A keyword holds at most 64
bytes in IPTC (XMP keeps it whole): longer ones are cut at a character
boundary, as exiftool does.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from core.export.jpeg_segments import JpegError

IPTC_RESOURCE = 0x0404
IPTC_DIGEST = 0x0425
UTF8 = b"\x1b%G"
KEYWORD_LIMIT = 64
_BINARY_DATASETS = {(2, 0), (2, 200), (2, 201), (2, 202)}


@dataclass(frozen=True)
class Resource:
    signature: bytes
    id: int
    name: bytes
    data: bytes

    def encode(self) -> bytes:
        name = bytes((len(self.name),)) + self.name
        name += b"\x00" * (len(name) % 2)
        data = self.data + b"\x00" * (len(self.data) % 2)
        return (
            self.signature
            + struct.pack(">H", self.id)
            + name
            + struct.pack(">I", len(self.data))
            + data
        )


def read_resources(blob: bytes) -> list[Resource]:
    """Photoshop image resources, in order.

    Raises:
        JpegError: If the block is cut or garbled.
    """
    out, pos = [], 0
    while pos + 12 <= len(blob):
        signature = blob[pos : pos + 4]
        if signature not in (b"8BIM", b"PHUT", b"AgHg", b"DCSR", b"MeSa"):
            raise JpegError("corrupt Photoshop resources in APP13")
        (rid,) = struct.unpack(">H", blob[pos + 4 : pos + 6])
        name_len = blob[pos + 6]
        name = blob[pos + 7 : pos + 7 + name_len]
        pos += 6 + 1 + name_len + (1 + name_len) % 2
        if pos + 4 > len(blob):
            raise JpegError("corrupt Photoshop resources in APP13")
        (size,) = struct.unpack(">I", blob[pos : pos + 4])
        pos += 4
        if pos + size > len(blob):
            raise JpegError("corrupt Photoshop resources in APP13")
        out.append(Resource(signature, rid, name, blob[pos : pos + size]))
        pos += size + size % 2
    return out


def read_datasets(block: bytes) -> list[tuple[int, int, bytes]]:
    """IPTC datasets as (record, dataset, value)."""
    out, pos = [], 0
    while pos + 5 <= len(block) and block[pos] == 0x1C:
        record, number = block[pos + 1], block[pos + 2]
        (size,) = struct.unpack(">H", block[pos + 3 : pos + 5])
        pos += 5
        if size & 0x8000:  # extended length: the next (size & 0x7fff) bytes hold it
            count = size & 0x7FFF
            size = int.from_bytes(block[pos : pos + count], "big")
            pos += count
        if pos + size > len(block):
            raise JpegError("corrupt IPTC data")
        out.append((record, number, block[pos : pos + size]))
        pos += size
    return out


def encode_datasets(datasets: list[tuple[int, int, bytes]]) -> bytes:
    out = []
    for record, number, value in datasets:
        if len(value) < 0x8000:
            out.append(bytes((0x1C, record, number)) + struct.pack(">H", len(value)) + value)
        else:
            out.append(
                bytes((0x1C, record, number, 0x80, 4)) + struct.pack(">I", len(value)) + value
            )
    return b"".join(out)


def _decode(value: bytes, utf8: bool) -> str:
    if utf8:
        return value.decode("utf-8", "replace")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def iptc_keywords(resources: list[Resource]) -> list[str]:
    """The keywords in the IPTC block, decoded by its declared character set."""
    block = next(
        (r.data for r in resources if r.id == IPTC_RESOURCE and r.signature == b"8BIM"), b""
    )
    datasets = read_datasets(block)
    utf8 = any((r, n, v) == (1, 90, UTF8) for r, n, v in datasets)
    return [_decode(v, utf8) for r, n, v in datasets if (r, n) == (2, 25)]


def fit_keyword(keyword: str) -> str:
    """The keyword cut to IPTC's 64 bytes at a character boundary."""
    return keyword.encode("utf-8")[:KEYWORD_LIMIT].decode("utf-8", "ignore")


def with_keywords(resources: list[Resource], keywords: list[str]) -> bytes:
    """The resources with the IPTC keywords set to ``keywords`` and the character set UTF-8.

    Other datasets keep their order and value (re-encoded from Latin-1 only where
    they were not UTF-8 and no character set was declared); the IPTC digest, if
    there is one, is brought up to date as Photoshop expects.
    """
    index = next(
        (i for i, r in enumerate(resources) if r.id == IPTC_RESOURCE and r.signature == b"8BIM"),
        None,
    )
    old = read_datasets(resources[index].data) if index is not None else []
    utf8 = any((r, n, v) == (1, 90, UTF8) for r, n, v in old)
    kept = []
    for record, number, value in old:
        if (record, number) in ((1, 90), (2, 25)):
            continue
        if not utf8 and record == 2 and (record, number) not in _BINARY_DATASETS:
            value = _decode(value, False).encode("utf-8")
        kept.append((record, number, value))
    ours = [(2, 25, fit_keyword(k).encode("utf-8")) for k in keywords]
    if not any((r, n) == (2, 0) for r, n, _ in kept):
        kept.append((2, 0, b"\x00\x04"))
    records = [(r, n, v) for r, n, v in kept if r == 1] + [(1, 90, UTF8)]
    record2 = sorted((x for x in kept if x[0] == 2), key=lambda x: x[1] != 0)
    records += record2 + ours + [(r, n, v) for r, n, v in kept if r > 2]
    block = encode_datasets(records)
    iptc = Resource(b"8BIM", IPTC_RESOURCE, b"", block)
    out = list(resources)
    if index is None:
        out.append(iptc)
    else:
        out[index] = iptc
    out = [
        Resource(r.signature, r.id, r.name, hashlib.md5(block).digest())
        if r.id == IPTC_DIGEST and r.signature == b"8BIM"
        else r
        for r in out
    ]
    return b"".join(r.encode() for r in out)
