"""Best-of highlights: N photos of an album that are both good and different.

"Good" starts from technical quality (:func:`core.curation.quality.technical_scores`)
and from duplicates: a photo another one makes redundant (not its group's
keeper) is never a highlight. It then learns from the user's own picks,
"not this one" and star ratings (:func:`core.curation.curate.preference_labels`) with a
small ranking head on the embeddings: weighted ridge regression, its strength
chosen by exact leave-one-out error, in numpy. Its say grows with the number
of photos the user judged. "Different" comes from the groups: the album's
candidates are clustered into N groups and highlights are taken round-robin,
best group first, one per group per round.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from core.curation.curate import album_embeddings, picked_photos, preference_labels
from core.curation.dupes import group_duplicates, normalise_rows
from core.curation.groups import cluster
from core.curation.quality import photo_qualities, technical_scores
from core.store import Store

RIDGE_STRENGTHS = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
"""Candidate ridge penalties; leave-one-out error picks one per training."""
HALF_TRUST = 10
"""Judged photos at which the learned preference weighs as much as technical quality."""


@dataclass(frozen=True)
class PreferenceHead:
    """A linear ranking head on centred unit embeddings: higher means more the user's taste."""

    weights: np.ndarray
    bias: float
    mean: np.ndarray
    strength: float
    trained_on: int

    def predict(self, embeddings: np.ndarray) -> np.ndarray:
        return (normalise_rows(embeddings) - self.mean) @ self.weights + self.bias


def train_preference_head(
    embeddings: np.ndarray,
    targets: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    album_mean: np.ndarray | None = None,
) -> PreferenceHead:
    """Fit the head on judged photos (weighted ridge in its dual form: few rows, 1280 columns).

    Args:
        embeddings: The judged photos' embeddings.
        targets: What the user said, 0..1 (:func:`core.curation.curate.preference_labels`).
        weights: How much each row counts (default 1).
        album_mean: The album's mean unit embedding, to centre on (default: these rows').
    """
    unit = normalise_rows(embeddings).astype(np.float64)
    w = np.ones(len(unit)) if weights is None else np.asarray(weights, dtype=np.float64)
    mean = unit.mean(axis=0) if album_mean is None else np.asarray(album_mean, dtype=np.float64)
    x = unit - mean
    y = np.asarray(targets, dtype=np.float64)
    x_bar = (w[:, None] * x).sum(axis=0) / w.sum()
    y_bar = float((w * y).sum() / w.sum())
    root = np.sqrt(w)[:, None]
    xs, ys = root * (x - x_bar), root[:, 0] * (y - y_bar)
    gram = xs @ xs.T
    best = (np.inf, RIDGE_STRENGTHS[0], np.zeros(len(xs)))
    for strength in RIDGE_STRENGTHS:
        inverse = np.linalg.inv(gram + strength * np.eye(len(xs)))
        alpha = inverse @ ys
        # Exact leave-one-out residuals of ridge: r_i / (1 - H_ii), with H = K (K + lambda I)^-1.
        hat = 1.0 - np.einsum("ij,ji->i", gram, inverse)
        loo = float(np.mean((strength * alpha / np.maximum(hat, 1e-9)) ** 2))
        if loo < best[0]:
            best = (loo, strength, alpha)
    _, strength, alpha = best
    beta = xs.T @ alpha
    bias = y_bar - float(x_bar @ beta)
    return PreferenceHead(beta.astype(np.float32), bias, mean.astype(np.float32), strength, len(y))


