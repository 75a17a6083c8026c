"""Failed photos: named, with the reason in plain words, the path, show in folder, and retry."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from PIL import Image
from PySide6.QtCore import Qt

from desktop import failures
from desktop.failures import plain_reason
from tests.desktop.conftest import (
    WAIT_TAGGING_MS,
    copy_photos,
    open_and_wait,
    screenshot,
    select_rows,
    tag_and_wait,
    wait_db,
    wait_first_thumbnails,
)


def test_plain_reason_keeps_the_sentence_and_drops_the_technical_detail():
    damaged = (
        "the image data is damaged or truncated — image file is truncated (3 bytes not processed)"
    )
    assert plain_reason(damaged) == "The image data is damaged or truncated"
    assert plain_reason("the file is empty") == "The file is empty"
    assert plain_reason(None) == "Could not be tagged"


def _select(qtbot, window, name: str):
    row = next(r for r in range(window.proxy.rowCount()) if window.shown_items()[r].name == name)
    select_rows(window, [row])
    qtbot.waitUntil(lambda: [i.name for i in window.panel.items] == [name])
    return window.panel.items[0]


def _touch(path: Path) -> None:
    later = time.time_ns() + 5_000_000_000  # a new version, whatever the clock's resolution
    os.utime(path, ns=(later, later))


def test_failed_card_explains_shows_folder_and_retries_a_fixed_file(
    qtbot, window, tmp_path, output_dir, monkeypatch
):
    folder = copy_photos(tmp_path / "mixed", 4)
    good = sorted(folder.glob("*.jpg"))[0]
    (folder / "notes.jpg").write_text("this is not a photo")
    (folder / "empty.png").write_bytes(b"")
    open_and_wait(qtbot, window, folder, 6)
    tag_and_wait(qtbot, window)
    assert window.model.state_counts()["failed"] == 2

    window.sidebar.choose_state("failed")
    assert {i.name for i in window.shown_items()} == {"notes.jpg", "empty.png"}
    item = _select(qtbot, window, "notes.jpg")
    box = window.panel.failure
    assert box.isVisibleTo(window.panel)
    assert box.reason.text() == "⚠ Not an image file, or a format PhotoTagger cannot read"
    assert "))" not in box.reason.text()
    assert box.path.text() == str(folder / "notes.jpg")
    assert window.model.data(window.model.index(window.model.row_of(item))) == "notes.jpg"
    wait_first_thumbnails(qtbot, window, 2)
    screenshot(window, output_dir, "failed-card-1280x800")

    opened: list[str] = []
    monkeypatch.setattr(
        failures.QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True
    )
    qtbot.mouseClick(box.folder_button, Qt.MouseButton.LeftButton)
    assert [Path(p) for p in opened] == [folder]

    # Retry before fixing: tried again, still failed, still explained.
    qtbot.mouseClick(box.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.inference is None, timeout=WAIT_TAGGING_MS)
    wait_db(qtbot, window)
    assert (window.last_summary.tagged, window.last_summary.failed) == (0, 1)
    assert window.model.item_by_uri(item.ref.uri).state == "failed"

    # Fixed (replaced by a real photo): Retry tags it and the failure box goes.
    shutil.copy(good, folder / "notes.jpg")
    _touch(folder / "notes.jpg")
    qtbot.mouseClick(box.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.inference is None, timeout=WAIT_TAGGING_MS)
    wait_db(qtbot, window)
    fixed = window.model.item_by_uri(str(folder / "notes.jpg"))
    assert fixed.state == "suggested" and fixed.error is None and fixed.tags
    assert window.proxy.rowCount() == 1  # the Failed filter now shows empty.png only

    # A file fixed outside the app is tagged by the next ordinary run; nothing else is redone.
    with Image.open(good) as image:
        image.save(folder / "empty.png")
    _touch(folder / "empty.png")
    window.sidebar.choose_state("")
    tag_and_wait(qtbot, window)
    assert (window.last_summary.tagged, window.last_summary.skipped) == (1, 5)
    assert window.model.state_counts()["failed"] == 0
    window.resize(1920, 1080)
    wait_first_thumbnails(qtbot, window, 6)
    screenshot(window, output_dir, "failed-fixed-1920x1080")


def test_failed_card_at_1920(qtbot, window, tmp_path, output_dir):
    folder = copy_photos(tmp_path / "broken", 2)
    good = sorted(folder.glob("*.jpg"))[0].read_bytes()
    (folder / "truncated.jpg").write_bytes(good[:200])
    open_and_wait(qtbot, window, folder, 3)
    tag_and_wait(qtbot, window)
    window.resize(1920, 1080)
    window.sidebar.choose_state("failed")
    item = _select(qtbot, window, "truncated.jpg")
    assert item.state == "failed"
    assert not window.panel.failure.reason.text().endswith("))")
    assert window.panel.failure.path.text() == item.ref.uri
    screenshot(window, output_dir, "failed-card-1920x1080")
