"""GUI latency of the desktop app, offscreen: does the window stay responsive while it works?

A heartbeat timer ticks on the GUI thread every few milliseconds; the longest gap
between ticks is the longest time a click or a repaint would have waited. Measured:

* from choosing a folder of 10,000 photos (in 20 subfolders) to the grid showing them
  (target < 1 s), and to the first screen of thumbnails (target < 2 s), cold thumbnail
  cache; then the same on a second visit (thumbnails from the disk cache);
* the longest GUI-thread stall while 10,000 photos are tagged (target < 100 ms): a
  stand-in tagger on a worker thread feeds batches of tags to the window through the
  same slots the real run's signals reach, faster than the real engine can (so the grid,
  counts and filters take 10,000 updates), and the real engine tags ``--tag`` photos
  end to end (ONNX on the CPU, database writes, faces as set);
* from Space on a 24 MP photo (../shared/data/decode-bench) to it on screen in the
  viewer, decoded at the viewer's size off the GUI thread (target < 300 ms), at
  1280x800 and 1920x1080, with the stall while it decodes.

The 10,000 photos are small JPEGs (the COCO photos of ../shared/data/coco-mini
reduced to 480 px) written into a temporary folder; the database and caches live
in a temporary PHOTOTAGGER_HOME. The backbone's ONNX export is made once, in a
separate process, into a cache reused by later runs (``--onnx-cache``). Prints one
JSON object.

    QT_QPA_PLATFORM=offscreen python bench/gui_latency.py [--photos 10000] [--tag 500]
"""

from __future__ import annotations

import argparse
import faulthandler
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
COCO = DATA / "coco-mini"
PARTS = ("open", "standin", "viewer", "tagging")
BIG_PHOTO = DATA / "decode-bench" / "immich-test-assets" / "albums" / "text" / "craft-beer.jpg"


def make_folder(dest: Path, count: int, *, subfolders: int = 20, side: int = 480) -> Path:
    """``count`` small real JPEGs in ``subfolders`` folders: COCO photos reduced to ``side`` px.

    Each file is written anew (distinct paths, so distinct thumbnails to make).
    """
    from PIL import Image

    bases = []
    for path in sorted(COCO.glob("*/*.jpg")):
        with Image.open(path) as img:
            img.thumbnail((side, side))
            buffer = io.BytesIO()
            img.convert("RGB").save(buffer, "JPEG", quality=85)
            bases.append((path.name, buffer.getvalue()))
    for i in range(count):
        name, data = bases[i % len(bases)]
        folder = dest / f"album-{i % subfolders:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}_{name}").write_bytes(data)
    return dest


STALL_DUMPS: dict[str, object] = {}
"""``file``: where to write every thread's stack when the GUI thread misses its tick (--stall-dumps)."""
STALL_DUMP_AFTER = 0.1


class Heartbeat:
    """Ticks on the GUI thread; remembers the gaps between ticks.

    With ``--stall-dumps``, each tick also re-arms faulthandler's watchdog: a C thread that
    needs no GIL, so when a tick is 100 ms late it writes what every thread is doing then,
    the one holding the GIL marked "Current thread".
    """

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QTimer

        self.interval = interval_ms / 1000
        self.gaps: list[float] = []
        self.ends: list[float] = []  # when each gap ended, for where the longest one fell
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self.ends.clear()
        self._last = self._started = time.perf_counter()
        self._timer.start()

    def stop(self) -> dict:
        self._timer.stop()
        if STALL_DUMPS:
            faulthandler.cancel_dump_traceback_later()
        gaps = sorted(self.gaps) or [0.0]
        return {
            "max_stall_ms": round(max(0.0, gaps[-1] - self.interval) * 1000, 1),
            "p99_stall_ms": round(
                max(0.0, gaps[int(len(gaps) * 0.99) - 1] - self.interval) * 1000, 1
            ),
            "ticks": len(self.gaps),
            "max_stall_ended_at_s": round(
                self.ends[self.gaps.index(max(self.gaps))] - self._started if self.gaps else 0.0, 2
            ),
        }

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append(now - self._last)
        self.ends.append(now)
        self._last = now
        if STALL_DUMPS:
            file = STALL_DUMPS["file"]
            print(f"-- tick at {now - self._started:.3f} s", file=file, flush=True)  # type: ignore[arg-type]
            faulthandler.dump_traceback_later(STALL_DUMP_AFTER, file=file)  # type: ignore[arg-type]


