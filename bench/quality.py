"""Out-of-the-box tag quality on ../shared/data/coco-mini, scored on photos that chose nothing.

The 159 photos are tagged through the real pipeline (``core.engine.pipeline.tag_photos``
into a fresh store, the default backbone, the ONNX export cached in
``~/.cache/phototagger-bench``), and everything is read back from the store as
the app reads it, whatever source wrote it (the backbone, the face detector).

Each COCO label is matched to its counterpart tag through ``bench/coco_tags.csv``
(``person`` -> ``people``; labels with no counterpart are listed). Reported per
split:

- ``ap``: average precision (scikit-learn) of each counterpart tag's stored score
  (0 where the tag was not stored) for its COCO label, over the photos; their mean
  ``map``, with and without ``person``;
- ``shown``: at default settings (threshold, tags per photo), the share of shown
  tags with a COCO counterpart that are right (``precision``; ``precision_confident``
  leaves low-confidence tags out), photos with no tag, photos whose tags are all
  low confidence;
- ``general``: each general tag's share of photos, and the share of those where
  it is right (a COCO label of the photo maps to a tag below it; null when no
  tag below it has a COCO counterpart).

``val2017`` (79 photos) is the honest figure: every threshold and rule in the
vocabulary was chosen on ``train2017`` (80 photos) or by judgement. ``train2017``
and ``all`` are labelled as tuned-on.

After learning (``bench/learning.py``'s report, printed here as ``after_learning``
unless ``--no-learning``): learn from the COCO tags of the train2017 photos and
score the val2017 photos, beside the 5-fold figure; every hyper-parameter is
chosen inside the learning photos; per tag, learned against the backbone.

Usage: python bench/quality.py [--splits val2017 train2017 all] [--no-learning]
       [--precision auto|float|int8]
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
from _common import PRECISIONS, ROOT, shared, use_precision
from learning import learning_report
from sklearn.metrics import average_precision_score

from core.engine.backbones import DEFAULT_BACKBONE
from core.engine.pipeline import Tagger, tag_photos
from core.engine.sources import file_ref
from core.engine.vocabulary import Vocabulary, best_scores
from core.learning.review import photo_tags
from core.settings import Settings
from core.store import Store

CACHE = Path.home() / ".cache" / "phototagger-bench"
SPLITS = ("val2017", "train2017", "all")
TARGETS = {
    "map_min": 0.60,
    "shown_precision_min": 0.70,
    "photos_without_tag_max": 0,
    "general_share_max_unless_right": 0.25,
    "person_ap_min (faces)": 0.80,
}


def coco_map() -> tuple[dict[str, str], list[str]]:
    """COCO label -> counterpart tag, and the labels with none."""
    with open(ROOT / "bench" / "coco_tags.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return (
        {r["coco_label"]: r["tag"] for r in rows if r["tag"]},
        [r["coco_label"] for r in rows if not r["tag"]],
    )


def tag_set(store: Store, folder: Path, rows: list[dict], precision: str = "auto") -> list[dict]:
    """Tag the photos; per photo: split, COCO labels, best stored score per tag, shown tags."""
    tagger = Tagger.open(
        DEFAULT_BACKBONE, device="cpu", cache_dir=CACHE, precision=use_precision(precision)
    )
    refs = [file_ref(folder / r["path"]) for r in rows]
    summary = tag_photos(refs, tagger=tagger, store=store)
    if summary.failed:
        raise SystemExit(f"{summary.failed} photos failed: {summary.errors[:3]}")
    settings = Settings()
    photos = []
    for ref, row in zip(refs, rows, strict=True):
        pid = store.photo_id(ref.uri)
        assert pid is not None
        best = best_scores(store.suggestions(pid))
        shown = photo_tags(store, pid, threshold=settings.threshold, top_k=settings.top_k)
        photos.append(
            {
                "split": row["path"].split("/")[0],
                "labels": set(row["tags"].split(";")),
                "scores": {tag: s.score for tag, s in best.items()},
                "shown": shown,
            }
        )
    return photos


def average_precisions(photos: list[dict], mapping: dict[str, str]) -> dict[str, float | None]:
    aps: dict[str, float | None] = {}
    for label, tag in mapping.items():
        y = np.array([label in p["labels"] for p in photos])
        score = np.array([p["scores"].get(tag, 0.0) for p in photos])
        aps[label] = round(float(average_precision_score(y, score)), 4) if y.any() else None
    return aps


def shown_quality(
    photos: list[dict], mapping: dict[str, str], vocabulary: Vocabulary
) -> tuple[dict, dict]:
    labels_of: dict[str, set[str]] = {}
    for label, tag in mapping.items():
        labels_of.setdefault(tag, set()).add(label)

    def right(tag: str, labels: set[str]) -> bool:
        return bool(labels_of[tag] & labels)

    judged = [
        (t, right(t.tag, p["labels"])) for p in photos for t in p["shown"] if t.tag in labels_of
    ]
    confident = [ok for t, ok in judged if not t.low_confidence]
    per_tag: Counter[str] = Counter(t.tag for p in photos for t in p["shown"])
    shown = {
        "precision": round(sum(ok for _, ok in judged) / len(judged), 4) if judged else None,
        "precision_confident": round(sum(confident) / len(confident), 4) if confident else None,
        "judged_tags": len(judged),
        "photos_without_tag": sum(not p["shown"] for p in photos),
        "photos_low_confidence_only": sum(
            bool(p["shown"]) and all(t.low_confidence for t in p["shown"]) for p in photos
        ),
        "tags_per_photo": round(sum(len(p["shown"]) for p in photos) / len(photos), 2),
        "most_shown": {t: round(n / len(photos), 3) for t, n in per_tag.most_common(12)},
    }
    general = {}
    for tag, rule in vocabulary.rules.items():
        if not rule.general:
            continue
        on = [p for p in photos if any(t.tag == tag for t in p["shown"])]
        below = {t for t in vocabulary.descendants(tag) | {tag} if t in labels_of}
        hits = [bool(below) and any(right(t, p["labels"]) for t in below) for p in on]
        general[tag] = {
            "share": round(len(on) / len(photos), 4),
            "right": (round(sum(hits) / len(on), 4) if on else None) if below else None,
        }
    return shown, general


def report(photos: list[dict], mapping: dict[str, str], vocabulary: Vocabulary) -> dict:
    aps = average_precisions(photos, mapping)
    scored = {k: v for k, v in aps.items() if v is not None}
    without_person = [v for k, v in scored.items() if k != "person"]
    shown, general = shown_quality(photos, mapping, vocabulary)
    return {
        "photos": len(photos),
        "map": round(float(np.mean(list(scored.values()))), 4),
        "map_without_person": round(float(np.mean(without_person)), 4),
        "person_ap": aps.get("person"),
        "labels_scored": len(scored),
        "ap": dict(sorted(scored.items(), key=lambda kv: kv[1])),
        "shown": shown,
        "general": general,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", nargs="*", choices=SPLITS, default=list(SPLITS))
    parser.add_argument("--no-learning", action="store_true", help="out of the box only")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    args = parser.parse_args()
    folder = shared("coco-mini")
    with open(folder / "tags.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    mapping, unmatched = coco_map()
    vocabulary = Vocabulary.bundled()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        photos = tag_set(store, folder, rows, args.precision)
    results = {}
    for split in args.splits:
        chosen = [p for p in photos if split == "all" or p["split"] == split]
        label = "honest: chose nothing" if split == "val2017" else "tuned on (train2017)"
        results[split] = {"role": label, **report(chosen, mapping, vocabulary)}
    learned = (
        None
        if args.no_learning
        else learning_report(DEFAULT_BACKBONE, cache_dir=CACHE, precision=args.precision)
    )
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "benchmark": "quality",
                "dataset": "coco-mini (80 train2017 + 79 val2017 photos)",
                "backbone": DEFAULT_BACKBONE,
                "precision": args.precision,
                "labels_without_counterpart": unmatched,
                "results": results,
                "after_learning": learned,
                "targets": TARGETS,
                "seconds": round(elapsed, 1),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
