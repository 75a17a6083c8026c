"""Make docs/screenshot.png: the main window with real photos, tagged and partly reviewed.

The photos are 20 from ../shared/data/coco-mini (Flickr, each under its own
Creative Commons licence); the script tags them with the default backbone in a
temporary PHOTOTAGGER_HOME, makes a few decisions as a person would, grabs the
window offscreen and writes the photo credits to docs/screenshot-credits.md.

    QT_QPA_PLATFORM=offscreen python docs/make_screenshot.py [--size 1280x800]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COCO = ROOT.parent / "shared" / "data" / "coco-mini"
PHOTOS = 20
SELECTED = "000000030752.jpg"  # a skier and her dog in the snow


def process_events() -> None:
    # Through an event loop object with flags: PySide6 6.12's static processEvents()
    # drops a reference to None on each call, and a long loop of them ends Python.
    from PySide6.QtCore import QEventLoop

    QEventLoop().processEvents(QEventLoop.ProcessEventsFlag.AllEvents)


def wait_for(app, condition, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        process_events()
        time.sleep(0.005)


def credits(names: list[str]) -> str:
    with open(COCO / "tags.csv", encoding="utf-8", newline="") as fh:
        rows = {Path(r["path"]).name: r for r in csv.DictReader(fh)}
    lines = [
        "Photos in the screenshot: from the COCO 2017 dataset (annotations CC BY 4.0), "
        "originally on Flickr, each under its own licence:",
        "",
    ]
    for name in names:
        row = rows.get(name)
        if row:
            lines.append(f"- `{name}`: {row['license']} ({row['flickr_url']})")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="phototagger-shot-") as tmp:
        os.environ["PHOTOTAGGER_HOME"] = str(Path(tmp) / "home")
        # A home of its own with a Pictures folder, where the folder tree starts.
        os.environ["HOME"] = str(Path(tmp) / "me")
        folder = Path(tmp) / "me" / "Pictures" / "Weekend photos"
        folder.mkdir(parents=True)
        (folder.parent / "Holidays 2025").mkdir()
        names = [p.name for p in sorted((COCO / "train2017").glob("*.jpg"))[:PHOTOS]]
        for name in names:
            shutil.copy2(COCO / "train2017" / name, folder / name)

        sys.path.insert(0, str(ROOT))
        from core.settings import load_settings
        from desktop.app import create_app
        from desktop.main_window import MainWindow

        app = create_app([])
        window = MainWindow(load_settings())
        window.resize(width, height)
        window.show()
        window.open_folder(folder)
        wait_for(app, lambda: window.model.rowCount() == PHOTOS and window.db.pending == 0)
        window.start_tagging(selection_only=False)
        wait_for(app, lambda: window.inference is None and window.db.pending == 0)

        # A few decisions, as a person reviewing would make them.
        for row in range(0, 8):
            window.grid.setCurrentIndex(window.proxy.index(row, 0))
            wait_for(app, lambda: len(window.panel.items) == 1)
            if window.panel.entries():
                window.panel.accept_current()
                wait_for(app, lambda: window.db.pending == 0)
        row = next(r for r in range(PHOTOS) if window.model.item(r).name == SELECTED)
        window.grid.setCurrentIndex(window.proxy.index(row, 0))
        wait_for(app, lambda: len(window.panel.items) == 1)
        window.panel.add_tag("winter holiday")
        wait_for(app, lambda: window.db.pending == 0)
        entries = window.panel.entries()
        suggested = [e for e in entries if e.state == "suggested"]
        if len(suggested) > 1:
            window.panel.tag_list.setCurrentRow(entries.index(suggested[-1]))
            window.panel.reject_current()
            wait_for(app, lambda: window.db.pending == 0)
        window.panel.tag_list.setCurrentRow(0)
        window.sidebar.tag_search.setText("")
        window._refresh_counts()
        wait_for(app, lambda: not window.loader.busy, 60)
        for _ in range(20):
            process_events()
            time.sleep(0.01)
        window.show_message(f"Tagged {PHOTOS} photos · reviewing {SELECTED}")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(args.out))
        window.shutdown()
    (args.out.parent / "screenshot-credits.md").write_text(credits(names), encoding="utf-8")
    print(args.out)


if __name__ == "__main__":
    main()
