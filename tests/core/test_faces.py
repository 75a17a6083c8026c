"""Face detection: the shipped MTCNN export, the cascade against facenet-pytorch's, real photos,
the people tags, and faces through the store and the pipeline."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.engine.faces import (
    CONFIDENT_FACE,
    DETECT_LONG_SIDE,
    MIN_FACE_SIZE,
    Face,
    FaceDetector,
    detection_copy,
    detector_version,
)
from core.engine.people_tags import (
    GROUP_TAG,
    PEOPLE_TAG,
    PORTRAIT_TAG,
    PeopleModel,
    face_tags,
    people_tags,
    person_class_indices,
)
from core.engine.sources import PhotoRef, file_ref, iter_folder
from core.store import PhotoResult
from tests.conftest import ROOT, shared
from tests.store_sql import count

FACES_DIR = ROOT / "resources" / "faces"
HAS_FACENET = importlib.util.find_spec("facenet_pytorch") is not None
needs_facenet = pytest.mark.skipif(
    not HAS_FACENET,
    reason="facenet-pytorch is not installed (pip install --no-deps facenet-pytorch)",
)

# coco-mini photos with people whose faces show (checked by eye), and how many at least.
COCO_FACES = {
    "train2017/000000370162.jpg": 10,  # a crowd at a table
    "train2017/000000256353.jpg": 4,
    "train2017/000000551757.jpg": 1,  # a close portrait
    "val2017/000000350679.jpg": 5,
}
# imagenet-sample's landscapes (its sandbar photo shows three people: found, rightly).
LANDSCAPE_CLASSES = {
    "alp",
    "cliff",
    "geyser",
    "lakeside",
    "promontory",
    "seashore",
    "valley",
    "volcano",
}


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def _coco_rows() -> list[dict]:
    root = shared("coco-mini")
    with open(root / "tags.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# -- the shipped export ------------------------------------------------------------------


def test_shipped_exports_are_the_ones_the_manifest_names():
    manifest = json.loads((FACES_DIR / "manifest.json").read_text())
    assert manifest["source"]["package"] == "facenet-pytorch"
    assert "MIT" in manifest["licence"] and "davidsandberg/facenet" in manifest["licence"]
    for name, net in manifest["nets"].items():
        data = (FACES_DIR / net["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == net["sha256"], name
        assert len(data) < 2_000_000
    assert detector_version().startswith("mtcnn-")


@needs_facenet
def test_a_fresh_export_computes_what_the_shipped_one_does(tmp_path):
    import onnxruntime as ort

    from resources.build_face_detector import build, facenet_package_dir, sha256_of

    shipped = json.loads((FACES_DIR / "manifest.json").read_text())
    fresh = build(tmp_path)
    package = facenet_package_dir()
    rng = np.random.default_rng(0)
    sizes = {"pnet": (1, 3, 97, 131), "rnet": (7, 3, 24, 24), "onet": (5, 3, 48, 48)}
    for name, net in shipped["nets"].items():
        assert sha256_of(package / "data" / f"{name}.pt") == net["source_sha256"], name
        batch = rng.uniform(-1, 1, size=sizes[name]).astype(np.float32)
        ours = ort.InferenceSession(str(FACES_DIR / net["file"])).run(None, {"pixels": batch})
        again = ort.InferenceSession(str(tmp_path / fresh["nets"][name]["file"])).run(
            None, {"pixels": batch}
        )
        for a, b in zip(ours, again, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)


# -- the cascade -----------------------------------------------------------------------


@needs_facenet
def test_the_cascade_finds_what_facenet_pytorch_finds(detector):
    from resources.build_face_detector import load_facenet_mtcnn

    reference = load_facenet_mtcnn().MTCNN(
        keep_all=True, select_largest=False, min_face_size=MIN_FACE_SIZE
    )
    nobody = next(r["path"] for r in _coco_rows() if "person" not in r["tags"])
    paths = [
        shared("coco-mini", "train2017/000000370162.jpg"),  # a crowd: many small faces
        shared("coco-mini", "train2017/000000551757.jpg"),
        shared("coco-mini", nobody),
        shared("faces", "test", "obama_and_biden.jpg"),
    ]
    for path in paths:
        image = detection_copy(Image.open(path).convert("RGB"))
        boxes, scores, points = reference.detect(image, landmarks=True)
        ours = detector.detect(np.asarray(image))
        if boxes is None:
            assert len(ours) == 0, path.name
            continue
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        assert len(ours) == len(order), path.name
        np.testing.assert_allclose(ours.scores, np.asarray(scores, float)[order], atol=1e-5)
        boxes, points = np.asarray(boxes, float), np.asarray(points, float)
        np.testing.assert_allclose(ours.boxes, boxes[order], atol=2.0)
        np.testing.assert_allclose(ours.landmarks, points[order], atol=2.0)


def test_faces_in_real_photos(detector):
    for name, at_least in COCO_FACES.items():
        faces = detector.faces(Image.open(shared("coco-mini", name)).convert("RGB"))
        assert sum(f.score >= CONFIDENT_FACE for f in faces) >= at_least, name
        for face in faces:
            left, top, right, bottom = face.box
            assert 0 <= left < right <= 1 and 0 <= top < bottom <= 1
            assert len(face.landmarks) == 5
    both = detector.faces(Image.open(shared("faces", "test", "obama_and_biden.jpg")).convert("RGB"))
    assert sum(f.score >= CONFIDENT_FACE for f in both) == 3  # and a child at the edge
    eyes = both[0].landmarks[:2]
    assert all(both[0].box[0] <= x <= both[0].box[2] for x, _ in eyes)


def test_no_confident_face_on_photos_without_people(detector):
    rows = [r for r in _coco_rows() if "person" not in r["tags"].split(";")]
    assert len(rows) > 80
    root = shared("coco-mini")
    false = [
        r["path"]
        for r in rows
        if any(f.score >= CONFIDENT_FACE for f in detector.faces(Image.open(root / r["path"])))
    ]
    assert false == []


def test_no_face_on_landscapes(detector):
    root = shared("imagenet-sample")
    with open(root / "labels.csv", newline="", encoding="utf-8") as fh:
        landscapes = [
            r["filename"]
            for r in csv.DictReader(fh)
            if r["lemma"].split(",")[0] in LANDSCAPE_CLASSES
        ]
    assert len(landscapes) == len(LANDSCAPE_CLASSES)
    for name in landscapes:
        image = Image.open(root / name).convert("RGB")
        assert not [f for f in detector.faces(image) if f.score >= CONFIDENT_FACE], name


def test_tiny_grey_and_odd_images(detector):
    assert detector.faces(Image.new("RGB", (8, 8))) == ()
    assert detector.faces(Image.new("L", (300, 200), 128)) == ()
    assert len(detector.detect(np.zeros((40, 30, 3), dtype=np.uint8))) == 0
    with pytest.raises(ValueError, match="RGB"):
        detector.detect(np.zeros((40, 30), dtype=np.uint8))


def test_the_detection_copy_is_reduced_never_enlarged():
    assert detection_copy(Image.new("RGB", (4000, 3000))).size == (DETECT_LONG_SIDE, 600)
    assert detection_copy(Image.new("RGB", (640, 480))).size == (640, 480)


def test_faces_are_placed_on_the_photo_whatever_size_it_was_decoded_at(detector):
    image = Image.open(shared("coco-mini", "train2017/000000551757.jpg")).convert("RGB")
    big = image.resize((image.width * 2, image.height * 2), Image.Resampling.BICUBIC)
    [small_face] = [f for f in detector.faces(image) if f.score >= CONFIDENT_FACE]
    [big_face] = [f for f in detector.faces(big) if f.score >= CONFIDENT_FACE]
    np.testing.assert_allclose(small_face.box, big_face.box, atol=0.02)


# -- people tags -------------------------------------------------------------------------


def _face(left: float, top: float, size: float, score: float = 0.999) -> Face:
    return Face((left, top, left + size, top + size), score, ((left, top),) * 5)


def test_the_person_class_table_names_imagenet_classes_in_timm_order():
    root = shared("imagenet-sample")
    with open(root / "labels.csv", newline="", encoding="utf-8") as fh:
        wnids = {int(r["class_index"]): r["wnid"] for r in csv.DictReader(fh)}
    text = (ROOT / "resources" / "people_classes.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == len(set(person_class_indices())) > 50
    for row in rows:
        assert wnids[int(row["class_index"])] == row["wnid"], row
    assert {"ballplayer", "groom", "scuba diver", "jersey", "military uniform"} <= {
        r["name"] for r in rows
    }


def test_group_and_portrait_come_from_confident_faces():
    crowd = tuple(_face(0.1 * i, 0.2, 0.05) for i in range(4))
    assert [t.tag for t in face_tags(crowd)] == [GROUP_TAG]
    unsure = tuple(_face(0.1 * i, 0.2, 0.05, score=0.8) for i in range(4))
    assert face_tags(unsure) == []
    portrait = (_face(0.3, 0.1, 0.4), _face(0.8, 0.8, 0.05))
    assert [t.tag for t in face_tags(portrait)] == [PORTRAIT_TAG]
    couple = (_face(0.1, 0.1, 0.3), _face(0.5, 0.1, 0.28))
    assert face_tags(couple) == []
    far = (_face(0.5, 0.5, 0.05),)
    assert face_tags(far) == []


def test_people_rises_with_faces_and_with_person_classes():
    model = PeopleModel.bundled()
    probs = np.full((1, 1000), 1e-5)
    nobody = model.people_scores([()], probs)[0]
    face = model.people_scores([(_face(0.4, 0.2, 0.1),)], probs)[0]
    dressed = probs.copy()
    dressed[0, person_class_indices()[0]] = 0.6
    assert nobody < 0.2 <= face
    assert model.people_scores([()], dressed)[0] > nobody
    # Detection off: the classes alone still score it.
    assert model.people_scores([None], dressed)[0] > model.people_scores([None], probs)[0]
    # Hidden scores keep the probabilities' order.
    calibrated = model.people_scores([(), None], np.vstack([probs, dressed]), calibrated=True)
    shown = model.people_scores([(), None], np.vstack([probs, dressed]))
    assert np.all(shown <= calibrated)
    [tags] = people_tags([(_face(0.3, 0.1, 0.4),)], probs, model=model)
    assert {t.tag for t in tags} == {PEOPLE_TAG, PORTRAIT_TAG}
    assert {t.source for t in tags} == {"faces"}


def test_the_people_model_was_fitted_on_train_photos_only():
    model = json.loads((FACES_DIR / "people_model.json").read_text())
    assert "train2017" in model["fitted_on"] and model["photos"] == 80
    for part in ("with_faces", "without_faces"):
        assert 0 < model[part]["suggest_from"] < 1


# -- the store and the pipeline ----------------------------------------------------------


def test_faces_are_stored_per_photo_and_known_until_the_photo_changes(store):
    ref = PhotoRef(uri="/photos/a.jpg", kind="file", size=10, mtime=1)
    faces = (_face(0.1, 0.1, 0.3), _face(0.6, 0.2, 0.1, score=0.95))
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=1)
    store.save_results(
        [PhotoResult(ref, 4, 3, "JPEG", faces=faces, face_detector="det-1")],
        run_id=run,
        backbone="b",
    )
    pid = store.photo_id(ref.uri)
    assert store.faces(pid) == list(faces)
    assert store.known_faces([ref], detector="det-1") == {ref.uri: faces}
    assert store.known_faces([ref], detector="det-2") == {}
    changed = PhotoRef(uri=ref.uri, kind="file", size=10, mtime=2)
    assert store.known_faces([changed], detector="det-1") == {}
    assert store.face_counts(min_score=0.99) == {pid: 1}
    # A photo searched again with nothing found keeps no stale face, but counts as searched.
    store.save_results(
        [PhotoResult(changed, 4, 3, "JPEG", faces=(), face_detector="det-1")],
        run_id=run,
        backbone="b",
    )
    assert store.faces(pid) == []
    assert store.known_faces([changed], detector="det-1") == {changed.uri: ()}


class _CountingDetector:
    """The real detector, counting the photos it searches."""

    def __init__(self, inner: FaceDetector) -> None:
        self.inner, self.calls, self.version = inner, 0, inner.version

    def faces(self, image):
        self.calls += 1
        return self.inner.faces(image)


def _album(tmp_path: Path, names: list[str]) -> Path:
    folder = tmp_path / "album"
    folder.mkdir()
    for name in names:
        shutil.copy(shared("coco-mini", name), folder / Path(name).name)
    return folder


def test_tagging_stores_faces_and_people_tags_and_skips_them_next_time(
    tagger, store, tmp_path, detector
):
    from core.engine.pipeline import Tagger, tag_photos

    names = ["train2017/000000370162.jpg", "train2017/000000551757.jpg"]
    landscape = [r["path"] for r in _coco_rows() if "person" not in r["tags"]][:1]
    folder = _album(tmp_path, names + landscape)
    counting = _CountingDetector(detector)
    faced = Tagger(
        tagger.spec, tagger.runtime, tagger.vocabulary, faces=counting, people=tagger.people
    )
    summary = tag_photos(iter_folder(folder), tagger=faced, store=store)
    assert summary.tagged == 3 and counting.calls == 3
    crowd = store.photo_id(str(folder / "000000370162.jpg"))
    portrait = store.photo_id(str(folder / "000000551757.jpg"))
    assert len(store.faces(crowd)) >= 10
    tags = {pid: {s.tag: s for s in store.suggestions(pid)} for pid in (crowd, portrait)}
    assert tags[crowd][PEOPLE_TAG].score >= 0.5 and GROUP_TAG in tags[crowd]
    assert PORTRAIT_TAG in tags[portrait] and GROUP_TAG not in tags[portrait]
    assert count(store, "face_scans") == 3

    again = tag_photos(iter_folder(folder), tagger=faced, store=store)
    assert again.skipped == 3 and counting.calls == 3

    # Another backbone reuses the stored faces instead of searching again.
    other = Tagger(
        dataclasses.replace(tagger.spec, name="other"),
        tagger.runtime,
        tagger.vocabulary,
        faces=counting,
        people=tagger.people,
    )
    tag_photos(iter_folder(folder), tagger=other, store=store)
    assert counting.calls == 3
    assert GROUP_TAG in {s.tag for s in store.suggestions(crowd, backbone="other")}


def test_photos_tagged_before_faces_existed_are_searched_once(tagger, store, tmp_path, detector):
    from core.engine.pipeline import Tagger, tag_photos

    folder = _album(tmp_path, ["train2017/000000551757.jpg"])
    plain = Tagger(tagger.spec, tagger.runtime, tagger.vocabulary)
    assert tag_photos(iter_folder(folder), tagger=plain, store=store).tagged == 1
    assert count(store, "faces") == 0
    counting = _CountingDetector(detector)
    faced = Tagger(
        tagger.spec, tagger.runtime, tagger.vocabulary, faces=counting, people=tagger.people
    )
    assert tag_photos(iter_folder(folder), tagger=faced, store=store).tagged == 1
    assert counting.calls == 1 and count(store, "faces") == 1
    (ref,) = list(iter_folder(folder))
    os.utime(ref.uri, (1_000_000_000, 1_000_000_000))  # the photo changed: searched again
    tag_photos(iter_folder(folder), tagger=faced, store=store)
    assert counting.calls == 2


def test_face_detection_off_stores_no_face_but_still_suggests_people(tagger, store, tmp_path):
    from core.engine.pipeline import Tagger, tag_photos

    folder = _album(tmp_path, ["train2017/000000370162.jpg"])
    off = Tagger(tagger.spec, tagger.runtime, tagger.vocabulary, people=tagger.people)
    tag_photos(iter_folder(folder), tagger=off, store=store)
    assert count(store, "faces") == 0 and count(store, "face_scans") == 0
    (pid,) = [p.id for p in store.photos()]
    tags = {s.tag for s in store.suggestions(pid)}
    assert PEOPLE_TAG in tags and GROUP_TAG not in tags


def test_the_setting_turns_face_detection_off_in_the_cli(tmp_path, monkeypatch, tagger):
    from click.testing import CliRunner

    from core.cli import cli
    from core.store import Store

    folder = _album(tmp_path, ["train2017/000000551757.jpg"])
    db = tmp_path / "t.db"
    monkeypatch.setenv("PHOTOTAGGER_DETECT_FACES", "0")
    result = CliRunner().invoke(cli, ["tag", str(folder), "--db", str(db), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        assert count(store, "face_scans") == 0
    monkeypatch.setenv("PHOTOTAGGER_DETECT_FACES", "1")
    result = CliRunner().invoke(cli, ["tag", str(folder), "--db", str(db), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        assert count(store, "face_scans") == 1
        assert store.faces(store.photo_id(str(folder / "000000551757.jpg")))


def test_a_broken_photo_among_faces_costs_only_itself(tagger, store, tmp_path):
    from core.engine.pipeline import tag_photos

    folder = _album(tmp_path, ["train2017/000000551757.jpg"])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    refs = [file_ref(p) for p in sorted(folder.iterdir())]
    summary = tag_photos(refs, tagger=tagger, store=store)
    assert summary.tagged == 1 and summary.failed == 1
    assert count(store, "faces") == 1
    # Neither is read again until it changes, the broken one included.
    assert tag_photos(refs, tagger=tagger, store=store).skipped == 2
