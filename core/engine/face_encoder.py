"""Face embeddings: dlib's 128-d ResNet, so faces of one person lie close together.

The networks come from two optional packages (the ``people`` extra): ``dlib-bin``
(dlib's wheels) and ``face-recognition-models`` (the trained models, CC0). Only
the 5-point landmark model is used: the 68-point one was trained on a dataset
licensed for non-commercial use. The models' files are found with
:func:`importlib.util.find_spec`, without importing that package (its
``__init__`` imports ``pkg_resources``, gone from recent setuptools).

Faces come from :mod:`core.engine.faces` (MTCNN) as fractions of the photo; the encoder
places the box on whatever decoded copy it is given, finds the five landmarks
in it with dlib's shape predictor, and computes the descriptor on dlib's aligned
150-pixel chip. Two photos of the same person are usually under 0.5 apart
(Euclidean), two people over it; see docs/adr/0006-face-groups-and-names.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import multiprocessing
import threading
import weakref
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from core.engine.faces import CONFIDENT_FACE, Face
from core.errors import PhotoTaggerError

log = logging.getLogger(__name__)

EMBEDDING_SIZE = 128
MAX_BROKEN_HELPERS = 2
"""After this many helper pools die, descriptors are computed in this process."""
MIN_EMBED_SIDE = 20
"""Faces narrower than this many pixels of the decoded photo are not embedded (too blurred)."""
LANDMARKS_FILE = "shape_predictor_5_face_landmarks.dat"
NETWORK_FILE = "dlib_face_recognition_resnet_model_v1.dat"
NOT_INSTALLED = (
    "face recognition is not installed: pip install 'phototagger[people]' "
    "(dlib-bin and face-recognition-models)"
)


class RecognitionUnavailable(PhotoTaggerError):
    """dlib or its models are missing."""


def models_dir() -> Path | None:
    """The folder holding face-recognition-models' files, or None when it is not installed."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if (folder / LANDMARKS_FILE).is_file() else None


def recognition_available() -> bool:
    """Whether faces can be embedded here (dlib and the models are installed)."""
    return models_dir() is not None and importlib.util.find_spec("dlib") is not None


@cache
def encoder_version() -> str:
    """Names the encoder and its models: stored with each embedding, so a change redoes them."""
    folder = models_dir()
    if folder is None:
        raise RecognitionUnavailable(NOT_INSTALLED)
    digest = hashlib.sha256()
    for name in (LANDMARKS_FILE, NETWORK_FILE):
        stat = (folder / name).stat()
        digest.update(f"{name}:{stat.st_size}".encode())
    return f"dlib-resnet-5pt-{digest.hexdigest()[:8]}"


def _load_models(folder: Path) -> tuple[object, object]:
    import dlib

    return (
        dlib.shape_predictor(str(folder / LANDMARKS_FILE)),
        dlib.face_recognition_model_v1(str(folder / NETWORK_FILE)),
    )


def _descriptors(
    models: tuple[object, object], pixels: np.ndarray, rects: list[tuple[int, int, int, int]]
) -> list[np.ndarray]:
    """One descriptor per (left, top, right, bottom) box of ``pixels`` (RGB, uint8)."""
    import dlib

    predictor, network = models
    out = []
    for left, top, right, bottom in rects:
        shape = predictor(pixels, dlib.rectangle(left, top, right, bottom))  # type: ignore[operator]
        vector = network.compute_face_descriptor(pixels, shape)  # type: ignore[attr-defined]
        out.append(np.asarray(vector, dtype=np.float32))
    return out


# Set in each helper process by its initializer: that process's own pair of models.
_helper_models: tuple[object, object] | None = None


def _helper_start(folder: str) -> None:
    global _helper_models
    _helper_models = _load_models(Path(folder))


def _helper_ready() -> bool:
    return _helper_models is not None


