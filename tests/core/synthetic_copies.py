"""Synthetic near-duplicates of real photos: the set duplicate thresholds are calibrated on.

Each original gets the edits a real archive is full of: a resized export, a
low-quality recompression, a 90% crop, a colour-shifted edit, and a reframed
shot (a smaller, offset crop, slightly rotated) standing in for the next frame
of a burst. Used by tests/core/test_curate*.py and bench/curate.py.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageEnhance

from core.engine.imaging import decode_photo

EDITS = ("resized", "recompressed", "cropped", "colour", "reframed")


def make_copies(image: Image.Image) -> dict[str, Image.Image]:
    """The five edited copies of one RGB photo, by edit name."""
    w, h = image.size
    cw, ch = round(w * 0.9), round(h * 0.9)
    rw, rh = round(w * 0.85), round(h * 0.85)
    warm = image.copy()
    r, g, b = warm.split()
    warm = Image.merge(
        "RGB", (r.point(lambda v: min(255, v * 1.12)), g, b.point(lambda v: v * 0.88))
    )
    warm = ImageEnhance.Color(ImageEnhance.Brightness(warm).enhance(1.1)).enhance(1.3)
    return {
        "resized": image.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS),
        "recompressed": image,  # saved at low quality below
        "cropped": image.crop(
            ((w - cw) // 2, (h - ch) // 2, (w - cw) // 2 + cw, (h - ch) // 2 + ch)
        ),
        "colour": warm,
        "reframed": image.rotate(2, resample=Image.Resampling.BICUBIC).crop((w - rw, h - rh, w, h)),
    }


def write_copies(sources: list[Path], folder: Path) -> dict[Path, list[Path]]:
    """Write each source (as a q95 JPEG original) and its edited copies into ``folder``.

    Returns each written original with its copies; originals are decoded through
    the engine, so EXIF orientation is applied the same way as when tagging.
    """
    folder.mkdir(parents=True, exist_ok=True)
    groups: dict[Path, list[Path]] = {}
    for source in sources:
        image = decode_photo(source).image
        original = folder / f"{source.stem}.jpg"
        image.save(original, quality=95)
        copies = []
        for edit, copy in make_copies(image).items():
            path = folder / f"{source.stem}__{edit}.jpg"
            copy.save(path, quality=20 if edit == "recompressed" else 90)
            copies.append(path)
        groups[original] = copies
    return groups
