"""Tagging on Ray against the local pipeline on this machine, and a model of 10 million photos.

Measured here, on coco-mini (159 real ~640 px photos; --limit takes fewer), with the
default backbone and face search, both writing into a SQLite file:

- local: ``core.engine.pipeline.tag_photos`` in one process (decode threads + ONNX Runtime);
- ray-1, ray-2: the same call with :class:`core.engine.cluster.RayRunner` on a local Ray of
  2 CPUs, 1 inference actor (1 CPU) or 2 (half a CPU each), decoding in Ray tasks.
  Rates are end to end (actors' start included); ``steady`` leaves out the time to
  the first stored batch. Ray's own start is reported apart;
- agreement: every photo's tags and scores from Ray against the local run's;
- stages: one core's cost per photo of decoding (with the face search) and of
  inference (1 ONNX thread, batches of 16), the per-core rate the model scales;
- driver: the store's write rate for batches of realistic results (1280-float
  embedding, the suggestions and faces coco-mini gives), into a file on this disk,
  and the bytes each photo adds to the database.

The model on paper for 10 million photos on N nodes takes the least of three rates:
compute (N x cores x the per-core rate), shared storage (its bandwidth, an
assumption: --storage-mbps, / the photos' mean size) and the driver's SQLite
writes (measured, early and late in a run of --writes photos), and says which one
binds; once for coco-sized photos and once
for camera JPEGs of 2 MP and more from decode-bench (their own decoding cost).

Usage: python bench/cluster.py [--limit N] [--cores-per-node 16] [--storage-mbps 1250]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import shared

from core.engine.cluster import RayRunner
from core.engine.faces import Face
from core.engine.pipeline import Tagger, prepare, tag_photos
from core.engine.sources import PhotoRef, iter_folder
from core.store import PhotoResult, Store

BATCH = 16
ARCHIVE = 10_000_000
NODES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def timed_run(refs: list[PhotoRef], tagger: Tagger, db: Path, runner=None) -> dict:
    """One tagging run into a fresh database file: its rates and the stored suggestions."""
    arrivals: list[float] = []
    start = time.perf_counter()
    with Store(db) as store:
        summary = tag_photos(
            refs,
            tagger=tagger,
            store=store,
            batch_size=BATCH,
            runner=runner,
            on_results=lambda results: arrivals.append(time.perf_counter()),
        )
        elapsed = time.perf_counter() - start
        stored = {
            row.uri: {s.tag: s.score for s in store.suggestions(row.id)} for row in store.photos()
        }
    first_batch = arrivals[0] - start
    steady_photos = summary.tagged + summary.failed - BATCH
    steady = steady_photos / (arrivals[-1] - arrivals[0]) if len(arrivals) > 1 else None
    return {
        "photos": summary.tagged + summary.failed,
        "failed": summary.failed,
        "seconds": round(elapsed, 2),
        "photos_per_s": round((summary.tagged + summary.failed) / elapsed, 2),
        "seconds_to_first_batch": round(first_batch, 2),
        "steady_photos_per_s": round(steady, 2) if steady else None,
        "_stored": stored,
    }


def agreement(ours: dict[str, dict[str, float]], local: dict[str, dict[str, float]]) -> dict:
    same_tags = sum(ours.get(uri, {}).keys() == tags.keys() for uri, tags in local.items())
    diffs = [
        abs(ours[uri][tag] - score)
        for uri, tags in local.items()
        for tag, score in tags.items()
        if tag in ours.get(uri, {})
    ]
    return {
        "photos": len(local),
        "photos_with_the_same_tags": same_tags,
        "max_score_difference": max(diffs, default=0.0),
    }


def camera_refs(count: int) -> list[PhotoRef]:
    """Camera JPEGs of 2 MP and more from decode-bench, as an archive holds them."""
    root = shared("decode-bench")
    with open(root / "manifest.csv", newline="") as fh:
        big = [
            root / r["path"]
            for r in csv.DictReader(fh)
            if r["format"] == "JPEG" and int(r["width"]) * int(r["height"]) >= 2_000_000
        ]
    return [PhotoRef(str(p), size=p.stat().st_size) for p in sorted(big)[:count]]


def stage_costs(refs: list[PhotoRef], tagger: Tagger, cache: Path) -> dict:
    """One core's seconds per photo for decoding (with faces) and for inference."""
    sample = refs[: min(len(refs), 32)]
    start = time.perf_counter()
    prepared = [
        prepare(r, tagger.data_config, view=tagger.spec.view, detector=tagger.faces) for r in sample
    ]
    decode = (time.perf_counter() - start) / len(sample)
    one_thread = Tagger.open(tagger.spec, device="cpu", cache_dir=cache, threads=1, faces=False)
    by_shape: dict[tuple[int, ...], list[np.ndarray]] = {}
    for p in prepared:
        if p.pixels is not None:
            by_shape.setdefault(p.pixels.shape, []).append(p.pixels)
    start = time.perf_counter()
    count = 0
    for group in by_shape.values():
        for i in range(0, len(group), BATCH):
            one_thread.infer(np.stack(group[i : i + BATCH]))
            count += len(group[i : i + BATCH])
    infer = (time.perf_counter() - start) / count
    return {
        "photos": len(sample),
        "mean_mb": round(statistics.mean(r.size for r in sample) / 1e6, 2),
        "decode_and_faces_s_per_photo": round(decode, 4),
        "inference_s_per_photo": round(infer, 4),
        "photos_per_s_per_core": round(1 / (decode + infer), 2),
    }


