"""Screen-sized previews of the photos that are slow to decode, made with their thumbnails.

A baseline JPEG decodes at 1/2, 1/4 or 1/8 of its size for a fraction of the
work, so the viewer decodes it at screen size in a few tens of milliseconds. A
progressive JPEG must be read whole at any scale (0.3-0.5 s for 24 MP on a laptop
core), and PNG, TIFF, HEIC or WebP files have no reduced decode at all. For
those, the thumbnail job decodes the photo once at preview size, keeps that as a
baseline JPEG in the cache beside the thumbnails (Lightroom's "standard
previews"), and makes the thumbnail from it; the viewer opens the preview when
it covers the screen. Keyed by path, size and mtime: an edited file gets a new one.
Qt-free: runs on pool threads.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

PREVIEW_SIDE = 2048
"""Longest side of a preview: covers the viewer on a 1080p or 1200p screen."""
SLOW_PIXELS = 8_000_000
"""Photos over this many pixels get a preview when their format cannot decode reduced."""
PREVIEW_QUALITY = 90


@dataclass(frozen=True)
class SourceInfo:
    """What the file's header says: its size after orientation and whether it decodes slowly."""

    width: int
    height: int
    slow: bool


def source_info(path: Path) -> SourceInfo:
    """Read the header only: size (oriented) and whether a reduced decode is unavailable."""
    with Image.open(path) as img:
        width, height = img.size
        if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
            width, height = height, width
        progressive = bool(img.info.get("progressive") or img.info.get("progression"))
        reducible = img.format == "JPEG" and not progressive
    return SourceInfo(width, height, not reducible and width * height > SLOW_PIXELS)


def preview_path(preview_dir: Path, path: Path) -> Path | None:
    """Where the preview of the file as it is now lives (None: the file is gone)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    key = hashlib.sha1(f"{path}|{stat.st_size}|{stat.st_mtime_ns}|preview".encode()).hexdigest()
    return preview_dir / key[:2] / f"{key}.jpg"


def thumbnail_with_preview(path: Path, *, size: int, preview_dir: Path) -> Image.Image | None:
    """The thumbnail of a slow photo, its preview written on the way; None for the others.

    One decode serves both: the photo is decoded at preview size (reduced where
    the format allows) and the thumbnail is made from that.
    """
    from core.engine.imaging import decode_to_fit

    if not source_info(path).slow:
        return None
    target = preview_path(preview_dir, path)
    if target is not None and target.exists():  # made already: the thumbnail comes from it
        with Image.open(target) as img:
            img.draft("RGB", (size, size))
            thumb = img.convert("RGB")
        thumb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return thumb
    decoded = decode_to_fit(path, width=PREVIEW_SIDE, height=PREVIEW_SIDE)
    if target is not None:
        buffer = io.BytesIO()
        decoded.image.save(buffer, "JPEG", quality=PREVIEW_QUALITY)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_bytes(buffer.getvalue())
        tmp.replace(target)
    thumb = decoded.image.copy()
    thumb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return thumb


def preview_for(path: Path, *, width: int, height: int, preview_dir: Path | None) -> Path | None:
    """The preview to decode instead of ``path`` for a ``width`` x ``height`` box, if one covers it."""
    if preview_dir is None:
        return None
    target = preview_path(preview_dir, path)
    if target is None or not target.exists():
        return None
    info = source_info(path)
    scale = min(1.0, width / max(info.width, 1), height / max(info.height, 1))
    needed = max(info.width, info.height) * scale
    with Image.open(target) as img:
        have = max(img.size)
    return target if have >= needed * 0.95 else None
