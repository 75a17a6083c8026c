"""Heads: L2-regularised logistic outputs over frozen embeddings, fitted with scipy.

One output per tag the user confirmed on enough photos. Positives are accepted
and added tags, negatives rejections and reviewed photos without the tag (see
:mod:`core.learning.refine`); pairs nobody decided are masked out of the loss.
Each tag's loss is weighted by its negative-to-positive ratio, so a tag on five
photos out of five hundred still counts, and that weight's shift of the logit
is taken back out before scoring.

All tags are fitted in one L-BFGS problem (scipy), which is exact for this
convex loss and needs no torch. Arrays are stored as npz, so scoring is numpy.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from core.errors import PhotoTaggerError
from core.learning.metrics import mean_average_precision
from core.learning.refine import Evidence, features

STRENGTHS = (1.0, 3.0, 10.0)
"""Candidate inverse L2 strengths; cross-fitting inside the training photos picks one."""
TEMPERATURES = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)
"""Candidate temperatures of the prior-corrected logits."""


class TrainingError(PhotoTaggerError):
    """There is not enough to learn from, or training could not run."""


class TrainingCancelled(PhotoTaggerError):
    """The person cancelled training; nothing was stored."""


@dataclass(frozen=True)
class TrainProgress:
    """Where training stands: ``stage`` in words, ``step`` of ``steps``."""

    stage: str
    step: int
    steps: int


@dataclass(frozen=True)
class Head:
    """A fitted head: weights as numpy arrays, ready to score embeddings.

    Attributes:
        tags: Its outputs, in order.
        strength: The inverse L2 strength it was fitted with.
        temperature: Divides the prior-corrected logits.
        arrays: ``mean``, ``scale``, ``bias_shift``, ``w`` (tags x features) and ``b``.
    """

    tags: tuple[str, ...]
    strength: float
    temperature: float
    arrays: dict[str, np.ndarray]

    @property
    def trainable_parameters(self) -> int:
        return int(self.arrays["w"].size + self.arrays["b"].size)


def standardise(embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Learning features centred, with one scale for all inputs; returns (x, mean, scale)."""
    feats = features(embeddings)
    mean = feats.mean(axis=0)
    scale = max(float(np.sqrt(((feats - mean) ** 2).sum(axis=1).mean() / feats.shape[1])), 1e-6)
    return ((feats - mean) / scale).astype(np.float64), mean.astype(np.float32), scale


def pos_weight(labels: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Negatives over positives per tag: the class weight of a positive."""
    pos = (labels * known).sum(axis=0)
    neg = ((1 - labels) * known).sum(axis=0)
    return (np.maximum(neg, 1) / np.maximum(pos, 1)).astype(np.float64)


def fit_logits(
    x: np.ndarray,
    labels: np.ndarray,
    known: np.ndarray,
    *,
    strength: float,
    max_iter: int = 300,
    cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit every tag's logistic output at once; returns (w, b, bias_shift).

    ``strength`` is the inverse regularisation C of standardised features; the
    penalty is scaled by the dimension so it means the same for 1280 or 4096
    inputs.
    """
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled; nothing was stored")
    n, d = x.shape
    t = labels.shape[1]
    basis = None
    if n < d:
        # The optimum lies in the span of the photos (representer theorem): fit in
        # that n-dimensional basis, the same problem with far fewer unknowns.
        u, sv, basis = np.linalg.svd(x, full_matrices=False)
        x = u * sv
    penalty = d / (2.0 * strength * n * t)
    d = x.shape[1]
    pw = pos_weight(labels, known)
    mask = known.astype(np.float64)
    y = labels.astype(np.float64)
    total = max(mask.sum(), 1.0)

    def loss_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * t].reshape(d, t)
        b = theta[d * t :]
        z = x @ w + b
        # Weighted binary cross-entropy in a stable form: softplus(-z) and softplus(z).
        sp_neg = np.logaddexp(0.0, -z)
        sp_pos = np.logaddexp(0.0, z)
        raw = pw * y * sp_neg + (1 - y) * sp_pos
        loss = (raw * mask).sum() / total + penalty * (w * w).sum()
        sig = 0.5 * (1.0 + np.tanh(0.5 * z))
        dz = (pw * y * (sig - 1.0) + (1 - y) * sig) * mask / total
        grad_w = x.T @ dz + 2.0 * penalty * w
        return float(loss), np.concatenate([grad_w.ravel(), dz.sum(axis=0)])

    result = minimize(
        loss_grad,
        np.zeros(d * t + t),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter},
    )
    w = result.x[: d * t].reshape(d, t)
    b = result.x[d * t :]
    if basis is not None:
        w = basis.T @ w
    return w, b, np.log(pw)