def _helper_descriptors(
    pixels: np.ndarray, rects: list[tuple[int, int, int, int]]
) -> list[np.ndarray]:
    assert _helper_models is not None, "the helper process has no models"
    return _descriptors(_helper_models, pixels, rects)


class FaceEncoder:
    """Computes each face's 128-d descriptor. Safe to use from several threads.

    dlib holds the GIL for all its work: about 0.14 s to load each model and
    about 0.14 s per face for the descriptor, during which no other Python
    thread of the process runs (a window would freeze). With ``helper_processes``,
    the models load once in each of that many helper processes and every
    descriptor is computed there, so the calling process only sends pixels and
    waits with the GIL released. Without (the default), dlib runs on the calling
    threads, each with its own pair of models (dlib's networks are not documented
    as thread-safe), loaded on first use: for processes with nothing else to run.

    Raises:
        RecognitionUnavailable: If dlib or the models are not installed.
    """

    def __init__(self, *, min_score: float = CONFIDENT_FACE, helper_processes: int = 0) -> None:
        folder = models_dir()
        if folder is None or importlib.util.find_spec("dlib") is None:
            raise RecognitionUnavailable(NOT_INSTALLED)
        self._folder = folder
        self._local = threading.local()
        self.min_score = min_score
        self.version = encoder_version()
        self.helper_processes = helper_processes
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._broken = 0

    def start(self) -> None:
        """Start the helper processes now, so their models load while other work goes on.

        Returns at once; without helper processes it does nothing (models load on first use).
        """
        pool = self._helpers()
        if pool is not None:
            for _ in range(self.helper_processes):
                pool.submit(_helper_ready)

    def close(self) -> None:
        """Stop the helper processes (a later :meth:`embed` starts them again)."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FaceEncoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _helpers(self) -> ProcessPoolExecutor | None:
        if self.helper_processes <= 0:
            return None
        with self._pool_lock:
            if self._pool is None:
                # spawn, not fork: the calling process may run Qt and other threads.
                self._pool = ProcessPoolExecutor(
                    max_workers=self.helper_processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_helper_start,
                    initargs=(str(self._folder),),
                )
                weakref.finalize(self, self._pool.shutdown, wait=False, cancel_futures=True)
            return self._pool

    def _models(self) -> tuple[object, object]:
        models = getattr(self._local, "models", None)
        if models is None:
            models = _load_models(self._folder)
            self._local.models = models
        return models

    def embed(self, image: Image.Image, faces: tuple[Face, ...]) -> tuple[Face, ...]:
        """The faces with their embeddings, computed on ``image`` (any size of the photo).

        Faces under ``min_score`` or too small to recognise keep no embedding.
        """
        if not faces:
            return faces
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
        height, width = pixels.shape[:2]
        rects: dict[int, tuple[int, int, int, int]] = {}
        for i, face in enumerate(faces):
            left, top, right, bottom = face.box
            rect = (
                round(left * width),
                round(top * height),
                round(right * width),
                round(bottom * height),
            )
            if face.score >= self.min_score and rect[2] - rect[0] + 1 >= MIN_EMBED_SIDE:
                rects[i] = rect
        if not rects:
            return faces
        pool = self._helpers()
        if pool is None:
            vectors = _descriptors(self._models(), pixels, list(rects.values()))
        else:
            try:
                vectors = pool.submit(_helper_descriptors, pixels, list(rects.values())).result()
            except BrokenProcessPool:
                # A helper died (killed, out of memory) or could not start: this photo's
                # faces are done here; after a second time, every photo's are.
                self.close()
                self._broken += 1
                if self._broken >= MAX_BROKEN_HELPERS:
                    self.helper_processes = 0
                log.warning(
                    "face recognition helper stopped%s",
                    "; recognising faces in this process" if not self.helper_processes else "",
                )
                vectors = _descriptors(self._models(), pixels, list(rects.values()))
        found = dict(zip(rects, vectors, strict=True))
        return tuple(
            replace(face, embedding=found[i]) if i in found else face
            for i, face in enumerate(faces)
        )
