"""The centre crop against the whole-photo view, and the logit scale that calibrates the latter.

Tagging feeds the backbone the whole photo (``core.engine.transforms``, ``view="whole"``)
rather than timm's centre crop. Pooled over a larger picture, the logits come out
smaller, so probabilities would be less confident than the ones the backbone was
trained to give. Per offline backbone, this benchmark:

1. fits the scale ``s`` that makes ``softmax(s * whole_logits)`` agree with the
   centre crop's probabilities (mean KL divergence, grid search) on the photos of
   ``coco-mini``, using no labels: it is what ``BackboneSpec.logit_scale`` holds;
2. reports, on ``imagenet-sample`` (photos the fit never saw), top-1, top-5, the
   mean top probability, the share of photos whose top class reaches 0.2 (the
   review's default threshold), and the true class's mean negative log
   likelihood, for the crop, the whole view, and the whole view scaled.

Usage: python bench/views.py [--backbones NAME ...] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import torch
from _common import shared
from PIL import Image

from core.engine.backbones import (
    get_backbone_spec,
    list_backbones,
    load_backbone,
    local_weights_file,
)
from core.engine.imaging import to_rgb
from core.engine.transforms import to_input_array
from core.engine.vocabulary import softmax

SCALES = np.round(np.arange(1.0, 2.501, 0.05), 2)


def _logits(model, config, paths) -> tuple[np.ndarray, np.ndarray]:
    crop, whole = [], []
    with torch.no_grad():
        for path in paths:
            img = to_rgb(Image.open(path))
            for view, out in (("crop", crop), ("whole", whole)):
                pixels = torch.from_numpy(to_input_array(img, config, view=view))[None]
                out.append(model(pixels)[0].numpy())
    return np.array(crop), np.array(whole)


def _report(logits: np.ndarray, labels: np.ndarray) -> dict:
    p = softmax(logits)
    top5 = np.argsort(-p, axis=1)[:, :5]
    return {
        "top1": round(float((top5[:, 0] == labels).mean()), 4),
        "top5": round(float((top5 == labels[:, None]).any(axis=1).mean()), 4),
        "mean_top_probability": round(float(p.max(axis=1).mean()), 3),
        "top_class_at_least_0.2": round(float((p.max(axis=1) >= 0.2).mean()), 3),
        "nll": round(float(-np.log(p[np.arange(len(labels)), labels] + 1e-12).mean()), 3),
    }


def measure(name: str, limit: int | None) -> dict:
    spec = get_backbone_spec(name)
    loaded = load_backbone(spec)
    coco = shared("coco-mini")
    with open(coco / "tags.csv", newline="") as fh:
        fit_paths = [coco / r["path"] for r in csv.DictReader(fh)]
    fit_crop, fit_whole = _logits(loaded.model, loaded.data_config, fit_paths)
    p_crop = softmax(fit_crop)

    def divergence(scale: float) -> float:
        q = softmax(scale * fit_whole)
        return float(np.mean(np.sum(p_crop * (np.log(p_crop + 1e-12) - np.log(q + 1e-12)), 1)))

    scale = float(min(SCALES, key=divergence))
    folder = shared("imagenet-sample")
    with open(folder / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))[:limit]
    labels = np.array([int(r["class_index"]) for r in rows])
    crop, whole = _logits(loaded.model, loaded.data_config, [folder / r["filename"] for r in rows])
    return {
        "backbone": name,
        "fitted_scale": scale,
        "registry_scale": spec.logit_scale,
        "fit_photos": len(fit_paths),
        "kl_at_1.0": round(divergence(1.0), 4),
        "kl_at_fitted": round(divergence(scale), 4),
        "imagenet_photos": len(rows),
        "crop": _report(crop, labels),
        "whole": _report(whole, labels),
        "whole_scaled": _report(spec.logit_scale * whole, labels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="*")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    torch.set_num_threads(2)
    names = args.backbones or [
        s.name
        for s in list_backbones()
        if s.weights.kind == "package" and local_weights_file(s) is not None
    ]
    print(
        json.dumps(
            {"benchmark": "views", "results": [measure(n, args.limit) for n in names]}, indent=1
        )
    )


if __name__ == "__main__":
    main()
