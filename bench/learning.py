"""Learning curve on ../shared/data/coco-mini: what confirmed photos buy, on photos never seen.

The 159 photos are tagged once with the backbone (``core.pipeline.tag_photos``,
the CLI's path). Then, repeated k-fold cross-validation: for each fold, N photos
drawn from the other folds become the user's decisions (every COCO tag of the
photo added), and the held-out fold is scored by:

- ``imagenet``: the backbone alone (its best ImageNet or hierarchy score for a
  tag of the same name, else 0), as tagging gives before any decision;
- ``refine``: neighbour propagation from the N photos;
- ``head``: the head trained on the N photos (its own held-out split inside);
- ``learned``: head blended with refinement (``core.train.learned_scores``);
- ``combined``: what the review shows: per tag the best of ``learned`` and the
  backbone's.

mAP is over the ten most common COCO tags (the protocol measured before this
work: a quick logistic head on lite0 embeddings, about 0.56, 5-fold). The
held-out photos never enter training, the refinement's neighbours, or any
calibration. All tags of the N photos are learned, not only the ten.

Usage: python bench/learning.py [--backbone NAME] [--folds 5] [--repeats 3] [--kind logistic]
"""

from __future__ import annotations

import argparse
import collections
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import shared

from core.pipeline import Tagger, tag_photos
from core.refine import evidence_from_states, fit_propagator, mean_average_precision, propagate
from core.sources import file_ref
from core.store import Store
from core.train import (
    TrainOptions,
    backbone_scores,
    head_probabilities,
    learned_scores,
    train_head,
)

SIZES = (20, 50, 100)
TARGET = 0.65


def load(backbone: str, cache: Path, db: Path) -> tuple[Store, list[int], np.ndarray, list[set]]:
    folder = shared("coco-mini")
    with open(folder / "tags.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    refs = [file_ref(folder / r["path"]) for r in rows]
    store = Store(db)
    tagger = Tagger.open(backbone, device="cpu", cache_dir=cache)
    tag_photos(refs, tagger=tagger, store=store)
    ids, matrix = store.embeddings(backbone=backbone)
    by_uri = {ref.uri: set(r["tags"].split(";")) for ref, r in zip(refs, rows, strict=True)}
    labels = [by_uri[store.photo(pid).uri] for pid in ids]
    return store, ids, matrix, labels


def evaluate(
    store: Store,
    ids: list[int],
    x: np.ndarray,
    labels: list[set],
    *,
    backbone: str,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    top: list[str],
    options: TrainOptions,
) -> dict[str, float]:
    states = {ids[i]: {t: "add" for t in labels[i]} for i in train_rows}
    evidence = evidence_from_states(states, ids, x)
    y = np.array([[t in labels[i] for t in top] for i in test_rows], dtype=np.float32)
    x_test = x[test_rows]
    test_ids = [ids[i] for i in test_rows]

    def columns(tags: tuple[str, ...], scores: np.ndarray) -> np.ndarray:
        col = {t: j for j, t in enumerate(tags)}
        out = np.zeros((len(test_rows), len(top)), dtype=np.float32)
        for k, t in enumerate(top):
            if t in col:
                out[:, k] = scores[:, col[t]]
        return out

    base = backbone_scores(store, test_ids, tuple(top), backbone=backbone)
    propagator = fit_propagator(evidence)
    refine = columns(propagator.tags, propagate(propagator, x_test))
    start = time.perf_counter()
    head = train_head(evidence, backbone=backbone, options=options)
    seconds = time.perf_counter() - start
    head_only = columns(head.tags, head_probabilities(head, x_test))
    learned = learned_scores(head, propagator, x_test)
    combined = np.maximum(columns(learned.tags, learned.scores), base)
    return {
        "imagenet": mean_average_precision(y, base),
        "refine": mean_average_precision(y, refine),
        "head": mean_average_precision(y, head_only),
        "learned": mean_average_precision(y, columns(learned.tags, learned.scores)),
        "combined": mean_average_precision(y, combined),
        "train_seconds": seconds,
        "blend": head.blend,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kind", choices=["logistic", "mlp"], default="logistic")
    args = parser.parse_args()
    options = TrainOptions(kind=args.kind)
    with tempfile.TemporaryDirectory() as tmp:
        store, ids, x, labels = load(args.backbone, Path(tmp) / "onnx", Path(tmp) / "bench.db")
        counts = collections.Counter(t for tags in labels for t in tags)
        top = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
        n = len(ids)
        results: dict[str, list[dict]] = collections.defaultdict(list)
        for repeat in range(args.repeats):
            rng = np.random.default_rng(repeat)
            folds = np.array_split(rng.permutation(n), args.folds)
            for f, test_rows in enumerate(folds):
                pool = np.concatenate([folds[g] for g in range(args.folds) if g != f])
                pool = np.random.default_rng(1000 * repeat + f).permutation(pool)
                for size in (*SIZES, len(pool)):
                    key = str(size) if size in SIZES else "all"
                    results[key].append(
                        evaluate(
                            store,
                            ids,
                            x,
                            labels,
                            backbone=args.backbone,
                            train_rows=pool[:size],
                            test_rows=test_rows,
                            top=top,
                            options=options,
                        )
                    )
        store.close()
    curve = {}
    for key, runs in results.items():
        curve[key] = {
            name: round(float(np.mean([r[name] for r in runs])), 4)
            for name in ("imagenet", "refine", "head", "learned", "combined", "train_seconds")
        }
        curve[key]["combined_std"] = round(float(np.std([r["combined"] for r in runs])), 4)
        curve[key]["blend_mean"] = round(float(np.mean([r["blend"] for r in runs])), 3)
        curve[key]["train_photos"] = int(np.mean([0 for _ in runs])) or (
            int(key) if key.isdigit() else n - n // args.folds
        )
    met = curve["all"]["combined"] >= TARGET
    print(
        json.dumps(
            {
                "benchmark": "learning",
                "dataset": f"coco-mini ({n} photos), top-10 COCO tags: {', '.join(top)}",
                "backbone": args.backbone,
                "head": args.kind,
                "protocol": f"{args.folds}-fold x {args.repeats} repeats, held-out mAP",
                "curve": curve,
                "before_this_work": {"quick_logistic_head_map": 0.56},
                "target": {"combined_map_min_all_training_photos": TARGET},
                "met": met,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
