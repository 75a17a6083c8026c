"""Top-1 / top-5 on ../shared/data/imagenet-sample through the CLI's own code path.

Each offline backbone reads the 1000 photos through the pipeline's own
``prepare`` and runtime (what ``phototagger tag`` does, one photo per forward
pass), and its logits are scored against ``labels.csv``. A preprocessing mistake
shows up as a drop of several points (see the data README: 0.883 top-1 for a
correct lite0 pipeline on timm's centre crop; tagging's whole-photo view gives
0.881, see ADR 0003 and bench/views.py).

``--precisions float int8`` scores each CPU graph of the default backbone (the
int8 one is shipped beside the float one; ADR 0007).

Usage: python bench/accuracy.py [--backbones NAME ...] [--precisions P ...] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import PRECISIONS, shared, use_precision

from core.engine.backbones import availability, list_backbones
from core.engine.pipeline import Tagger, prepare
from core.engine.sources import file_ref


def evaluate(
    name: str, photos: list[tuple[Path, int]], cache: Path, precision: str = "auto"
) -> dict:
    """Top-1/top-5 over the backbone's classes, photo by photo, as tagging decodes them.

    Tags name classes only in part (``ram`` reads ``sheep``, two classes share
    ``sunglasses``), so classes are read off the logits: each photo goes through
    the pipeline's own ``prepare`` (decode, view, preprocessing) and runtime.
    """
    tagger = Tagger.open(name, device="cpu", cache_dir=cache, precision=use_precision(precision))
    start = time.perf_counter()
    top1 = top5 = failed = 0
    for path, label in photos:
        prepared = prepare(file_ref(path), tagger.data_config, view=tagger.spec.view)
        if prepared.pixels is None:
            failed += 1
            continue
        _, logits = tagger.runtime.run(prepared.pixels[None])
        order = np.argsort(-logits[0])[:5]
        top1 += int(order[0] == label)
        top5 += int(label in order)
    elapsed = time.perf_counter() - start
    n = len(photos)
    return {
        "backbone": name,
        "photos": n,
        "failed": failed,
        "top1": round(top1 / n, 4),
        "top5": round(top5 / n, 4),
        "photos_per_s": round(n / elapsed, 1),
        "runtime": tagger.runtime.name,
    }


def int8_loss(results: list[dict]) -> dict:
    """Top-1 points each int8 graph loses against the float one, where both were scored."""
    by_runtime = {r["runtime"]: r for r in results if r["backbone"] == "efficientnet-lite0"}
    float_ = by_runtime.get("onnxruntime-cpu")
    if float_ is None:
        return {}
    losses = {}
    for runtime, result in by_runtime.items():
        if runtime.startswith("onnxruntime-cpu-int8"):
            loss = round(100 * (float_["top1"] - result["top1"]), 1)
            losses[runtime] = {"top1_loss_points": loss, "top1_loss<=1": loss <= 1.0}
    return {"int8_top1_loss": losses} if losses else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="*", help="default: every backbone available offline")
    parser.add_argument("--limit", type=int, default=0, help="only the first N photos")
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=PRECISIONS)
    args = parser.parse_args()
    folder = shared("imagenet-sample")
    with open(folder / "labels.csv", newline="") as fh:
        photos = [(folder / row["filename"], int(row["class_index"])) for row in csv.DictReader(fh)]
    if args.limit:
        photos = photos[: args.limit]
    names = args.backbones or [s.name for s in list_backbones() if availability(s).usable]
    with tempfile.TemporaryDirectory() as cache:
        results = [
            evaluate(name, photos, Path(cache), precision)
            for name in names
            for precision in args.precisions
        ]
    default = next((r for r in results if r["backbone"] == "efficientnet-lite0"), None)
    print(
        json.dumps(
            {
                "benchmark": "accuracy",
                "dataset": "imagenet-sample (1000 photos, one per class)",
                "results": results,
                "target": {"efficientnet-lite0_top1_min": 0.88},
                "met": None if default is None else default["top1"] >= 0.88,
                **int8_loss(results),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