def process_events() -> None:
    """Run the GUI's pending events once.

    Through an event loop object with explicit flags: PySide6 6.12's static
    ``QCoreApplication.processEvents()`` (and the flagless overload) drops a
    reference to None it never took, and a loop that calls it every millisecond
    brings None's count to zero and Python down within minutes (Python 3.11).
    """
    from PySide6.QtCore import QEventLoop

    global _LOOP
    if _LOOP is None:
        _LOOP = QEventLoop()
    _LOOP.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)


_LOOP = None


def wait_for(app, condition, timeout: float) -> float:
    """Run the event loop until ``condition()``; returns when it became true (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met in time")
        process_events()
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


def measure_standin_tagging(
    app, window, count: int, *, batch: int = 32, rate: float = 800.0
) -> dict:
    """A stand-in tagger feeds the open grid's ``count`` photos tags at ``rate`` photos/s.

    It runs on its own thread and reaches the window through queued Qt signals
    connected to the slots a real run's signals reach (``_apply_updates``,
    ``run_status.show_run_progress``), so the GUI does the same work per batch as in a run.
    """
    from PySide6.QtCore import QObject, Signal

    from core.engine.pipeline import Progress
    from core.learning.review import PhotoTag
    from desktop.tagging import PhotoUpdate

    class StandIn(QObject):
        batchTagged = Signal(list)
        progressed = Signal(object)

    feeder = StandIn()
    feeder.batchTagged.connect(window._apply_updates)
    feeder.progressed.connect(window.run_status.show_run_progress)
    items = window.model.items()[:count]
    vocabulary = ["dog", "cat", "beach", "car", "pizza", "person", "tree", "snow"]
    done = threading.Event()

    def run() -> None:
        started = time.perf_counter()
        for first in range(0, len(items), batch):
            chunk = items[first : first + batch]
            updates = [
                PhotoUpdate(
                    item.ref.uri,
                    item.photo_id,
                    "tagged",
                    None,
                    tuple(
                        PhotoTag(
                            vocabulary[(n + k) % len(vocabulary)],
                            0.9 - 0.2 * k,
                            "hierarchy",
                            "suggested",
                        )
                        for k in range(3)
                    ),
                )
                for n, item in enumerate(chunk, start=first)
            ]
            feeder.batchTagged.emit(updates)
            elapsed = time.perf_counter() - started
            feeder.progressed.emit(Progress(first + len(chunk), 0, len(items), elapsed))
            time.sleep(max(0.0, (first + len(chunk)) / rate - elapsed))
        done.set()

    window.run_status.run_started()
    beat = Heartbeat()
    beat.start()
    start = time.perf_counter()
    threading.Thread(target=run, daemon=True).start()
    wait_for(app, done.is_set, 600)
    wait_for(app, lambda: window.model.state_counts()["suggested"] >= len(items), 60)
    elapsed = time.perf_counter() - start
    process_events()
    stalls = beat.stop()
    window.run_status.run_ended()
    return {
        "photos": len(items),
        "batch": batch,
        "fed_photos_per_s": round(len(items) / elapsed, 1),
        "seconds": round(elapsed, 2),
        **stalls,
    }


def make_viewer_folders(dest: Path, copies: int = 5) -> dict[str, Path]:
    """The shared 24 MP photo (a progressive JPEG) and the same pixels as a baseline JPEG.

    Cameras write baseline JPEGs, which decode at 1/2, 1/4 or 1/8 scale for a
    fraction of the work; a progressive one must be read whole at any scale.
    Each kind is copied ``copies`` times so that every open decodes afresh.
    """
    from PIL import Image

    folders = {"progressive": dest / "progressive", "baseline": dest / "baseline"}
    for folder in folders.values():
        folder.mkdir(parents=True)
    with Image.open(BIG_PHOTO) as img:
        img.save(folders["baseline"] / "photo-0.jpg", "JPEG", quality=92, progressive=False)
    for i in range(copies):
        shutil.copy(BIG_PHOTO, folders["progressive"] / f"photo-{i}.jpg")
        if i:
            shutil.copy(folders["baseline"] / "photo-0.jpg", folders["baseline"] / f"photo-{i}.jpg")
    return folders


def measure_viewer(app, window, folder: Path, size: tuple[int, int], repeats: int = 5) -> dict:
    """Space on a 24 MP photo until its screen-sized decode is on screen; each copy decoded cold.

    Also when the first image (the grid's thumbnail, stretched) is on screen. The
    grid has made its thumbnails first, as when a person looks at it before pressing
    Space; for photos slow to decode that makes their screen-sized previews too.
    """
    window.resize(*size)
    window.open_folder(folder)
    wait_for(app, lambda: window.model.rowCount() == repeats and window.db.pending == 0, 60)
    # The person has seen the grid: its thumbnails (decodes of the same big photos) are done.
    for row in range(repeats):
        window.model.thumbnail(window.model.item(row))
    wait_for(app, lambda: all(window.model.has_thumbnail(r) for r in range(repeats)), 120)
    times, stalls, firsts = [], [], []
    for row in range(repeats):
        window.close_viewer()
        window.grid.setCurrentIndex(window.proxy.index(row, 0))
        process_events()
        beat = Heartbeat(interval_ms=2)
        beat.start()
        start = time.perf_counter()
        window.open_viewer()
        if window.viewer.view.has_photo():  # the grid's thumbnail, standing in
            window.viewer.view.repaint()
            firsts.append(time.perf_counter() - start)
        wait_for(app, window.viewer.loaded, 30)
        window.viewer.view.repaint()
        painted = time.perf_counter()
        stalls.append(beat.stop()["max_stall_ms"])
        times.append(painted - start)
    pixmap = window.viewer.view.pixmap()
    original = window.viewer.view.original_size()
    window.close_viewer()
    return {
        "jpeg": folder.name,
        "window": f"{size[0]}x{size[1]}",
        "photo": f"{original.width()}x{original.height()}",
        "decoded_at": f"{pixmap.width()}x{pixmap.height()}",
        # The thumbnail stretched at once, then the screen-sized decode (or preview) replaces it.
        "first_image_ms_median": round(statistics.median(firsts) * 1000, 1) if firsts else None,
        "open_ms_median": round(statistics.median(times) * 1000, 1),
        "open_ms_max": round(max(times) * 1000, 1),
        "max_stall_ms": max(stalls),
        "opens": repeats,
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


def targets(parts: dict) -> dict:
    """Each target measured in this run: its value and whether it is met."""
    values = {}
    stalls = [
        parts[name]["max_stall_ms"]
        for name in ("tagging_real_engine", "tagging_10k_stand_in")
        if name in parts
    ]
    if stalls:
        values["tagging_max_stall_ms"] = (100, max(stalls))
    if "open_10k_cold" in parts:
        values["grid_shown_s"] = (1.0, parts["open_10k_cold"]["grid_shown_s"])
        values["first_screen_thumbnails_s"] = (
            2.0,
            parts["open_10k_cold"]["first_screen_thumbnails_s"],
        )
    if "viewer_24mp" in parts:
        # Per window size and JPEG kind, the median of five cold opens; the worst of those.
        values["viewer_open_24mp_ms"] = (
            300,
            max(v["open_ms_median"] for v in parts["viewer_24mp"]),
        )
    return {
        name: {"target": target, "value": value, "met": value < target}
        for name, (target, value) in values.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--tag", type=int, default=500, help="photos the real engine tags")
    parser.add_argument(
        "--onnx-cache",
        type=Path,
        default=Path.home() / ".cache" / "phototagger-bench" / "onnx",
        help="where the backbone's ONNX export is kept between runs",
    )
    parser.add_argument(
        "--parts",
        type=lambda text: set(text.split(",")),
        default=set(PARTS),
        help=f"what to measure, comma-separated (default all: {','.join(PARTS)})",
    )
    parser.add_argument(
        "--stall-dumps",
        type=Path,
        help="write every thread's stack here whenever the GUI thread stalls 100 ms (diagnosis)",
    )
    args = parser.parse_args()
    if args.stall_dumps:
        STALL_DUMPS["file"] = args.stall_dumps.open("w")
    for needed in (COCO, BIG_PHOTO):
        if not needed.exists():
            sys.exit(f"shared data not found at {needed}")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="gui-latency-") as tmp:
        tmp_path = Path(tmp)
        home = tmp_path / "home"
        os.environ["PHOTOTAGGER_HOME"] = str(home)
        made = time.perf_counter()
        big = make_folder(tmp_path / "big", args.photos)
        small = make_folder(tmp_path / "tagging", args.tag, subfolders=1)
        made = time.perf_counter() - made
        viewer_folders = make_viewer_folders(tmp_path / "viewer")
        # The one-time ONNX export, in another process (this one must not import torch),
        # into a cache that outlives the run; the app finds it in its cache folder.
        args.onnx_cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from core.engine.pipeline import Tagger;"
                "Tagger.open('efficientnet-lite0', device='cpu', cache_dir=Path(sys.argv[1]))",
                str(args.onnx_cache),
            ],
            cwd=ROOT,
            check=True,
        )
        (home / "cache").mkdir(parents=True)
        (home / "cache" / "onnx").symlink_to(args.onnx_cache.resolve())
        sys.path.insert(0, str(ROOT))
        from core.settings import load_settings
        from desktop.app import create_app
        from desktop.main_window import MainWindow

        load_before = round(os.getloadavg()[0], 2)
        app = create_app([])
        started = time.perf_counter()
        window = MainWindow(load_settings())
        window.resize(1280, 800)
        window.show()
        process_events()
        window_up = time.perf_counter() - started
        parts: dict[str, object] = {}
        if "open" in args.parts:
            parts["open_10k_cold"] = measure_open(app, window, big, args.photos)
        if "standin" in args.parts:
            if "open" not in args.parts:
                window.open_folder(big)
                wait_for(app, lambda: window.model.rowCount() == args.photos, 60)
            parts["tagging_10k_stand_in"] = measure_standin_tagging(app, window, args.photos)
        if "open" in args.parts:
            window.open_folder(small)
            wait_for(
                app, lambda: window.model.rowCount() == args.tag and window.db.pending == 0, 60
            )
            parts["open_10k_second_visit"] = measure_open(app, window, big, args.photos)
        if "viewer" in args.parts:
            parts["viewer_24mp"] = [
                measure_viewer(app, window, folder, size)
                for folder in viewer_folders.values()
                for size in ((1280, 800), (1920, 1080))
            ]
        window.resize(1280, 800)
        if "tagging" in args.parts:
            parts["tagging_real_engine"] = measure_tagging(app, window, small, args.tag)
        window.shutdown()
        result = {
            "benchmark": "gui_latency",
            "platform": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
            # Other work on the machine stretches every figure here: say how much there was.
            "load_average_1min_before_after": [load_before, round(os.getloadavg()[0], 2)],
            "photos_written_s": round(made, 1),
            "window_up_s": round(window_up, 3),
            **parts,
            "targets": targets(parts),
        }
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
