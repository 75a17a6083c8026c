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
- tagging throughput (``core.engine.pipeline.tag_photos``, decode to store) with the face
  search off and on, the same photos, the same process (``--no-throughput`` skips it).

Recognising people (needs the ``people`` extra), measured in the same run:

- on ``../shared/data/faces``: the distances between train faces (same person, two
  people) that the threshold was chosen from; then the train photos' groups are
  named as a person would (each group after the person most of its photos show,
  largest group first) and the test photos tagged: per person in a test photo,
  named right (a face of the photo gets their name suggested), named wrong (a face
  gets the name of someone not in the photo), or left unnamed. Test photos chose
  nothing; the threshold came from the train photos alone;
- on coco-mini: faces embedded per second (the search and the embeddings, one thread);
- clustering 10,000 synthetic embeddings (500 people of 20 faces, spread as dlib's
  are): CPU seconds and adjusted Rand index against the truth.

Usage: python bench/people.py [--no-throughput] [--people-only]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _common import ROOT, shared

from core.engine.faces import CONFIDENT_FACE, FaceDetector, detection_copy
from core.engine.imaging import decode_photo
from core.engine.people_tags import PeopleModel
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
    from core.engine.pipeline import Tagger, tag_photos
    from core.engine.sources import iter_folder
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


def _found_faces(paths: list[Path], detector: FaceDetector, encoder) -> dict[Path, tuple]:
    """Each photo's faces with embeddings, found as tagging finds them (600 px decode)."""
    out = {}
    for path in paths:
        image = decode_photo(path, min_short_side=600).image
        out[path] = encoder.embed(image, detector.faces(image))
    return out


def _store_faces(store, found: dict[Path, tuple], encoder_version: str) -> None:
    from core.engine.sources import PhotoRef
    from core.store import PhotoResult

    run = store.start_run(backbone="bench", device="cpu", runtime="onnx", total=len(found))
    results = [
        PhotoResult(
            PhotoRef(uri=str(p), kind="file", size=1, mtime=1),
            1,
            1,
            "JPEG",
            faces=faces,
            face_detector="bench",
            face_encoder=encoder_version,
        )
        for p, faces in found.items()
    ]
    store.save_results(results, run_id=run, backbone="bench")


def train_distances(found: dict[Path, tuple], labels: dict[Path, list[str]]) -> dict:
    """Same-person and two-people distances between train faces (what the threshold came from).

    In a photo labelled with one person the largest face is theirs; other faces there
    are strangers (different from everyone).
    """
    from core.people.groups import pairwise_distances

    vectors, who = [], []
    for path, faces in found.items():
        for i, face in enumerate(f for f in faces if f.embedding is not None):
            vectors.append(face.embedding)
            who.append(
                labels[path][0] if i == 0 and len(labels[path]) == 1 else f"stranger{path}{i}"
            )
    d = pairwise_distances(np.stack(vectors), np.stack(vectors))
    same = np.array([[a == b for b in who] for a in who]) & ~np.eye(len(who), dtype=bool)
    other = np.array([[a != b for b in who] for a in who])
    low, high = float(d[same].max()), float(d[other].min())
    return {
        "faces": len(who),
        "same_person_max": round(low, 3),
        "same_person_median": round(float(np.median(d[same])), 3),
        "two_people_min": round(high, 3),
        "two_people_median": round(float(np.median(d[other])), 3),
        "midpoint": round((low + high) / 2, 3),
        "chosen_threshold_rounded_down_to_a_tenth": float(np.floor((low + high) / 2 * 10) / 10),
    }


