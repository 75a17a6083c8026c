"""What a photo's file says about it: when it was taken, with which camera, how large.

Read from the header only (Pillow opens a file without decoding its pixels),
about a millisecond a photo, so a folder's dates can be read in the background
for sorting and grouping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image

_EXIF_IFD = 0x8769
_DATE_TAKEN = 36867  # DateTimeOriginal, in the Exif IFD
_DATE_DIGITIZED = 36868
_DATE_CHANGED = 0x0132  # DateTime, in IFD0: when the file was last edited
_MAKE, _MODEL = 0x010F, 0x0110
_ORIENTATION = 0x0112


@dataclass(frozen=True)
class PhotoInfo:
    """Facts about one photo file; any of them may be unknown (None).

    Attributes:
        taken: When the photo was taken (EXIF DateTimeOriginal, local time, naive).
        camera: Make and model, e.g. ``NIKON D70``.
        width: Pixels across, after EXIF orientation.
        height: Pixels down, after EXIF orientation.
        bytes: File size.
    """

    taken: datetime | None = None
    camera: str | None = None
    width: int | None = None
    height: int | None = None
    bytes: int | None = None


def parse_exif_date(value: object) -> datetime | None:
    """``2005:03:10 15:10:48`` (EXIF's form) to a datetime; None for blanks and nonsense."""
    if not isinstance(value, str):
        return None
    text = value.strip().rstrip("\x00")
    for fmt in ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y:%m:%d"):
        try:
            return datetime.strptime(text[: len("2005:03:10 15:10:48")], fmt)
        except ValueError:
            continue
    return None


def camera_name(make: object, model: object) -> str | None:
    """``NIKON CORPORATION`` + ``NIKON D70`` reads ``NIKON D70``; either alone is used as is."""
    make_s = make.strip(" \x00") if isinstance(make, str) else ""
    model_s = model.strip(" \x00") if isinstance(model, str) else ""
    if not model_s:
        return make_s or None
    brand = make_s.split(" ")[0].lower()
    if not make_s or model_s.lower().startswith(brand):
        return model_s
    return f"{make_s} {model_s}"


def read_photo_info(path: Path) -> PhotoInfo:
    """The file's size, pixel size, date taken and camera; unknown facts stay None.

    Never raises for a bad photo: a file Pillow cannot open still has a size.
    """
    try:
        size: int | None = path.stat().st_size
    except OSError:
        size = None
    try:
        with Image.open(path) as img:
            exif = img.getexif()
            width, height = img.size
            if exif.get(_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width
            details = exif.get_ifd(_EXIF_IFD)
            taken = (
                parse_exif_date(details.get(_DATE_TAKEN))
                or parse_exif_date(details.get(_DATE_DIGITIZED))
                or parse_exif_date(exif.get(_DATE_CHANGED))
            )
            camera = camera_name(exif.get(_MAKE), exif.get(_MODEL))
    except Exception:  # a damaged or unknown file: what the file system says is all there is
        return PhotoInfo(bytes=size)
    return PhotoInfo(taken=taken, camera=camera, width=width, height=height, bytes=size)
