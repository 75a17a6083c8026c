"""Learning on ../shared/data/coco-mini, scored only on photos that chose nothing.

The 159 photos are tagged once with the backbone (``core.engine.pipeline.tag_photos``,
the CLI's path). Then two protocols, each learning from the COCO tags of some
photos as if a person had added them, and scoring others:

- ``train2017 -> val2017``: learn on the 80 train2017 photos, score the 79
  val2017 photos. Every choice (head regularisation and temperature, blend
  with refinement, refinement's temperature, shrinkage and similarity floor,
  per-tag verdicts and thresholds) is made inside the train2017 photos.
- ``5-fold``: the same on each fifth of all 159 photos, learned on the rest.

Scores, per tag and as mAP over the tags with a positive among the scored photos:

- ``backbone``: tagging alone (each tag's best non-learned suggestion, else 0);
- ``learned``: the learner's own scores (head blended with refinement), every learned tag;
- ``shown``: what a person sees: for tags the held-out verdict kept, the learned
  suggestion over its threshold or else the backbone's; for the rest the backbone's.

``gate`` says how many tags the verdict kept and refused, and which kept tags
are worse than the backbone on the scored photos (the target is none).
``estimated_inside_training`` is what the learning run itself reports from
cross-fitting on its own photos (what ``phototagger train`` prints), to set
beside the figure on photos it never saw. ``top10`` repeats the mAPs over the ten COCO tags most common in the learning
photos (the protocol of the earlier figures).

``--precisions float int8`` runs it all once per CPU graph of the default
backbone and prints the learned mAP each loses against the first.

Usage: python bench/learning.py [--backbone NAME] [--folds 5] [--precisions P ...]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from _common import PRECISIONS, shared, use_precision

from core.engine.pipeline import Tagger, tag_photos
from core.engine.sources import file_ref
from core.learning.gate import confidence
from core.learning.learned import DISPLAY_THRESHOLD, backbone_scores
from core.learning.learner import learn
from core.learning.metrics import average_precision
from core.learning.refine import evidence_from_states, similarity_floor
from core.store import Store


def tagged_coco(
    backbone: str, cache: Path, db: Path, precision: str = "auto"
) -> tuple[Store, list[int], list[set], list]:
    """coco-mini tagged into ``db``: the store, photo ids, their COCO tags and their paths."""
    folder = shared("coco-mini")
    with open(folder / "tags.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    refs = [file_ref(folder / r["path"]) for r in rows]
    store = Store(db)
    tagger = Tagger.open(
        backbone, device="cpu", cache_dir=cache, precision=use_precision(precision)
    )
    tag_photos(refs, tagger=tagger, store=store)
    by_uri = {
        ref.uri: (set(r["tags"].split(";")), r["path"]) for ref, r in zip(refs, rows, strict=True)
    }
    ids = [store.photo_id(ref.uri) for ref in refs]
    return store, ids, [by_uri[r.uri][0] for r in refs], [by_uri[r.uri][1] for r in refs]


def score_split(
    store: Store,
    ids: list[int],
    labels: list[set],
    train: np.ndarray,
    test: np.ndarray,
    *,
    backbone: str,
) -> dict:
    """Learn from ``train`` photos only, score ``test`` photos; per-tag figures and verdicts."""
    all_ids, matrix = store.embeddings(backbone=backbone)
    row = {pid: i for i, pid in enumerate(all_ids)}
    x = matrix[[row[pid] for pid in ids]]
    states = {ids[i]: dict.fromkeys(labels[i], "add") for i in train}
    evidence = evidence_from_states(states, [ids[i] for i in train], x[train])
    start = time.perf_counter()
    result = learn(
        evidence,
        backbone_scores(store, evidence.photo_ids, evidence.tags, backbone=backbone),
        library_size=len(train),
        floor=similarity_floor(x[train]),
        display_threshold=DISPLAY_THRESHOLD,
    )
    seconds = time.perf_counter() - start
    tags = result.learner.tags
    test_ids = [ids[i] for i in test]
    learned = result.learner.scores(x[test])
    base = backbone_scores(store, test_ids, tags, backbone=backbone)
    shown = base.copy()
    for j, gate in enumerate(result.gates):
        if gate.kept:
            shown[:, j] = np.maximum(confidence(gate, learned[:, j]), base[:, j])
    y = np.array([[t in labels[i] for t in tags] for i in test])
    per_tag = {}
    for j, tag in enumerate(tags):
        if y[:, j].any():
            per_tag[tag] = {
                "backbone": average_precision(y[:, j], base[:, j]),
                "learned": average_precision(y[:, j], learned[:, j]),
                "shown": average_precision(y[:, j], shown[:, j]),
                "kept": result.gates[j].kept,
            }
    counts = Counter(t for i in train for t in labels[i])
    top10 = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]]
    return {
        "per_tag": per_tag,
        "kept": sum(g.kept for g in result.gates),
        "refused": sum(not g.kept for g in result.gates),
        "top10": top10,
        "blend": result.learner.blend,
        "seconds": seconds,
        "estimated": {
            "backbone": result.metrics.backbone_map,
            "learned": result.metrics.learned_map,
            "shown": result.metrics.shown_map,
        },
    }


def summarise(runs: list[dict]) -> dict:
    """mAPs over scored tags (mean over runs), verdict counts and kept tags worse than the backbone."""

    def mean_ap(run: dict, key: str, only: list[str] | None = None) -> float:
        tags = [t for t in run["per_tag"] if only is None or t in only]
        return float(np.mean([run["per_tag"][t][key] for t in tags]))

    out: dict = {}
    for key in ("backbone", "learned", "shown"):
        out[f"{key}_map"] = round(float(np.mean([mean_ap(r, key) for r in runs])), 4)
    out["top10"] = {
        key: round(float(np.mean([mean_ap(r, key, r["top10"]) for r in runs])), 4)
        for key in ("backbone", "learned", "shown")
    }
    worse = sorted(
        {
            f"{t} ({v['shown']:.2f} < {v['backbone']:.2f})"
            for r in runs
            for t, v in r["per_tag"].items()
            if v["kept"] and v["shown"] < v["backbone"] - 1e-9
        }
    )
    out["gate"] = {
        "kept_tags": round(float(np.mean([r["kept"] for r in runs])), 1),
        "refused_tags": round(float(np.mean([r["refused"] for r in runs])), 1),
        "kept_tags_scored": int(
            np.mean([sum(v["kept"] for v in r["per_tag"].values()) for r in runs])
        ),
        "kept_worse_than_backbone": worse,
    }
    out["estimated_inside_training"] = {
        key: round(float(np.mean([r["estimated"][key] for r in runs])), 4)
        for key in ("backbone", "learned", "shown")
    }
    out["blend"] = [r["blend"] for r in runs]
    out["learn_seconds"] = round(float(np.mean([r["seconds"] for r in runs])), 1)
    return out


def learning_report(
    backbone: str = "efficientnet-lite0",
    *,
    folds: int = 5,
    cache_dir: Path | None = None,
    precision: str = "auto",
) -> dict:
    """The learning figures as one dict (``bench/quality.py`` prints it too)."""
    with tempfile.TemporaryDirectory() as tmp:
        cache = cache_dir or Path(tmp) / "onnx"
        store, ids, labels, paths = tagged_coco(backbone, cache, Path(tmp) / "bench.db", precision)
        with store:
            train = np.array([i for i, p in enumerate(paths) if p.startswith("train2017/")])
            val = np.array([i for i, p in enumerate(paths) if p.startswith("val2017/")])
            split = summarise([score_split(store, ids, labels, train, val, backbone=backbone)])
            order = np.random.default_rng(0).permutation(len(ids))
            parts = np.array_split(order, folds)
            kfold = summarise(
                [
                    score_split(
                        store,
                        ids,
                        labels,
                        np.concatenate([parts[g] for g in range(folds) if g != f]),
                        parts[f],
                        backbone=backbone,
                    )
                    for f in range(folds)
                ]
            )
    return {
        "benchmark": "learning",
        "dataset": f"coco-mini: {len(train)} train2017 + {len(val)} val2017 photos",
        "backbone": backbone,
        "precision": precision,
        "train2017_to_val2017": split,
        f"{folds}_fold": kfold,
        "target": "no kept tag worse than the backbone on the scored photos",
        "met": not split["gate"]["kept_worse_than_backbone"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--precisions", nargs="+", default=["auto"], choices=PRECISIONS)
    args = parser.parse_args()
    reports = [
        learning_report(args.backbone, folds=args.folds, precision=precision)
        for precision in args.precisions
    ]
    if len(reports) == 1:
        print(json.dumps(reports[0], indent=1))
        return
    first = reports[0]["train2017_to_val2017"]
    losses = {
        r["precision"]: {
            key: round(first[key] - r["train2017_to_val2017"][key], 4)
            for key in ("backbone_map", "learned_map", "shown_map")
        }
        for r in reports[1:]
    }
    print(
        json.dumps(
            {
                "benchmark": "learning by precision",
                "reports": reports,
                f"val2017_map_lost_against_{args.precisions[0]}": losses,
                "learned_map_loss<=0.01": all(v["learned_map"] <= 0.01 for v in losses.values()),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
