"""Top-1 / top-5 on ../shared/data/imagenet-sample through the CLI's own code path.

Each offline backbone tags the 1000 photos with ``core.pipeline.tag_photos``
into a fresh store (exactly what ``phototagger tag`` does), and the stored
ImageNet suggestions are scored against ``labels.csv``. A preprocessing mistake
shows up as a drop of several points (see the data README: 0.883 top-1 for a
correct lite0 pipeline on timm's centre crop; tagging's whole-photo view gives
0.881, see ADR 0003 and bench/views.py).

Usage: python bench/accuracy.py [--backbones NAME ...] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
from pathlib import Path

from _common import shared

from core.backbones import availability, list_backbones
from core.pipeline import Tagger, tag_photos
from core.sources import file_ref
from core.store import Store
from core.vocabulary import Vocabulary


def evaluate(name: str, photos: list[tuple[Path, int]], cache: Path) -> dict:
    tagger = Tagger.open(name, device="cpu", cache_dir=cache)
    tags = Vocabulary.bundled().class_tags
    with Store(":memory:") as store:
        start = time.perf_counter()
        summary = tag_photos([file_ref(p) for p, _ in photos], tagger=tagger, store=store)
        elapsed = time.perf_counter() - start
        top1 = top5 = 0
        for path, label in photos:
            ranked = [
                s.tag
                for s in store.suggestions(store.photo_id(os.path.abspath(path)))
                if s.source == "imagenet"
            ]
            top1 += ranked[:1] == [tags[label]]
            top5 += tags[label] in ranked[:5]
    n = len(photos)
    return {
        "backbone": name,
        "photos": n,
        "failed": summary.failed,
        "top1": round(top1 / n, 4),
        "top5": round(top5 / n, 4),
        "photos_per_s": round(n / elapsed, 1),
        "runtime": tagger.runtime.name,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="*", help="default: every backbone available offline")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos")
    args = parser.parse_args()
    folder = shared("imagenet-sample")
    with open(folder / "labels.csv", newline="") as fh:
        photos = [(folder / row["filename"], int(row["class_index"])) for row in csv.DictReader(fh)]
    if args.limit:
        photos = photos[: args.limit]
    names = args.backbones or [s.name for s in list_backbones() if availability(s) == "available"]
    with tempfile.TemporaryDirectory() as cache:
        results = [evaluate(name, photos, Path(cache)) for name in names]
    default = next((r for r in results if r["backbone"] == "efficientnet-lite0"), None)
    print(
        json.dumps(
            {
                "benchmark": "accuracy",
                "dataset": "imagenet-sample (1000 photos, one per class)",
                "results": results,
                "target": {"efficientnet-lite0_top1_min": 0.88},
                "met": None if default is None else default["top1"] >= 0.88,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