def recognition() -> dict:
    """Name the train groups, then score the names suggested for the test photos' faces."""
    import csv
    from collections import Counter

    from core.engine.face_encoder import FaceEncoder, recognition_available
    from core.people.groups import MATCH_DISTANCE, group_faces
    from core.people.naming import groups, name_group, suggestions
    from core.store import Store

    if not recognition_available():
        return {"skipped": "face recognition is not installed (pip install '.[people]')"}
    root = shared("faces")
    with open(root / "labels.csv", newline="") as fh:
        labels = {root / r["path"]: r["people"].split(";") for r in csv.DictReader(fh)}
    detector, encoder = FaceDetector(threads=1), FaceEncoder()
    train = _found_faces([p for p in labels if "/train/" in str(p)], detector, encoder)
    start, cpu = time.perf_counter(), time.process_time()
    test = _found_faces([p for p in labels if "/test/" in str(p)], detector, encoder)
    out: dict = {"threshold": MATCH_DISTANCE, "train_distances": train_distances(train, labels)}
    with Store(":memory:") as store:
        records = store.people
        _store_faces(store, train, encoder.version)
        group_faces(store)
        named: set[str] = set()
        uris = {str(p): p for p in labels}
        for group in groups(store):
            photos = [
                uris[store.photo_uris([f.photo_id])[f.photo_id]]
                for f in records.faces(person_id=group.id)
            ]
            person = Counter(n for p in photos for n in labels[p]).most_common(1)[0][0]
            if person not in named:
                name_group(store, group.id, person)
                named.add(person)
        _store_faces(store, test, encoder.version)
        group_faces(store)
        given: dict[Path, list[tuple[str, float]]] = {}
        for s in suggestions(store):
            photo = uris[store.photo_uris([s.photo_id])[s.photo_id]]
            given.setdefault(photo, []).append((s.name or "", round(s.confidence, 3)))
    right = wrong = unnamed = 0
    per_photo = {}
    for photo in test:
        names = [n for n, _ in given.get(photo, [])]
        counts = Counter(names)
        for person in labels[photo]:
            if counts[person]:
                right += 1
            else:
                unnamed += 1
        wrong += sum(c for n, c in counts.items() if n not in labels[photo])
        wrong += sum(c - 1 for n, c in counts.items() if n in labels[photo] and c > 1)
        per_photo[photo.name] = {
            "people": labels[photo],
            "faces": len(test[photo]),
            "named": given.get(photo, []),
        }
    total = sum(len(labels[p]) for p in test)
    out["test_people"] = total
    out["test_right_share"] = round(right / total, 3)
    out["test_wrong_share"] = round(wrong / total, 3)
    out["test_unnamed_share"] = round(unnamed / total, 3)
    out["test_photos"] = per_photo
    out["test_search_and_embed_s_per_photo"] = round((time.perf_counter() - start) / len(test), 3)
    out["test_cpu_s_per_photo"] = round((time.process_time() - cpu) / len(test), 3)
    return out


def embedding_speed(paths: list[Path]) -> dict:
    """Faces found and embedded per second on coco-mini (one thread each)."""
    from core.engine.face_encoder import FaceEncoder, recognition_available

    if not recognition_available():
        return {"skipped": "face recognition is not installed"}
    detector, encoder = FaceDetector(threads=1), FaceEncoder()
    images = [decode_photo(p, min_short_side=600).image for p in paths]
    found = [detector.faces(im) for im in images]
    encoder.embed(images[0], found[0])  # loads the models out of the timing
    start, cpu = time.perf_counter(), time.process_time()
    embedded = sum(
        sum(f.embedding is not None for f in encoder.embed(im, faces))
        for im, faces in zip(images, found, strict=True)
    )
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "photos": len(images),
        "faces_embedded": embedded,
        "faces_per_s": round(embedded / elapsed, 2),
        "cpu_s_per_face": round(cpu / max(embedded, 1), 4),
    }


def clustering_time(people: int = 500, per_person: int = 20) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from core.people.groups import cluster_embeddings

    rng = np.random.default_rng(0)
    centres = rng.normal(scale=0.78 / np.sqrt(2 * 128), size=(people, 128))
    truth = np.repeat(np.arange(people), per_person)
    x = centres[truth] + rng.normal(scale=0.4 / np.sqrt(2 * 128), size=(len(truth), 128))
    order = rng.permutation(len(truth))
    x, truth = x[order].astype(np.float32), truth[order]
    start, cpu = time.perf_counter(), time.process_time()
    labels = cluster_embeddings(x)
    return {
        "embeddings": len(x),
        "people": people,
        "wall_s": round(time.perf_counter() - start, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "groups_found": int(labels.max() + 1),
        "adjusted_rand_index": round(float(adjusted_rand_score(truth, labels)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--people-only", action="store_true", help="Only the recognition part.")
    args = parser.parse_args()
    coco = shared("coco-mini")
    if args.people_only:
        photos = coco_photos(coco)
        result = {
            "recognition_faces_set": recognition(),
            "coco_mini_embedding": embedding_speed([p for p, _ in photos]),
            "clustering": clustering_time(),
        }
        print(json.dumps(result, indent=1, default=str))
        return
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
    result["recognition_faces_set"] = recognition()
    result["coco_mini_embedding"] = embedding_speed([p for p, _ in photos])
    result["clustering"] = clustering_time()
    print(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    main()
