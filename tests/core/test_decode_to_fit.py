"""Decoding a photo no larger than it is shown."""

from __future__ import annotations

from PIL import Image

from core.engine.imaging import decode_to_fit
from tests.conftest import shared


def test_24mp_photo_decodes_to_the_box():
    path = shared("decode-bench", "immich-test-assets", "albums", "text", "craft-beer.jpg")
    decoded = decode_to_fit(path, width=1600, height=900)
    assert (decoded.width, decoded.height) == (6000, 4000)
    w, h = decoded.image.size
    assert w <= 1600 and h <= 900
    assert h >= 900 * 0.95  # fills the box's limiting side, within the draft's 5 %


def test_small_photo_is_not_enlarged_and_orientation_counts(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    Image.new("RGB", (300, 200), (10, 20, 30)).save(tmp_path / "p.jpg", exif=exif)
    decoded = decode_to_fit(tmp_path / "p.jpg", width=1000, height=1000)
    assert decoded.image.size == (200, 300)
    assert (decoded.width, decoded.height) == (200, 300)
    assert decode_to_fit(tmp_path / "p.jpg", width=100, height=100).image.size[1] <= 100
