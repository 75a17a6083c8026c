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
import threading
from dataclasses import replace
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from core.engine.faces import CONFIDENT_FACE, Face
from core.errors import PhotoTaggerError

EMBEDDING_SIZE = 128
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


class FaceEncoder:
    """Computes each face's 128-d descriptor. Safe to use from several threads.

    dlib's networks are not documented as thread-safe, so each thread gets its own
    pair of models (about 30 MB each), loaded on first use.

    Raises:
        RecognitionUnavailable: If dlib or the models are not installed.
    """

    def __init__(self, *, min_score: float = CONFIDENT_FACE) -> None:
        folder = models_dir()
        if folder is None or importlib.util.find_spec("dlib") is None:
            raise RecognitionUnavailable(NOT_INSTALLED)
        self._folder = folder
        self._local = threading.local()
        self.min_score = min_score
        self.version = encoder_version()

    def _models(self):
        models = getattr(self._local, "models", None)
        if models is None:
            import dlib

            models = (
                dlib.shape_predictor(str(self._folder / LANDMARKS_FILE)),
                dlib.face_recognition_model_v1(str(self._folder / NETWORK_FILE)),
            )
            self._local.models = models
        return models

    def embed(self, image: Image.Image, faces: tuple[Face, ...]) -> tuple[Face, ...]:
        """The faces with their embeddings, computed on ``image`` (any size of the photo).

        Faces under ``min_score`` or too small to recognise keep no embedding.
        """
        if not faces:
            return faces
        import dlib

        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
        height, width = pixels.shape[:2]
        predictor, network = self._models()
        out = []
        for face in faces:
            left, top, right, bottom = face.box
            rect = dlib.rectangle(
                round(left * width),
                round(top * height),
                round(right * width),
                round(bottom * height),
            )
            if face.score < self.min_score or rect.width() < MIN_EMBED_SIDE:
                out.append(face)
                continue
            shape = predictor(pixels, rect)
            vector = np.asarray(network.compute_face_descriptor(pixels, shape), dtype=np.float32)
            out.append(replace(face, embedding=vector))
        return tuple(out)