def driver_writes(dim: int, suggestions: int, faces: int, photos: int, folder: Path) -> dict:
    """The store's write rate for whole batches of results, and bytes per photo."""
    rng = np.random.default_rng(0)
    from core.engine.vocabulary import TagScore

    tags = tuple(TagScore(f"tag{i}", 0.5, "imagenet") for i in range(suggestions))
    found = tuple(Face((0.1, 0.1, 0.2, 0.2), 0.99, ((0.12, 0.12),) * 5) for _ in range(faces))
    db = folder / "writes.db"
    with Store(db) as store:
        run = store.start_run(backbone="b", device="cpu", runtime="x", total=photos)
        start = time.perf_counter()
        stamps = [start]
        for first in range(0, photos, BATCH * 4):
            batch = [
                PhotoResult(
                    PhotoRef(f"/archive/{i:08d}.jpg", size=200_000, mtime=i),
                    640,
                    480,
                    "JPEG",
                    rng.standard_normal(dim).astype(np.float32),
                    tags,
                    faces=found,
                    face_detector="mtcnn",
                )
                for i in range(first, min(first + BATCH * 4, photos))
            ]
            store.save_results(batch, run_id=run, backbone="b")
            stamps.append(time.perf_counter())
        elapsed = time.perf_counter() - start
    size = sum(f.stat().st_size for f in folder.glob("writes.db*"))
    quarter = len(stamps) // 4
    return {
        "photos": photos,
        "photos_per_s": round(photos / elapsed, 1),
        # The same rate late in the run as early: nothing per batch grows with the run.
        "photos_per_s_first_quarter": round(quarter * BATCH * 4 / (stamps[quarter] - stamps[0]), 1),
        "photos_per_s_last_quarter": round(
            quarter * BATCH * 4 / (stamps[-1] - stamps[-1 - quarter]), 1
        ),
        "bytes_per_photo": round(size / photos),
    }


def model(
    per_core: float, writes: dict, photo_bytes: float, cores: int, storage_mbps: float
) -> dict:
    storage_rate = storage_mbps * 1e6 / photo_bytes
    write_rate = writes["photos_per_s"]
    rows = []
    for nodes in NODES:
        rates = {
            "compute": nodes * cores * per_core,
            "storage": storage_rate,
            "driver_sqlite": write_rate,
        }
        bound = min(rates, key=rates.get)
        rows.append(
            {
                "nodes": nodes,
                "photos_per_s": round(rates[bound]),
                "bottleneck": bound,
                "hours_for_10M": round(ARCHIVE / rates[bound] / 3600, 1),
            }
        )
    crossing = next((r["nodes"] for r in rows if r["bottleneck"] != "compute"), None)
    return {
        "assumptions": {
            "cores_per_node": cores,
            "storage_mb_per_s": storage_mbps,
            "photo_mb": round(photo_bytes / 1e6, 2),
            "per_core_photos_per_s": per_core,
            "driver_writes_photos_per_s": write_rate,
            "database_gb_for_10M": round(writes["bytes_per_photo"] * ARCHIVE / 1e9, 1),
        },
        "nodes": rows,
        "compute_stops_binding_at_nodes": crossing,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=159)
    parser.add_argument("--cores-per-node", type=int, default=16)
    parser.add_argument("--storage-mbps", type=float, default=1250.0, help="shared storage MB/s")
    parser.add_argument("--writes", type=int, default=4000, help="photos for the write rate")
    args = parser.parse_args()

    import ray

    root = shared("coco-mini")
    refs = sorted(
        [*iter_folder(root / "train2017"), *iter_folder(root / "val2017")], key=lambda r: r.uri
    )[: args.limit]
    cache = Path.home() / ".cache" / "phototagger-bench" / "onnx"
    tagger = Tagger.open("efficientnet-lite0", device="cpu", cache_dir=cache)
    out: dict = {
        "photos": len(refs),
        "cpus": os.cpu_count(),
        "batch": BATCH,
        # The machine may be shared: rates are comparable within one run, not across.
        "load_average_at_start": os.getloadavg()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        local = timed_run(refs, tagger, folder / "local.db")
        start = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        out["ray_start_s"] = round(time.perf_counter() - start, 2)
        try:
            ray1 = timed_run(refs, tagger, folder / "ray1.db", RayRunner(cache_dir=cache))
            ray2 = timed_run(
                refs,
                tagger,
                folder / "ray2.db",
                RayRunner(cache_dir=cache, workers=2, cpus_per_worker=0.5),
            )
        finally:
            ray.shutdown()
        out["agreement_ray1_vs_local"] = agreement(ray1.pop("_stored"), local["_stored"])
        out["agreement_ray2_vs_local"] = agreement(ray2.pop("_stored"), local["_stored"])
        tags_per_photo = statistics.mean(len(t) for t in local.pop("_stored").values())
        out["local"], out["ray_1_worker"], out["ray_2_workers"] = local, ray1, ray2
        out["ray_overhead_ms_per_photo"] = {
            name: round(1000 * (1 / run["photos_per_s"] - 1 / local["photos_per_s"]), 1)
            for name, run in (("1_worker", ray1), ("2_workers", ray2))
        }
        out["stages_one_core"] = {
            "coco": stage_costs(refs, tagger, cache),
            "camera_jpegs": stage_costs(camera_refs(32), tagger, cache),
        }
        out["driver_writes"] = driver_writes(
            int(tagger.runtime.run(np.zeros((1, 3, 224, 224), np.float32))[0].shape[-1]),
            round(tags_per_photo),
            1,
            args.writes,
            folder,
        )
    out["load_average_at_end"] = os.getloadavg()[0]
    writes = out["driver_writes"]
    out["model_10M_photos"] = {
        name: model(
            stages["photos_per_s_per_core"],
            writes,
            stages["mean_mb"] * 1e6,
            args.cores_per_node,
            args.storage_mbps,
        )
        for name, stages in out["stages_one_core"].items()
    }
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
