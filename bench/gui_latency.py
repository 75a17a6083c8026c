"""GUI latency of the desktop app, offscreen: does the window stay responsive while it works?

A heartbeat timer ticks on the GUI thread every few milliseconds; the longest gap
between ticks is the longest time a click or a repaint would have waited. Measured:

* the longest GUI-thread stall while tagging 500 photos (target < 100 ms);
* from choosing a folder of 10,000 photos to the grid showing them (target < 1 s),
  and to the first screen of thumbnails (target < 2 s), with a cold thumbnail cache;
* the same first screen on a second visit (thumbnails from the disk cache).

The folders are symlinks to ../shared/data/coco-mini photos in a temporary
directory; the database and caches live in a temporary PHOTOTAGGER_HOME. The
backbone's ONNX export is made beforehand in a separate process, as a second
start of the app would find it. Prints one JSON object.

    QT_QPA_PLATFORM=offscreen python bench/gui_latency.py [--photos 10000] [--tag 500]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COCO = ROOT.parent / "shared" / "data" / "coco-mini" / "train2017"


def link_folder(dest: Path, count: int) -> Path:
    """``count`` photos as symlinks to the shared ones, each a distinct path (so distinct thumbnails)."""
    sources = sorted(COCO.glob("*.jpg"))
    dest.mkdir(parents=True)
    for i in range(count):
        src = sources[i % len(sources)]
        (dest / f"{i:05d}_{src.name}").symlink_to(src)
    return dest


class Heartbeat:
    """Ticks on the GUI thread; remembers the gaps between ticks."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> dict:
        self._timer.stop()
        gaps = sorted(self.gaps) or [0.0]
        return {
            "max_stall_ms": round(max(0.0, gaps[-1] - self.interval) * 1000, 1),
            "p99_stall_ms": round(
                max(0.0, gaps[int(len(gaps) * 0.99) - 1] - self.interval) * 1000, 1
            ),
            "ticks": len(self.gaps),
        }

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self._last = now


def wait_for(app, condition, timeout: float) -> float:
    """Run the event loop until ``condition()``; returns when it became true (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met in time")
        app.processEvents()
        time.sleep(0.001)
    return time.perf_counter()


def visible_rows(window) -> list[int]:
    viewport = window.grid.viewport().rect()
    rows = []
    for row in range(window.proxy.rowCount()):
        rect = window.grid.visualRect(window.proxy.index(row, 0))
        if rect.top() > viewport.bottom():
            break
        if rect.intersects(viewport):
            rows.append(row)
    return rows


def measure_open(app, window, folder: Path, count: int) -> dict:
    """Choosing a folder -> grid shown -> first screen of thumbnails."""
    beat = Heartbeat()
    beat.start()
    start = time.perf_counter()
    window.open_folder(folder)
    shown = wait_for(app, lambda: window.model.rowCount() == count, 30)
    window.grid.viewport().repaint()  # the grid as the person sees it, painted
    painted = time.perf_counter()
    rows = visible_rows(window)
    first_screen = wait_for(app, lambda: all(window.model.has_thumbnail(r) for r in rows), 60)
    wait_for(app, lambda: window.db.pending == 0, 60)
    registered = time.perf_counter()
    stalls = beat.stop()
    return {
        "photos": count,
        "grid_shown_s": round(painted - start, 3),
        "model_filled_s": round(shown - start, 3),
        "first_screen_thumbnails_s": round(first_screen - start, 3),
        "thumbnails_on_first_screen": len(rows),
        "all_registered_in_db_s": round(registered - start, 3),
        **stalls,
    }


def measure_tagging(app, window, folder: Path, count: int) -> dict:
    window.open_folder(folder)
    wait_for(app, lambda: window.model.rowCount() == count and window.db.pending == 0, 60)
    beat = Heartbeat()
    beat.start()
    start = time.perf_counter()
    window.start_tagging(selection_only=False)
    wait_for(app, lambda: window.inference is None, 1800)
    elapsed = time.perf_counter() - start
    stalls = beat.stop()
    summary = window.last_summary
    return {
        "photos": count,
        "tagged": summary.tagged,
        "failed": summary.failed,
        "seconds": round(elapsed, 2),
        "photos_per_s": round(summary.tagged / elapsed, 1),
        **stalls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--tag", type=int, default=500)
    args = parser.parse_args()
    if not COCO.is_dir():
        sys.exit(f"shared photos not found at {COCO}")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="gui-latency-") as tmp:
        tmp_path = Path(tmp)
        os.environ["PHOTOTAGGER_HOME"] = str(tmp_path / "home")
        big = link_folder(tmp_path / "big", args.photos)
        small = link_folder(tmp_path / "tagging", args.tag)
        # The one-time ONNX export, in another process: this one must not import torch.
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from core.pipeline import Tagger; from core.settings import cache_dir;"
                "Tagger.open('efficientnet-lite0', device='cpu', cache_dir=cache_dir() / 'onnx')",
            ],
            cwd=ROOT,
            check=True,
        )
        sys.path.insert(0, str(ROOT))
        from core.settings import load_settings
        from desktop.app import create_app
        from desktop.main_window import MainWindow

        app = create_app([])
        started = time.perf_counter()
        window = MainWindow(load_settings())
        window.resize(1280, 800)
        window.show()
        app.processEvents()
        window_up = time.perf_counter() - started
        cold = measure_open(app, window, big, args.photos)
        window.open_folder(small)
        wait_for(app, lambda: window.model.rowCount() == args.tag and window.db.pending == 0, 60)
        warm = measure_open(app, window, big, args.photos)
        tagging = measure_tagging(app, window, small, args.tag)
        window.shutdown()
        result = {
            "benchmark": "gui_latency",
            "platform": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
            "window_up_s": round(window_up, 3),
            "open_10k_cold": cold,
            "open_10k_second_visit": warm,
            "tagging": tagging,
            "targets": {
                "tagging_max_stall_ms": {"target": 100, "met": tagging["max_stall_ms"] < 100},
                "grid_shown_s": {"target": 1.0, "met": cold["grid_shown_s"] < 1.0},
                "first_screen_thumbnails_s": {
                    "target": 2.0,
                    "met": cold["first_screen_thumbnails_s"] < 2.0,
                },
            },
        }
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
