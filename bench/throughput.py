"""Tagging throughput: our pipeline against the way a timm user would write it, and the ceiling.

Sets: (a) at least 100 multi-megapixel camera JPEGs assembled from
``decode-bench`` (links to the 2 MP+ files, repeated), (b) ``imagenet-sample``.
Per set, in one run:

- ours: ``core.engine.pipeline.tag_photos`` end to end (decode, preprocess, infer, store);
- reference: a Dataset of paths, ``timm.data.create_transform`` from the model's
  data config, a torch DataLoader with 2 workers, eager torch, the same weights;
- ceiling: the runtime's forward passes alone on the set's ready inputs (up to 256),
  grouped by shape as the pipeline groups them;
- decode: our decode + preprocess alone, on the same thread pool.

Then the re-run: ``phototagger tag`` over set (b) twice, the second time with
nothing to do. Peak RSS is read right after our pipeline's runs, before the other
measurements and before torch is imported.

``--precisions float int8`` measures ours and the ceiling for each CPU graph of
the default backbone in the same run, with each graph's ratio to the first;
``--no-reference`` leaves out the torch reference and the re-run (a torch-less
install).

Usage: python bench/throughput.py [--limit N] [--precisions P ...] [--no-reference]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import ROOT, peak_rss_mb, shared

from core.engine.cpu_features import has_int8_dot_product
from core.engine.pipeline import Tagger, prepare, tag_photos
from core.engine.sources import iter_folder
from core.store import Store

BATCH = 32
CEILING_PHOTOS = 256


def camera_folder(dest: Path, count: int) -> Path:
    root = shared("decode-bench")
    with open(root / "manifest.csv", newline="") as fh:
        big = [
            root / r["path"]
            for r in csv.DictReader(fh)
            if r["format"] == "JPEG" and int(r["width"]) * int(r["height"]) >= 2_000_000
        ]
    dest.mkdir(parents=True)
    for i in range(count):
        src = big[i % len(big)]
        (dest / f"{i:04d}_{src.name}").symlink_to(src)
    return dest


def ours(refs, tagger: Tagger) -> float:
    with Store(":memory:") as store:
        start = time.perf_counter()
        summary = tag_photos(refs, tagger=tagger, store=store, batch_size=BATCH)
        elapsed = time.perf_counter() - start
    assert summary.failed == 0, summary.errors[:3]
    return len(refs) / elapsed


def decode_only(refs, tagger: Tagger) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        for _ in pool.map(lambda r: prepare(r, tagger.data_config, view=tagger.spec.view), refs):
            pass  # each photo dropped once done, as the pipeline does
    return len(refs) / (time.perf_counter() - start)


def ceiling(refs, tagger: Tagger) -> float:
    """The runtime's forward passes alone, on the set's own inputs grouped by shape."""
    import numpy as np

    groups: dict[tuple[int, ...], list] = {}
    for ref in refs:
        pixels = prepare(ref, tagger.data_config, view=tagger.spec.view).pixels
        groups.setdefault(pixels.shape, []).append(pixels)
    batches = [
        np.stack(arrays[i : i + BATCH])
        for arrays in groups.values()
        for i in range(0, len(arrays), BATCH)
    ]
    tagger.runtime.run(batches[0])
    start = time.perf_counter()
    for batch in batches:
        tagger.runtime.run(batch)
    return len(refs) / (time.perf_counter() - start)


def precision_runs(
    sets: dict[str, list], first: Tagger, others: list[str], backbone: str, cache: Path
) -> dict[str, dict]:
    """Ours and the ceiling with each other CPU graph, and its ratios to the first graph's."""
    runs: dict[str, dict] = {}
    for precision in others:
        tagger = Tagger.open(backbone, device="cpu", cache_dir=cache, precision=precision)
        per_set = {}
        for name, refs in sets.items():
            base_ours, base_ceiling = ours(refs, first), ceiling(refs[:CEILING_PHOTOS], first)
            mine_ours, mine_ceiling = ours(refs, tagger), ceiling(refs[:CEILING_PHOTOS], tagger)
            per_set[name] = {
                first.runtime.name: {
                    "ours": round(base_ours, 1),
                    "ceiling": round(base_ceiling, 1),
                },
                tagger.runtime.name: {
                    "ours": round(mine_ours, 1),
                    "ceiling": round(mine_ceiling, 1),
                },
                "ours_ratio": round(mine_ours / base_ours, 2),
                "ceiling_ratio": round(mine_ceiling / base_ceiling, 2),
            }
        runs[tagger.runtime.name] = per_set
    return runs


