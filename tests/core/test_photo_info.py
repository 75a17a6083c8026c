"""Date taken, camera and size from the file header."""

from __future__ import annotations

from datetime import datetime

from PIL import Image

from core.engine.photo_info import camera_name, parse_exif_date, read_photo_info
from tests.conftest import shared


def test_camera_photo_gives_date_and_camera():
    path = shared("decode-bench", "exif-samples", "jpg", "Nikon_D70.jpg")
    info = read_photo_info(path)
    assert info.taken == datetime(2008, 3, 15, 9, 52, 1)
    assert info.camera == "NIKON D70"
    assert (info.width, info.height) == (100, 66)
    assert info.bytes == path.stat().st_size


def test_orientation_swaps_sides_and_missing_exif_is_none(tmp_path):
    img = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Canon"
    exif[0x0110] = "Canon EOS R6"
    img.save(tmp_path / "turned.jpg", exif=exif)
    info = read_photo_info(tmp_path / "turned.jpg")
    assert (info.width, info.height) == (20, 40)
    assert info.camera == "Canon EOS R6" and info.taken is None
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    assert read_photo_info(tmp_path / "plain.png").camera is None


def test_broken_file_keeps_its_size(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a photo at all")
    assert read_photo_info(bad).bytes == 18
    assert read_photo_info(bad).taken is None
    assert read_photo_info(tmp_path / "gone.jpg").bytes is None


def test_parsing():
    assert parse_exif_date("2005:03:10 15:10:48\x00") == datetime(2005, 3, 10, 15, 10, 48)
    assert parse_exif_date("    :  :     :  :  ") is None
    assert parse_exif_date(None) is None
    assert camera_name("KONICA MINOLTA ", "DiMAGE Z3") == "KONICA MINOLTA DiMAGE Z3"
    assert camera_name("NIKON CORPORATION", "NIKON D70") == "NIKON D70"
    assert camera_name(None, None) is None
