"""The people tags: ``people``, ``group`` and ``portrait``, from faces and what the backbone sees.

``group`` (three or more faces) and ``portrait`` (one face that dominates the
photo) are read off the faces alone. ``people`` also counts on the backbone:
faces miss small and turned-away people, while ImageNet classes such as a
jersey, a groom, a racket or a scuba diver hardly occur without someone there.
Its score is a small logistic model over three features (the best face's
confidence, whether there is a face, the summed probability of the classes in
``resources/people_classes.csv``), its coefficients fitted by
``resources/build_people_model.py`` on coco-mini's train2017 photos only and
shipped in ``resources/faces/people_model.json``. Without face detection (the
setting is off) a second fit over the classes alone scores it.

The score is the fitted probability from the model's ``suggest_from`` up (the
lowest probability at which cross-validated precision on the train photos
reaches 0.8); below it the score is scaled down, order kept, to under the app's
default threshold, so ``#people`` is not shown on every other photo while a
ranking by score (and its average precision) stays the model's.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources

import numpy as np

from core.engine.faces import CONFIDENT_FACE, Face
from core.engine.vocabulary import STORE_FLOOR, TagScore, TagSource
from core.settings import Settings

PEOPLE_TAG = "people"
GROUP_TAG = "group"
PORTRAIT_TAG = "portrait"
PEOPLE_SOURCE: TagSource = "faces"

GROUP_SIZE = 3
"""Confident faces that make a group photo."""
PORTRAIT_MIN_AREA = 0.015
"""A portrait's face covers at least this share of the photo (a half-length portrait's)."""
PORTRAIT_DOMINANCE = 4.0
"""...and is at least this many times larger than any other confident face."""

FACE_FEATURES = ("face_logit", "has_face", "log_person_classes")
"""The with-faces model's features, in the order of its coefficients."""
CLASS_FEATURES = ("log_person_classes",)
"""The model used when face detection is off."""
_CLASS_FLOOR = 1e-4
_SCORE_CLIP = 1e-6
_SHOWN_FROM = Settings.threshold
"""The app's default threshold: scores the model does not suggest stay under it."""


@dataclass(frozen=True)
class Logistic:
    """A fitted logistic model: ``sigmoid(intercept + coefficients . features)``.

    Attributes:
        suggest_from: The probability from which the tag is worth showing.
    """

    features: tuple[str, ...]
    coefficients: tuple[float, ...]
    intercept: float
    suggest_from: float

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Probabilities for an (n, len(features)) array."""
        z = self.intercept + values @ np.asarray(self.coefficients, dtype=np.float64)
        return 1.0 / (1.0 + np.exp(-z))

    def score(self, values: np.ndarray) -> np.ndarray:
        """Tag scores: the probability from ``suggest_from`` up, scaled under the default below."""
        p = self(values)
        hidden = p * (_SHOWN_FROM / self.suggest_from) * 0.999
        return np.where(p >= self.suggest_from, p, np.minimum(hidden, p))

    @classmethod
    def from_dict(cls, data: dict) -> Logistic:
        return cls(
            tuple(data["features"]),
            tuple(data["coefficients"]),
            float(data["intercept"]),
            float(data["suggest_from"]),
        )


@dataclass(frozen=True)
class PeopleModel:
    """The person-implying ImageNet classes and the two fitted models for ``people``."""

    class_indices: tuple[int, ...]
    with_faces: Logistic
    without_faces: Logistic

    @classmethod
    def bundled(cls) -> PeopleModel:
        """The table and coefficients shipped in ``resources/``."""
        root = resources.files("resources")
        # One part per joinpath: a frozen app's resources are a MultiplexedPath, which takes one.
        path = root.joinpath("faces").joinpath("people_model.json")
        model = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            class_indices=person_class_indices(),
            with_faces=Logistic.from_dict(model["with_faces"]),
            without_faces=Logistic.from_dict(model["without_faces"]),
        )

    def people_scores(
        self,
        faces: Sequence[tuple[Face, ...] | None],
        probabilities: np.ndarray,
        *,
        calibrated: bool = False,
    ) -> np.ndarray:
        """The ``people`` tag score per photo; ``None`` faces mean detection did not run.

        With ``calibrated``, the model's probability instead (same order).
        """
        scores = np.empty(len(faces), dtype=np.float64)
        for i, (found, probs) in enumerate(zip(faces, probabilities, strict=True)):
            model = self.without_faces if found is None else self.with_faces
            values = people_features(found or (), probs, self.class_indices, model.features)[None]
            scores[i] = (model(values) if calibrated else model.score(values))[0]
        return scores


def person_class_indices() -> tuple[int, ...]:
    """ImageNet class indices listed in ``resources/people_classes.csv``."""
    text = resources.files("resources").joinpath("people_classes.csv").read_text(encoding="utf-8")
    return tuple(sorted(int(row["class_index"]) for row in csv.DictReader(text.splitlines())))


def people_features(
    faces: tuple[Face, ...],
    probabilities: np.ndarray,
    class_indices: Sequence[int],
    names: Sequence[str] = FACE_FEATURES,
) -> np.ndarray:
    """One photo's features for the ``people`` model, in the order of ``names``.

    Args:
        faces: The photo's faces (empty when none were found).
        probabilities: The backbone's ImageNet probabilities (1000,).
        class_indices: The person-implying classes.
        names: Which features, from :data:`FACE_FEATURES`.
    """
    best = max((f.score for f in faces), default=0.0)
    clipped = min(max(best, _SCORE_CLIP), 1.0 - _SCORE_CLIP)
    values = {
        "face_logit": math.log(clipped / (1.0 - clipped)) if faces else 0.0,
        "has_face": 1.0 if faces else 0.0,
        "log_person_classes": math.log(
            float(probabilities[list(class_indices)].sum()) + _CLASS_FLOOR
        ),
    }
    return np.array([values[n] for n in names], dtype=np.float64)


def face_tags(faces: tuple[Face, ...]) -> list[TagScore]:
    """``group`` and ``portrait`` from the faces alone."""
    sure = sorted((f for f in faces if f.score >= CONFIDENT_FACE), key=lambda f: -f.area)
    tags = []
    if len(sure) >= GROUP_SIZE:
        third = sorted((f.score for f in sure), reverse=True)[GROUP_SIZE - 1]
        tags.append(TagScore(GROUP_TAG, float(third), PEOPLE_SOURCE))
    if sure and sure[0].area >= PORTRAIT_MIN_AREA:
        others = sure[1:]
        if not others or sure[0].area >= PORTRAIT_DOMINANCE * others[0].area:
            tags.append(TagScore(PORTRAIT_TAG, float(sure[0].score), PEOPLE_SOURCE))
    return tags


def people_tags(
    faces: Sequence[tuple[Face, ...] | None],
    probabilities: np.ndarray,
    *,
    model: PeopleModel,
    floor: float = STORE_FLOOR,
) -> list[list[TagScore]]:
    """The people tags of each photo in a batch, over ``floor``.

    Args:
        faces: Per photo its faces, or None where face detection did not run.
        probabilities: The backbone's ImageNet probabilities, (n, 1000).
        model: The fitted ``people`` model.
        floor: Scores under this are left out, as for every stored suggestion.
    """
    people = model.people_scores(faces, probabilities)
    batch = []
    for found, score in zip(faces, people, strict=True):
        tags = [TagScore(PEOPLE_TAG, float(score), PEOPLE_SOURCE)] if score >= floor else []
        tags += face_tags(found or ())
        batch.append(tags)
    return batch