def reference(paths: list[str], backbone: str) -> float:
    """The textbook timm loop: Dataset + create_transform + DataLoader(2 workers) + eager torch."""
    import timm
    import torch
    from PIL import Image

    from core.engine.backbones import get_backbone_spec, load_backbone

    loaded = load_backbone(get_backbone_spec(backbone))
    model = loaded.model.eval()
    transform = timm.data.create_transform(**timm.data.resolve_data_config({}, model=model))

    class Photos(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return len(paths)

        def __getitem__(self, i: int):
            return transform(Image.open(paths[i]).convert("RGB"))

    loader = torch.utils.data.DataLoader(Photos(), batch_size=BATCH, num_workers=2)
    start = time.perf_counter()
    with torch.inference_mode():
        for batch in loader:
            model(batch)
    return len(paths) / (time.perf_counter() - start)


def cli_runs(folder: Path) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PHOTOTAGGER_HOME": home}
        cmd = [sys.executable, "-m", "core.cli", "tag", str(folder), "--device", "cpu"]
        subprocess.run(
            [*cmd[:-3], str(next(folder.iterdir())), "--device", "cpu"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )  # the one-time ONNX export, not timed
        times = []
        for _ in range(2):
            start = time.perf_counter()
            subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
            times.append(time.perf_counter() - start)
    return {
        "first_run_s": round(times[0], 2),
        "rerun_s": round(times[1], 3),
        "speedup": round(times[0] / times[1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--limit", type=int, default=0, help="photos per set (default: all; 120 camera)"
    )
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["auto"],
        choices=["auto", "float", "int8"],
        help="CPU graphs to measure; ratios are to the first",
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the torch reference and the re-run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "onnx"
        # Export once in a child process, so this one never imports torch before RSS is read.
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from core.engine.pipeline import Tagger; from pathlib import Path; "
                f"Tagger.open({args.backbone!r}, device='cpu', cache_dir=Path({str(cache)!r}))",
            ],
            cwd=ROOT,
            check=True,
        )
        first, *others = args.precisions
        tagger = Tagger.open(args.backbone, device="cpu", cache_dir=cache, precision=first)
        camera = camera_folder(Path(tmp) / "camera", args.limit or 120)
        sets = {
            "camera_jpegs": list(iter_folder(camera)),
            "imagenet_sample": list(iter_folder(shared("imagenet-sample"))),
        }
        if args.limit:
            sets = {k: v[: args.limit] for k, v in sets.items()}
        results = {
            name: {"photos": len(refs), "ours": ours(refs, tagger)} for name, refs in sets.items()
        }
        rss = peak_rss_mb()
        for name, refs in sets.items():
            results[name]["decode"] = decode_only(refs, tagger)
            results[name]["ceiling"] = ceiling(refs[:CEILING_PHOTOS], tagger)
        by_precision = precision_runs(sets, tagger, others, args.backbone, cache)
        assert "torch" not in sys.modules
        if not args.no_reference:
            for name, refs in sets.items():
                results[name]["reference"] = reference(
                    [os.path.realpath(r.uri) for r in refs], args.backbone
                )
            rerun = cli_runs(shared("imagenet-sample"))
    out = {
        "benchmark": "throughput",
        "backbone": args.backbone,
        "runtime": tagger.runtime.name,
        "cpu_int8_dot_product": has_int8_dot_product(),
        "cpu_count": os.cpu_count(),
        "unit": "photos/s",
        "peak_rss_ours_mb": round(rss),
    }
    for name, r in results.items():
        out[name] = {k: round(v, 1) if isinstance(v, float) else v for k, v in r.items()}
        if "reference" in r:
            out[name]["ours_vs_reference"] = round(r["ours"] / r["reference"], 2)
        out[name]["ours_vs_ceiling"] = round(r["ours"] / r["ceiling"], 2)
    if by_precision:
        out["precisions"] = by_precision
    if args.no_reference:
        print(json.dumps(out, indent=1))
        return
    out["rerun"] = rerun
    cam, ima = out["camera_jpegs"], out["imagenet_sample"]
    out["targets"] = {
        "camera_vs_reference>=5": cam["ours_vs_reference"] >= 5,
        "camera_vs_ceiling>=0.6": cam["ours_vs_ceiling"] >= 0.6,
        "imagenet_vs_reference>=2": ima["ours_vs_reference"] >= 2,
        "peak_rss<2GB": rss < 2048,
        "rerun_speedup>=20": rerun["speedup"] >= 20,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
