"""Fit the ``people`` tag's logistic model on coco-mini's train2017 photos and write its coefficients.

Run from the project root: ``python resources/build_people_model.py [COCO_MINI_DIR]``
(default ``../shared/data/coco-mini``). Needs scikit-learn and the default
backbone (its ONNX export is cached as tagging caches it). Writes
``resources/faces/people_model.json``, which is committed.

Only train2017 photos are read: the regularisation strength is chosen by
5-fold cross-validated average precision among them, and the model is then
fitted on all of them. val2017 is left for ``bench/people.py`` to score.
Each photo goes through the pipeline's own ``prepare`` (decoding, face search)
and the tagger's probabilities, so the features are those tagging computes.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.engine.faces import Face  # noqa: E402
from core.engine.people_tags import (  # noqa: E402
    CLASS_FEATURES,
    FACE_FEATURES,
    people_features,
    person_class_indices,
)

OUT = ROOT / "resources" / "faces" / "people_model.json"
DEFAULT_COCO = ROOT.parent / "shared" / "data" / "coco-mini"
STRENGTHS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
"""Inverse L2 strengths (scikit-learn's C) tried by cross-validation."""
TARGET_PRECISION = 0.8
"""``people`` is shown at default settings from the lowest score whose cross-validated
precision on the train photos reaches this."""
BACKBONE = "efficientnet-lite0"


@dataclass(frozen=True)
class Evidence:
    """What the people model sees of one labelled photo."""

    path: str
    faces: tuple[Face, ...]
    probabilities: np.ndarray
    person: bool


def coco_photos(coco: Path, *, split: str | None = None) -> list[tuple[Path, bool]]:
    """(photo, has a person) from coco-mini's ``tags.csv``, optionally one split only."""
    with open(coco / "tags.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [
        (coco / row["path"], "person" in row["tags"].split(";"))
        for row in rows
        if split is None or row["path"].startswith(f"{split}/")
    ]


def collect(photos: list[tuple[Path, bool]], *, cache_dir: Path) -> list[Evidence]:
    """Faces and backbone probabilities of each photo, as tagging computes them."""
    from core.engine.backbones import get_backbone_spec
    from core.engine.faces import FaceDetector
    from core.engine.pipeline import Tagger, prepare
    from core.engine.runtime import open_runtime
    from core.engine.sources import file_ref
    from core.engine.vocabulary import Vocabulary

    spec = get_backbone_spec(BACKBONE)
    runtime = open_runtime(spec, device="cpu", cache_dir=cache_dir)
    # Not Tagger.open: that loads the model this script is about to write.
    tagger = Tagger(spec, runtime, Vocabulary.bundled(), faces=FaceDetector())
    evidence = []
    for path, person in photos:
        prepared = prepare(
            file_ref(path), tagger.data_config, view=tagger.spec.view, detector=tagger.faces
        )
        if prepared.pixels is None:
            raise SystemExit(f"{path}: {prepared.error}")
        _, probs = tagger.probabilities(prepared.pixels[None])
        evidence.append(Evidence(str(path), prepared.faces or (), probs[0], person))
    return evidence


def design(evidence: list[Evidence], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    classes = person_class_indices()
    x = np.stack([people_features(e.faces, e.probabilities, classes, names) for e in evidence])
    y = np.array([e.person for e in evidence], dtype=int)
    return x, y


def fit(x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> dict:
    """Choose C by 5-fold CV average precision on these photos, then fit on all of them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, precision_recall_curve
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    held_out, cv_ap = {}, {}
    for c in STRENGTHS:
        held_out[c] = cross_val_predict(
            LogisticRegression(C=c, max_iter=1000), x, y, cv=folds, method="predict_proba"
        )[:, 1]
        cv_ap[c] = float(average_precision_score(y, held_out[c]))
    best = max(STRENGTHS, key=lambda c: (round(cv_ap[c], 3), -c))  # ties: the stronger prior
    precision, recall, thresholds = precision_recall_curve(y, held_out[best])
    reached = [
        (t, p, r)
        for p, r, t in zip(precision[:-1], recall[:-1], thresholds, strict=True)
        if p >= TARGET_PRECISION
    ]
    suggest_from, cv_precision, cv_recall = min(reached)
    model = LogisticRegression(C=best, max_iter=1000).fit(x, y)
    return {
        "features": list(names),
        "coefficients": [round(float(v), 6) for v in model.coef_[0]],
        "intercept": round(float(model.intercept_[0]), 6),
        "suggest_from": round(float(suggest_from), 4),
        "C": best,
        "cv_average_precision": round(cv_ap[best], 4),
        "cv_precision_at_suggest_from": round(float(cv_precision), 4),
        "cv_recall_at_suggest_from": round(float(cv_recall), 4),
    }


def build(coco: Path, *, cache_dir: Path, out: Path = OUT) -> dict:
    photos = coco_photos(coco, split="train2017")
    evidence = collect(photos, cache_dir=cache_dir)
    with_faces = fit(*design(evidence, FACE_FEATURES), FACE_FEATURES)
    without_faces = fit(*design(evidence, CLASS_FEATURES), CLASS_FEATURES)
    model = {
        "fitted_on": "coco-mini train2017 (80 photos; COCO 'person' as the label)",
        "backbone": BACKBONE,
        "photos": len(evidence),
        "with_people": int(sum(e.person for e in evidence)),
        "with_faces": with_faces,
        "without_faces": without_faces,
    }
    out.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("coco", nargs="?", type=Path, default=DEFAULT_COCO)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="where the backbone's ONNX export is cached (default: the app's cache)",
    )
    args = parser.parse_args(argv)
    if args.cache_dir is None:
        from core.settings import cache_dir

        args.cache_dir = cache_dir() / "onnx"
    model = build(args.coco, cache_dir=args.cache_dir)
    print(json.dumps(model, indent=2))


if __name__ == "__main__":
    main()
