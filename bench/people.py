"""People tags on coco-mini: face search speed, photo-level "person" AP, false faces, throughput.

Measured in one run, on ``../shared/data/coco-mini`` (80 train2017 + 79 val2017 photos):

- speed: the face search alone (MTCNN on ONNX Runtime, one thread) on each photo's
  detection copy, in photos per second, seconds per photo, and CPU seconds per photo
  (the figure to trust on a busy machine);
- photo-level average precision for COCO's "person" of: the best face's confidence
  (faces alone), the person-implying classes alone, and the fitted ``people`` model
  (faces and classes). The model was fitted on train2017 photos only
  (``resources/build_people_model.py``), so **val2017 is the honest figure**; train2017
  (the photos it was fitted on) and all 159 are given beside it, labelled;
- photos without a person that get a face at confidence >= 0.9 (false faces);
- ``#people`` as shown at the default threshold: precision and recall on val2017;
- tagging throughput (``core.pipeline.tag_photos``, decode to store) with the face
  search off and on, the same photos, the same process (``--no-throughput`` skips it).

Usage: python bench/people.py [--no-throughput]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import ROOT, shared

from core.faces import CONFIDENT_FACE, FaceDetector, detection_copy
from core.imaging import decode_photo
from core.people_tags import PeopleModel
from core.settings import Settings
from resources.build_people_model import coco_photos, collect


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return round(float(average_precision_score(labels, scores)), 4)


def search_speed(paths: list[Path]) -> dict:
    detector = FaceDetector(threads=1)
    copies = [detection_copy(decode_photo(p, min_short_side=600).image) for p in paths]
    detector.faces(copies[0])  # first-run allocations out of the timing
    start, cpu = time.perf_counter(), time.process_time()
    for image in copies:
        detector.faces(image)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "photos": len(copies),
        "photos_per_s": round(len(copies) / elapsed, 2),
        "s_per_photo": round(elapsed / len(copies), 4),
        "cpu_s_per_photo": round(cpu / len(copies), 4),
        "mean_pixels": int(np.mean([c.width * c.height for c in copies])),
    }


def quality(evidence, model: PeopleModel) -> dict:
    splits = {
        "val2017 (honest: not used for fitting)": lambda e: "/val2017/" in e.path,
        "train2017 (fitted on)": lambda e: "/train2017/" in e.path,
        "all 159": lambda e: True,
    }
    out = {}
    for name, keep in splits.items():
        rows = [e for e in evidence if keep(e)]
        labels = np.array([e.person for e in rows])
        probs = np.stack([e.probabilities for e in rows])
        faces_alone = np.array([max((f.score for f in e.faces), default=0.0) for e in rows])
        classes = model.people_scores([None] * len(rows), probs, calibrated=True)
        combined = model.people_scores([e.faces for e in rows], probs, calibrated=True)
        out[name] = {
            "photos": len(rows),
            "with_person": int(labels.sum()),
            "ap_faces_alone": average_precision(labels, faces_alone),
            "ap_classes_alone": average_precision(labels, classes),
            "ap_people_model": average_precision(labels, combined),
        }
    return out


def shown_at_default(evidence, model: PeopleModel) -> dict:
    rows = [e for e in evidence if "/val2017/" in e.path]
    labels = np.array([e.person for e in rows])
    scores = model.people_scores([e.faces for e in rows], np.stack([e.probabilities for e in rows]))
    shown = scores >= Settings.threshold
    return {
        "threshold": Settings.threshold,
        "shown": int(shown.sum()),
        "precision": round(float(labels[shown].mean()), 4) if shown.any() else None,
        "recall": round(float(labels[shown].sum() / labels.sum()), 4),
    }


def false_faces(evidence) -> dict:
    nobody = [e for e in evidence if not e.person]
    hit = [Path(e.path).name for e in nobody if any(f.score >= CONFIDENT_FACE for f in e.faces)]
    return {"photos_without_person": len(nobody), "with_a_face_at_0.9": len(hit), "which": hit}


def throughput(folder: Path, cache: Path) -> dict:
    from core.pipeline import Tagger, tag_photos
    from core.sources import iter_folder
    from core.store import Store

    with_faces = Tagger.open("efficientnet-lite0", device="cpu", cache_dir=cache)
    without = Tagger(
        with_faces.spec, with_faces.runtime, with_faces.vocabulary, people=with_faces.people
    )
    refs = sorted(iter_folder(folder), key=lambda r: r.uri)
    out = {}
    for name, tagger in (
        ("faces_off", without),
        ("faces_on", with_faces),
        ("faces_off_again", without),
    ):
        with Store(":memory:") as store:
            start = time.perf_counter()
            summary = tag_photos(refs, tagger=tagger, store=store, batch_size=16)
            elapsed = time.perf_counter() - start
        assert summary.failed == 0, summary.errors[:3]
        out[name] = round(len(refs) / elapsed, 2)
    out["photos"] = len(refs)
    out["ratio_on_to_off"] = round(
        out["faces_on"] / ((out["faces_off"] + out["faces_off_again"]) / 2), 3
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-throughput", action="store_true")
    args = parser.parse_args()
    coco = shared("coco-mini")
    cache = ROOT / ".cache" / "onnx"
    photos = coco_photos(coco)
    result: dict = {"set": "coco-mini", "photos": len(photos)}
    result["face_search"] = search_speed([p for p, _ in photos])
    evidence = collect(photos, cache_dir=cache)
    model = PeopleModel.bundled()
    result["person_ap"] = quality(evidence, model)
    result["people_shown_at_default_val2017"] = shown_at_default(evidence, model)
    result["false_faces"] = false_faces(evidence)
    if not args.no_throughput:
        result["tagging_photos_per_s"] = throughput(coco, cache)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
