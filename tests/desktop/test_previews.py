"""Screen-sized previews of photos slow to decode: made with the thumbnail, opened by the viewer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from desktop.previews import (
    PREVIEW_SIDE,
    preview_for,
    preview_path,
    source_info,
    thumbnail_with_preview,
)
from tests.conftest import shared
from tests.desktop.conftest import make_window, open_and_wait, select_rows

BIG_PHOTO = ("decode-bench", "immich-test-assets", "albums", "text", "craft-beer.jpg")  # 6000x4000


def _photo(path: Path, *, progressive: bool, size=(4000, 2400), orientation: int = 1) -> Path:
    """A smooth photo-like JPEG (gradients, so decodes of different routes are comparable)."""
    w, h = size
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    rgb = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1).astype(np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, "JPEG", quality=90, progressive=progressive, exif=exif)
    return path


def test_only_photos_slow_to_decode_get_a_preview(tmp_path):
    previews = tmp_path / "previews"
    slow = _photo(tmp_path / "slow.jpg", progressive=True)
    fast = _photo(tmp_path / "fast.jpg", progressive=False)
    small = _photo(tmp_path / "small.jpg", progressive=True, size=(1200, 800))
    assert thumbnail_with_preview(fast, size=256, preview_dir=previews) is None
    assert thumbnail_with_preview(small, size=256, preview_dir=previews) is None
    thumb = thumbnail_with_preview(slow, size=256, preview_dir=previews)
    assert thumb is not None and max(thumb.size) == 256
    made = preview_path(previews, slow)
    assert made is not None and made.exists()
    with Image.open(made) as img:
        assert img.format == "JPEG" and not img.info.get("progressive")
        assert PREVIEW_SIDE * 0.95 <= max(img.size) <= PREVIEW_SIDE  # a DCT scale within 5 %
        assert img.size[0] / img.size[1] == 4000 / 2400
    assert sorted(p.name for p in previews.rglob("*.jpg")) == [made.name]
    # Made once: the next thumbnail (another size) is read from the preview.
    again = thumbnail_with_preview(slow, size=128, preview_dir=previews)
    assert again is not None and max(again.size) == 128


def test_the_preview_stands_for_the_photo_until_the_box_outgrows_it(tmp_path):
    previews = tmp_path / "previews"
    slow = _photo(tmp_path / "slow.jpg", progressive=True, orientation=6)  # shown 2400x4000
    assert source_info(slow) == source_info(slow).__class__(2400, 4000, True)
    assert preview_for(slow, width=1920, height=1080, preview_dir=previews) is None  # none yet
    thumbnail_with_preview(slow, size=256, preview_dir=previews)
    made = preview_for(slow, width=1920, height=1080, preview_dir=previews)
    assert made is not None
    with Image.open(made) as img:
        assert img.size[1] > img.size[0]  # oriented like the photo on screen
    assert preview_for(slow, width=4000, height=4000, preview_dir=previews) is None  # 100 %
    assert preview_for(slow, width=1920, height=1080, preview_dir=None) is None
    # An edited file is a new photo: its old preview is not used.
    stat = os.stat(slow)
    os.utime(slow, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert preview_for(slow, width=1920, height=1080, preview_dir=previews) is None


def test_viewer_opens_a_progressive_24mp_photo_from_its_preview(qtbot, tmp_path):
    folder = tmp_path / "big"
    folder.mkdir()
    shutil.copy(shared(*BIG_PHOTO), folder / "big.jpg")
    window = make_window(qtbot, (1920, 1080))
    open_and_wait(qtbot, window, folder, 1)
    item = window.model.item(0)
    window.model.thumbnail(item)
    qtbot.waitUntil(lambda: window.model.has_thumbnail(0), timeout=30_000)
    assert preview_for(
        Path(item.ref.uri), width=1400, height=930, preview_dir=window.cache_dir / "previews"
    )
    select_rows(window, [0])
    window.open_viewer()
    qtbot.waitUntil(window.viewer.loaded, timeout=10_000)
    view = window.viewer.view
    assert (view.original_size().width(), view.original_size().height()) == (6000, 4000)
    pixmap = view.pixmap()
    assert pixmap.width() <= view.width() and pixmap.height() <= view.height()
    assert pixmap.width() >= view.width() - 2 or pixmap.height() >= view.height() - 2
    # Zoomed past the preview, the photo's own pixels come.
    view.zoom_by(4.0)
    qtbot.waitUntil(lambda: view.pixmap().width() == 6000, timeout=20_000)