def preference_training_set(
    ids: list[int], labels: dict[int, float], *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, targets and weights to train on.

    When the user's judgements are all alike (only picks, say), unjudged photos
    join as weak negatives (weight 0.3, up to ten per judged photo): a pick
    means "better than the rest", and the rest is what it is better than.
    """
    index = {pid: r for r, pid in enumerate(ids)}
    rows = [index[p] for p in labels if p in index]
    targets = [labels[ids[r]] for r in rows]
    weights = [1.0] * len(rows)
    if rows and np.ptp(targets) < 0.25:
        judged = set(rows)
        rest = np.array([r for r in range(len(ids)) if r not in judged], dtype=int)
        if len(rest):
            rng = np.random.default_rng(seed)
            extra = rng.choice(rest, min(len(rest), 10 * len(rows), 2000), replace=False)
            rows += extra.tolist()
            targets += [0.0] * len(extra)
            weights += [0.3] * len(extra)
    return np.array(rows, dtype=int), np.array(targets), np.array(weights)


@dataclass(frozen=True)
class Scored:
    """How good each photo of an album is, and why.

    Attributes:
        ids: The photos.
        score: Final goodness, on a z-score scale; -inf for duplicates lost to their keeper.
        technical: Technical quality, 0..1, relative to the album.
        learned: The preference head's score (z-scored), or None when nothing was judged.
        trust: The learned score's weight in ``score``, 0..1.
    """

    ids: list[int]
    score: np.ndarray
    technical: np.ndarray
    learned: np.ndarray | None
    trust: float


def score_photos(
    ids: list[int],
    embeddings: np.ndarray,
    *,
    technical: np.ndarray,
    labels: dict[int, float],
    redundant: Iterable[int] = (),
) -> Scored:
    """Goodness of each photo: technical quality blended with the learned preference.

    The user's own judgements also count directly on the photos they judged, so
    a pick outranks every photo not judged (rank z-scores stay within about
    ±1.8) and "not this one" falls below them, whatever the head generalises.
    """
    technical = np.asarray(technical, dtype=np.float64)
    score = _z(technical)
    learned, trust = None, 0.0
    rows, targets, weights = preference_training_set(ids, labels)
    judged = int((weights == 1.0).sum())
    if judged >= 2 and np.ptp(targets) > 0:
        unit = normalise_rows(embeddings)
        head = train_preference_head(
            embeddings[rows], targets, weights=weights, album_mean=unit.mean(axis=0)
        )
        learned = _z(head.predict(embeddings))
        trust = judged / (judged + HALF_TRUST)
        score = (1 - trust) * score + trust * learned
    index = {pid: r for r, pid in enumerate(ids)}
    for pid, target in labels.items():
        if pid in index:
            score[index[pid]] += 8.0 * (target - 0.5)
    lost = [index[p] for p in redundant if p in index]
    score[lost] = -np.inf
    return Scored(ids, score, technical, learned, trust)


def _z(values: np.ndarray) -> np.ndarray:
    # Ranks, not raw values: a few extreme predictions (the judged photos themselves)
    # must not squash everyone else's spread and so the learned score's weight.
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 or values.std() == 0:
        return np.zeros_like(values)
    ranks = np.empty(len(values))
    ranks[values.argsort(kind="stable")] = np.arange(len(values))
    return (ranks - ranks.mean()) / ranks.std()


def select_diverse(
    embeddings: np.ndarray, score: np.ndarray, *, n: int, seed: int = 0
) -> list[int]:
    """Rows of ``n`` highlights: good, and from as many different groups as possible.

    Candidates (finite score) are clustered into ``n`` groups. Round r offers
    each group's r-th best photo, best first; a group whose best photo is in the
    bottom quarter of the album waits one round, so a weak subject gives way to
    a second photo of a strong one.
    """
    candidates = np.nonzero(np.isfinite(score))[0]
    if n <= 0 or not len(candidates):
        return []
    if len(candidates) <= n:
        return candidates[np.argsort(-score[candidates], kind="stable")].tolist()
    labels = cluster(embeddings[candidates], k=n, seed=seed).labels
    floor = np.quantile(score[candidates], 0.25)
    keys = []
    for g in np.unique(labels):
        members = candidates[labels == g]
        members = members[np.argsort(-score[members], kind="stable")]
        delay = 1 if score[members[0]] < floor else 0
        keys += [(r + delay, -score[m], int(m)) for r, m in enumerate(members)]
    keys.sort()
    return [m for _, _, m in keys[:n]]


@dataclass(frozen=True)
class Highlight:
    """One best-of photo, in rank order."""

    photo_id: int
    score: float
    technical: float
    learned: float | None


def best_of(
    store: Store,
    *,
    backbone: str,
    n: int,
    photo_ids: list[int] | None = None,
    use_pixels: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[Highlight]:
    """The album's ``n`` best photos that differ from each other, best first.

    Args:
        store: The database; embeddings must exist for ``backbone``.
        backbone: Whose embeddings to use.
        n: How many highlights.
        photo_ids: The album (default: every photo with an embedding).
        use_pixels: Decode photos (once; cached) for technical quality and hashes;
            without, only the user's judgements and embeddings count.
        progress: Called with (done, total) while photos are measured.
        cancel: Stops measuring; photos measured so far still count.
    """
    ids, embeddings = album_embeddings(store, backbone=backbone, photo_ids=photo_ids)
    if not ids:
        return []
    qualities = photo_qualities(store, ids, progress=progress, cancel=cancel) if use_pixels else {}
    technical = technical_scores([qualities.get(pid) for pid in ids])
    dupes = group_duplicates(ids, embeddings, qualities=qualities, picked=picked_photos(store))
    scored = score_photos(
        ids,
        embeddings,
        technical=technical,
        labels=preference_labels(store),
        redundant=[p for g in dupes for p in g.others],
    )
    rows = select_diverse(embeddings, scored.score, n=n)
    rows.sort(key=lambda r: -scored.score[r])
    return [
        Highlight(
            photo_id=ids[r],
            score=round(float(scored.score[r]), 4),
            technical=round(float(scored.technical[r]), 4),
            learned=None if scored.learned is None else round(float(scored.learned[r]), 4),
        )
        for r in rows
    ]