def calibrated(logits: np.ndarray, temperature: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits / temperature, -30, 30)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, known: np.ndarray) -> float:
    """The temperature with the best held-out likelihood (ranking is unchanged by it)."""
    best = (float("inf"), 1.0)
    for t in TEMPERATURES:
        p = np.clip(calibrated(logits, t), 1e-6, 1 - 1e-6)
        nll = -np.where(known, labels * np.log(p) + (1 - labels) * np.log(1 - p), 0).sum()
        best = min(best, (nll, t))
    return best[1]


def assign_folds(evidence: Evidence, *, folds: int, seed: int) -> np.ndarray:
    """Each reviewed photo's fold, spreading every tag's positives over the folds.

    Photos are dealt rarest tag first to the emptiest fold: a plain random split
    of forty photos often leaves a rare tag without a held-out example.
    """
    n = len(evidence.photo_ids)
    order = np.random.default_rng(seed).permutation(n)
    fold = np.full(n, -1, dtype=int)
    filled = np.zeros(folds, dtype=int)
    positives = evidence.labels * evidence.known
    for j in np.argsort(positives.sum(axis=0), kind="stable"):
        for i in order:
            if positives[i, j] > 0 and fold[i] < 0:
                fold[i] = int(np.argmin(filled))
                filled[fold[i]] += 1
    for i in order:
        if fold[i] < 0:
            fold[i] = int(np.argmin(filled))
            filled[fold[i]] += 1
    return fold


def fold_splits(
    evidence: Evidence, *, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, held-out rows) per fold."""
    fold = assign_folds(evidence, folds=folds, seed=seed)
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(folds)]


def fold_map(
    labels: np.ndarray,
    known: np.ndarray,
    scores: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
) -> float:
    """Mean of each fold's held-out mAP (each fold's head ranks on its own scale)."""
    maps = [mean_average_precision(labels[te], scores[te], known[te]) for _, te in splits]
    maps = [m for m in maps if not np.isnan(m)]
    return float(np.mean(maps)) if maps else 0.0


def cross_fit_logits(
    x: np.ndarray,
    labels: np.ndarray,
    known: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    strength: float,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Prior-corrected logits of every photo from a head that never saw it."""
    out = np.zeros(labels.shape, dtype=np.float64)
    for tr, te in splits:
        w, b, shift = fit_logits(x[tr], labels[tr], known[tr], strength=strength, cancel=cancel)
        out[te] = x[te] @ w + b - shift
    return out


def choose_strength(
    x: np.ndarray,
    labels: np.ndarray,
    known: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    *,
    strengths: tuple[float, ...] = STRENGTHS,
    cancel: threading.Event | None = None,
) -> tuple[float, np.ndarray]:
    """The strength whose cross-fitted mAP is best on these photos, and its logits."""
    best: tuple[float, float, np.ndarray] | None = None
    for strength in strengths:
        logits = cross_fit_logits(x, labels, known, splits, strength=strength, cancel=cancel)
        score = fold_map(labels, known, logits, splits)
        if best is None or score > best[0]:
            best = (score, strength, logits)
    assert best is not None
    return best[1], best[2]


def fit_head(
    evidence: Evidence,
    *,
    folds: int = 3,
    seed: int = 0,
    strengths: tuple[float, ...] = STRENGTHS,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Head, np.ndarray]:
    """Fit a head on every photo of ``evidence``, its strength and temperature chosen inside.

    The strength and the temperature are chosen by cross-fitting within these
    photos only; returns the head and those within-photos held-out probabilities.
    """
    x, mean, scale = standardise(evidence.embeddings)
    y, known = evidence.labels.astype(np.float64), evidence.known
    splits = fold_splits(evidence, folds=min(folds, len(y) // 2), seed=seed)
    if progress is not None:
        progress(TrainProgress("choosing regularisation", 0, 2))
    strength, logits = choose_strength(x, y, known, splits, strengths=strengths, cancel=cancel)
    temperature = fit_temperature(logits, y, known)
    if progress is not None:
        progress(TrainProgress("fitting the head", 1, 2))
    w, b, shift = fit_logits(x, y, known, strength=strength, cancel=cancel)
    arrays = {
        "mean": mean,
        "scale": np.float32(scale),
        "bias_shift": shift.astype(np.float32),
        "w": w.T.astype(np.float32),
        "b": b.astype(np.float32),
    }
    return Head(evidence.tags, strength, temperature, arrays), calibrated(logits, temperature)


def head_probabilities(head: Head, embeddings: np.ndarray) -> np.ndarray:
    """Calibrated probabilities, one column per tag of the head."""
    a = head.arrays
    x = (features(embeddings) - a["mean"]) / a["scale"]
    logits = x @ a["w"].T + a["b"] - a["bias_shift"]
    return calibrated(logits, head.temperature).astype(np.float32)


def pack_arrays(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def unpack_arrays(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
