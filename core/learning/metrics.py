"""Ranking and threshold metrics from scikit-learn, with the masks learning needs.

A tag without a positive among the photos scored has no average precision
(NaN, left out of means) rather than a zero that would drag a mean down.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_recall_curve


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve (scikit-learn's); NaN without positives.

    Tied scores count as one step, so a source that gives every photo the same
    score earns the base rate, not luck of order.
    """
    labels = np.asarray(labels) > 0
    if not labels.any():
        return float("nan")
    return float(average_precision_score(labels, np.asarray(scores, dtype=np.float64)))


def mean_average_precision(
    labels: np.ndarray, scores: np.ndarray, known: np.ndarray | None = None
) -> float:
    """Mean over tags (columns) with a positive; ``known`` masks pairs nobody decided."""
    aps = []
    for j in range(labels.shape[1]):
        rows = slice(None) if known is None else known[:, j]
        aps.append(average_precision(labels[rows, j], scores[rows, j]))
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else float("nan")


def per_tag_average_precision(
    labels: np.ndarray, scores: np.ndarray, known: np.ndarray | None = None
) -> np.ndarray:
    """Average precision of every column (NaN where it has no positive)."""
    return np.array(
        [
            average_precision(
                labels[:, j] if known is None else labels[known[:, j], j],
                scores[:, j] if known is None else scores[known[:, j], j],
            )
            for j in range(labels.shape[1])
        ]
    )


def f1_scores(
    labels: np.ndarray, predicted: np.ndarray, known: np.ndarray
) -> tuple[float | None, float | None]:
    """Micro and macro F1 over known pairs of the tags with a positive."""
    has = ((labels > 0) & known).any(axis=0)
    if not has.any():
        return None, None
    y = np.where(known, labels > 0, False)[:, has]
    p = np.where(known, predicted, False)[:, has]
    micro = f1_score(y, p, average="micro", zero_division=0)
    macro = f1_score(y, p, average="macro", zero_division=0)
    return float(micro), float(macro)


def precision_threshold(
    labels: np.ndarray, scores: np.ndarray, *, precision: float, min_hits: int = 2
) -> tuple[float, float, int] | None:
    """The lowest score from which at least ``precision`` of the photos are right.

    Returns (threshold, precision there, right photos from there), or None when
    no score reaches it with ``min_hits`` right photos.
    """
    labels = np.asarray(labels) > 0
    if not labels.any():
        return None
    prec, rec, thresholds = precision_recall_curve(labels, scores)
    hits = np.rint(rec[:-1] * labels.sum()).astype(int)
    ok = np.flatnonzero((prec[:-1] >= precision) & (hits >= min_hits))
    if not len(ok):
        return None
    i = ok[0]  # thresholds ascend: the first is the lowest, finding the most
    return float(thresholds[i]), float(prec[i]), int(hits[i])


def precision_curve(
    labels: np.ndarray, scores: np.ndarray, *, knots: int = 24
) -> tuple[list[float], list[float]]:
    """(score, precision from that score on) knots, precision made non-decreasing.

    Lets a learned score be shown as how often such a suggestion was right on
    held-out photos.
    """
    labels = np.asarray(labels) > 0
    prec, _rec, thresholds = precision_recall_curve(labels, scores)
    prec = np.maximum.accumulate(prec[:-1])
    pick = np.unique(np.linspace(0, len(thresholds) - 1, min(knots, len(thresholds))).astype(int))
    return [float(t) for t in thresholds[pick]], [float(p) for p in prec[pick]]
