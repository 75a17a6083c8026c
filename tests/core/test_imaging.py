"""Decoding real camera files, every pixel mode, and every kind of broken file."""

from __future__ import annotations

import csv
import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.engine.imaging import decode_photo, make_thumbnail, to_rgb
from core.errors import DecodeError
from tests.conftest import shared


def _jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with almost no data (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):
    folder = shared("decode-bench", "exif-orientation-examples")
    upright = decode_photo(folder / "Landscape_0.jpg").image
    decoded = decode_photo(folder / f"Landscape_{orientation}.jpg")
    assert (decoded.width, decoded.height) == (1800, 1200)
    assert decoded.image.size == upright.size
    a = np.asarray(decoded.image.resize((180, 120)), dtype=np.float32)
    b = np.asarray(upright.resize((180, 120)), dtype=np.float32)
    assert np.abs(a - b).mean() < 12, "orientation not undone"


def test_draft_decoding_reduces_big_jpegs_but_keeps_the_short_side():
    big = Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    )
    data = _jpeg_bytes(big, quality=80)
    decoded = decode_photo(data, min_short_side=256)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert min(decoded.image.size) >= 256
    assert decoded.image.size[0] <= 1000, "JPEG was decoded at full size"
    full = decode_photo(data)
    assert full.image.size == (4000, 3000)


@pytest.mark.parametrize(
    "mode,fill,expected",
    [
        ("L", 128, (128, 128, 128)),
        ("1", 1, (255, 255, 255)),
        ("LA", (0, 0), (255, 255, 255)),  # fully transparent black -> white
        ("RGBA", (255, 0, 0, 255), (255, 0, 0)),
        ("RGBA", (255, 0, 0, 0), (255, 255, 255)),
        ("CMYK", (0, 255, 255, 0), (255, 0, 0)),
        ("I;16", 65535, (255, 255, 255)),
        ("I;16", 32768, (128, 128, 128)),
        ("I", 1000, (255, 255, 255)),
    ],
)
def test_every_mode_becomes_rgb(mode, fill, expected):
    img = Image.new(mode, (8, 8), fill)
    rgb = to_rgb(img)
    assert rgb.mode == "RGB"
    assert rgb.getpixel((3, 3)) == pytest.approx(expected, abs=1)


def test_palette_with_transparency_composites_on_white():
    img = Image.new("P", (4, 4), 0)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    img.info["transparency"] = 0
    img.putpixel((1, 1), 1)
    rgb = to_rgb(img)
    assert rgb.getpixel((0, 0)) == (255, 255, 255)
    assert rgb.getpixel((1, 1)) == (10, 200, 30)


def test_cmyk_and_sixteen_bit_files_decode(tmp_path):
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("I;16", (64, 48), 40000).save(tmp_path / "deep.png")
    cmyk = decode_photo(tmp_path / "cmyk.jpg").image
    assert cmyk.mode == "RGB" and cmyk.getpixel((10, 10))[0] > 200
    deep = decode_photo(tmp_path / "deep.png").image
    assert deep.mode == "RGB" and deep.getpixel((10, 10)) == pytest.approx((156, 156, 156), abs=1)


def _broken_files(tmp_path: Path) -> dict[str, Path]:
    good = _jpeg_bytes(Image.new("RGB", (640, 480), (20, 120, 220)))
    files = {
        "empty.jpg": b"",
        "truncated.jpg": good[: len(good) // 3],
        "text.jpg": b"this is not a photo\n" * 20,
        "bomb.png": _png_header_only(20_000, 15_000),
        "garbage.png": b"\x89PNG\r\n\x1a\n" + os.urandom(200),
    }
    paths = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths[name] = tmp_path / name
    return paths


def test_broken_files_give_readable_errors(tmp_path):
    paths = _broken_files(tmp_path)
    reasons = {}
    for name, path in paths.items():
        if name == "truncated.jpg":
            continue  # Pillow may pad a truncated JPEG; checked separately
        with pytest.raises(DecodeError) as info:
            decode_photo(path, min_short_side=256)
        reasons[name] = str(info.value)
    assert reasons["empty.jpg"] == "the file is empty"
    assert "not an image" in reasons["text.jpg"]
    assert reasons["bomb.png"].startswith("refused: ") and "too large" in reasons["bomb.png"]
    assert all("\n" not in r and len(r) < 200 for r in reasons.values())


def test_pixel_cap_is_ours_to_set(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(_png_header_only(4000, 3000))
    with pytest.raises(DecodeError, match=r"12 megapixels, over the limit of 10"):
        decode_photo(path, max_pixels=10_000_000)


def test_truncated_jpeg_is_an_error(tmp_path):
    path = _broken_files(tmp_path)["truncated.jpg"]
    with pytest.raises(DecodeError, match="damaged or truncated"):
        decode_photo(path)


def test_png_named_jpg_decodes(tmp_path):
    Image.new("RGB", (30, 20), (1, 2, 3)).save(tmp_path / "actually.png", "PNG")
    (tmp_path / "actually.png").rename(tmp_path / "photo.jpg")
    decoded = decode_photo(tmp_path / "photo.jpg", min_short_side=10)
    assert decoded.format == "PNG" and decoded.image.size == (30, 20)


@pytest.mark.skipif(
    os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root reads any file"
)
def test_unreadable_file(tmp_path):
    path = tmp_path / "locked.jpg"
    path.write_bytes(_jpeg_bytes(Image.new("RGB", (8, 8))))
    path.chmod(0)
    with pytest.raises(DecodeError, match="cannot read"):
        decode_photo(path)


def test_real_camera_files_decode_or_fail_cleanly():
    """Every file in decode-bench, broken ones included: pixels or a DecodeError, nothing else."""
    root = shared("decode-bench")
    with open(root / "manifest.csv", newline="") as fh:
        manifest = {row["path"]: row for row in csv.DictReader(fh)}
    decoded = failed = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix.lower() in (".md", ".csv", ".rst", ".markdown", "") or path.name in (
            "LICENSE",
            "VERSION",
            "README",
        ):
            continue
        rel = str(path.relative_to(root))
        try:
            photo = decode_photo(path, min_short_side=256)
        except DecodeError as exc:
            failed += 1
            assert str(exc)
            # JPEG XL is the one format here with no Pillow plugin installed.
            assert path.suffix.lower() == ".jxl", f"{rel}: {exc}"
            continue
        decoded += 1
        assert photo.image.mode == "RGB"
        row = manifest.get(rel)
        if row and row["format"] != "UNREADABLE_BY_PILLOW":
            w, h = int(row["width"]), int(row["height"])
            if int(row["exif_orientation"] or 0) in (5, 6, 7, 8):
                w, h = h, w
            assert (photo.width, photo.height) == (w, h), rel
    assert decoded >= 145 and failed == 2


def test_heic_decodes_through_the_plugin():
    root = shared("decode-bench")
    heics = [p for p in root.rglob("*") if p.suffix.lower() in (".heic", ".heif")]
    assert heics
    ok = [p for p in heics if _decodes(p)]
    assert ok, f"none of {heics} decoded"


def _decodes(path: Path) -> bool:
    try:
        return decode_photo(path, min_short_side=224).image.mode == "RGB"
    except DecodeError:
        return False


def test_thumbnail_fits_the_box():
    path = shared("decode-bench", "exif-orientation-examples", "Portrait_6.jpg")
    thumb = make_thumbnail(path, size=160)
    assert max(thumb.size) == 160 and thumb.size[1] > thumb.size[0]  # portrait after orientation
