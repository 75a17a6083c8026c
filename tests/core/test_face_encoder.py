"""Face descriptors in helper processes: the same numbers as dlib in this process, no GIL held."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

from core.engine.face_encoder import FaceEncoder, recognition_available
from core.engine.faces import FaceDetector
from tests.conftest import shared
from tests.store_sql import sql

pytestmark = pytest.mark.skipif(
    not recognition_available(), reason="face recognition is not installed"
)


@pytest.fixture(scope="module")
def photos_with_faces():
    """Two real photos and their detected faces (three faces in all)."""
    folder = shared("faces") / "test"
    detector = FaceDetector(threads=1)
    out = []
    for name in ("obama_and_biden.jpg", "kit_with_rose.jpg"):
        image = Image.open(folder / name).convert("RGB")
        image.thumbnail((800, 800))
        out.append((image, detector.faces(image)))
    assert sum(len(faces) for _, faces in out) >= 3
    return out


class Ticker:
    """A thread that wakes every 2 ms; its longest gap is how long another thread held the GIL."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(0.002)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> Ticker:
        self._thread.start()
        time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _embeddings(encoder: FaceEncoder, photos) -> list[np.ndarray | None]:
    return [f.embedding for image, faces in photos for f in encoder.embed(image, faces)]


def test_helper_processes_give_the_same_embeddings_as_this_process(photos_with_faces):
    here = _embeddings(FaceEncoder(), photos_with_faces)
    with FaceEncoder(helper_processes=1) as encoder:
        helped = _embeddings(encoder, photos_with_faces)
    assert sum(e is not None for e in here) >= 3
    for ours, theirs in zip(helped, here, strict=True):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            assert ours.dtype == np.float32 and ours.shape == (128,)
            np.testing.assert_array_equal(ours, theirs)


def test_descriptors_in_a_helper_leave_this_process_free(photos_with_faces):
    """dlib holds the GIL for each descriptor; in a helper, other threads here keep running."""
    in_process = FaceEncoder()
    _embeddings(in_process, photos_with_faces[:1])  # models loaded out of the measurement
    with Ticker() as held:
        _embeddings(in_process, photos_with_faces)
    with FaceEncoder(helper_processes=1) as encoder:
        encoder.start()
        with Ticker() as free:
            # The models load and the descriptors are computed in the helper meanwhile.
            _embeddings(encoder, photos_with_faces)
            _embeddings(encoder, photos_with_faces)
    # The held gap is at least one descriptor's time (0.14 s on a laptop core).
    assert free.longest < held.longest / 2, (free.longest, held.longest)
    assert free.longest < 0.1, f"this process stalled {free.longest * 1000:.0f} ms"


def test_closed_encoder_starts_its_helper_again(photos_with_faces):
    image, faces = photos_with_faces[0]
    encoder = FaceEncoder(helper_processes=1)
    first = encoder.embed(image, faces)
    encoder.close()
    encoder.close()  # twice is harmless
    again = encoder.embed(image, faces)
    encoder.close()
    for a, b in zip(first, again, strict=True):
        if a.embedding is not None:
            np.testing.assert_array_equal(a.embedding, b.embedding)


def test_tagging_run_recognises_faces_in_helpers_and_closes_them(tmp_path_factory, store):
    from core.engine.pipeline import Tagger, tag_photos
    from core.engine.sources import iter_folder

    cache = tmp_path_factory.getbasetemp() / "shared-cache" / "onnx"
    with Tagger.open("efficientnet-lite0", device="cpu", cache_dir=cache, recognize=True) as tagger:
        assert tagger.encoder is not None and tagger.encoder.helper_processes >= 1
        summary = tag_photos(
            list(iter_folder(shared("faces") / "test")), tagger=tagger, store=store
        )
        assert summary.tagged == 5
        assert tagger.encoder._pool is not None
    assert tagger.encoder._pool is None
    embedded = sql(store, "select count(*) from faces where embedding is not null")
    assert embedded.fetchone()[0] >= 5


def test_a_helper_that_dies_costs_no_embedding(photos_with_faces, caplog):
    """Killed helpers: the photo's faces are done here; after the second, all of them are."""
    image, faces = photos_with_faces[0]
    expected = FaceEncoder().embed(image, faces)
    encoder = FaceEncoder(helper_processes=1)
    for _ in range(2):
        encoder.embed(image, faces)  # the helper is up
        for process in list(encoder._pool._processes.values()):
            process.kill()
            process.join()
        got = encoder.embed(image, faces)
        for a, b in zip(got, expected, strict=True):
            assert (a.embedding is None) == (b.embedding is None)
            if a.embedding is not None:
                np.testing.assert_array_equal(a.embedding, b.embedding)
    assert encoder.helper_processes == 0
    assert "recognising faces in this process" in caplog.text
    assert encoder._pool is None
