"""Exporting a library's tags to CSV and JSON: seconds and SQL statements, per photo.

Builds a database of ``--photos`` photos (12 suggestions each, a decision on
every third, one in fifty failed) in a scratch folder, then times
``export_rows`` written to CSV and to JSON, for the whole library and for a
list of URIs (what ``phototagger tag --csv`` exports), and counts the SQL
statements each issues (CPU seconds too: SQLite runs in-process, and a
busy machine's wall clock hides the difference). Synthetic rows: no photo is decoded. Prints one JSON object.

    python bench/export.py [--photos 3000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import _common  # noqa: F401  (puts the project on sys.path)
import numpy as np

from core.engine.sources import PhotoRef
from core.engine.vocabulary import TagScore
from core.export.export import export_rows, write_csv, write_json
from core.store import PhotoResult, Store

TAGS = [f"tag {i}" for i in range(40)]


def build(store: Store, photos: int) -> list[str]:
    """Tagged photos in one run; returns their URIs."""
    rng = np.random.default_rng(0)
    run = store.start_run(backbone="b", device="cpu", runtime="bench", total=photos)
    uris = [f"/library/{i // 500:03d}/photo-{i:05d}.jpg" for i in range(photos)]
    results = [
        PhotoResult(
            PhotoRef(uri),
            embedding=rng.standard_normal(8).astype(np.float32),
            suggestions=tuple(
                TagScore(TAGS[t], float(s), "imagenet")
                for t, s in zip(rng.choice(40, 12, replace=False), rng.random(12), strict=True)
            ),
            error="cannot decode" if i % 50 == 0 else None,
        )
        for i, uri in enumerate(uris)
    ]
    store.save_results(results, run_id=run, backbone="b")
    for i, uri in enumerate(uris[::3]):
        pid = store.photo_id(uri)
        store.record_decision(pid, TAGS[i % 40], "accept" if i % 2 else "reject")  # type: ignore[arg-type]
    return uris


def timed(store: Store, write, out: Path, **kwargs) -> dict:
    statements = 0

    def count(_sql: str) -> None:
        nonlocal statements
        statements += 1

    store._db.conn.set_trace_callback(count)
    start, cpu = time.perf_counter(), time.process_time()
    rows = write(export_rows(store, threshold=0.2, top_k=8, **kwargs), out)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    store._db.conn.set_trace_callback(None)
    return {
        "rows": rows,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),  # what a busy machine's wall clock hides
        "ms_per_photo": round(1000 * seconds / max(rows, 1), 4),
        "statements": statements,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--photos", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        with Store(folder / "bench.db") as store:
            uris = build(store, args.photos)
            report = {
                "photos": args.photos,
                "csv_library": timed(store, write_csv, folder / "t.csv"),
                "json_library": timed(store, write_json, folder / "t.json"),
                "csv_uris": timed(store, write_csv, folder / "u.csv", uris=uris),
            }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
