"""Sort by date taken, name or folder; group by folder or day; details in the panel."""

from __future__ import annotations

from PIL import Image

from desktop.models import GroupRole
from tests.desktop.conftest import open_and_wait, screenshot, select_rows, wait_first_thumbnails


def _photo(path, *, taken: str | None, camera: str | None = None, color=(200, 80, 40)) -> None:
    exif = Image.Exif()
    if camera:
        exif[0x010F], exif[0x0110] = camera.split(" ", 1)[0], camera
    if taken:
        exif.get_ifd(0x8769)[36867] = taken
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), color).save(path, exif=exif)


def _names(window) -> list[str]:
    return [window.proxy.index(r, 0).data() for r in range(window.proxy.rowCount())]


def test_sort_and_group(qtbot, window, tmp_path, output_dir):
    root = tmp_path / "album"
    _photo(root / "a-trip" / "z.jpg", taken="2021:07:01 10:00:00", camera="NIKON NIKON D70")
    _photo(root / "a-trip" / "y.jpg", taken="2021:07:02 09:00:00")
    _photo(root / "b-home" / "x.jpg", taken="2019:01:05 08:00:00", color=(40, 90, 200))
    _photo(root / "b-home" / "w.jpg", taken="2021:07:01 08:00:00", color=(40, 200, 90))
    _photo(root / "top.jpg", taken=None)
    open_and_wait(qtbot, window, root, 5)
    # By folder: a folder's own photos, then each subfolder's, by name.
    qtbot.waitUntil(lambda: _names(window) == ["top.jpg", "y.jpg", "z.jpg", "w.jpg", "x.jpg"])

    window.arranger.sort_actions["name"].trigger()
    assert _names(window) == ["top.jpg", "w.jpg", "x.jpg", "y.jpg", "z.jpg"]

    window.arranger.sort_actions["date"].trigger()
    qtbot.waitUntil(lambda: not window.arranger.reader.busy, timeout=10_000)
    # top.jpg has no date taken: its file time (just now) stands in.
    assert _names(window) == ["x.jpg", "w.jpg", "z.jpg", "y.jpg", "top.jpg"]

    window.arranger.group_actions["folder"].trigger()  # by date within each folder
    assert _names(window) == ["top.jpg", "z.jpg", "y.jpg", "x.jpg", "w.jpg"]
    captions = [window.proxy.index(r, 0).data(GroupRole) for r in range(5)]
    assert captions == ["album", "a-trip", "a-trip", "b-home", "b-home"]

    window.arranger.group_actions["day"].trigger()
    captions = [window.proxy.index(r, 0).data(GroupRole) for r in range(5)]
    assert captions[:4] == ["Sat 5 Jan 2019", "Thu 1 Jul 2021", "Thu 1 Jul 2021", "Fri 2 Jul 2021"]
    wait_first_thumbnails(qtbot, window, 5)
    screenshot(window, output_dir, "grouped-by-day")

    # The selection stays on its photo through a re-sort.
    select_rows(window, [_names(window).index("z.jpg")])
    window.arranger.group_actions["none"].trigger()
    window.arranger.sort_actions["name"].trigger()
    assert window.selected_items()[0].name == "z.jpg"
    qtbot.waitUntil(lambda: window.panel.details.text() != "")
    assert "NIKON D70" in window.panel.details.text()
    assert "Thu 1 Jul 2021, 10:00" in window.panel.details.text()
    assert "64 × 48" in window.panel.details.text()
    screenshot(window, output_dir, "details")
