"""Visual groups: an album's embeddings clustered into groups a person can name.

Spherical k-means (k-means++ seeding, Lloyd iterations on L2-normalised
embeddings, numpy only). The number of groups comes from the data: k-means is
run on a sample for a ladder of k, and the k with the best silhouette wins,
favouring more groups when scores are close (a person would rather merge two
groups by naming them alike than find two subjects in one). A slider passes
``k`` directly. Each group's suggested names are the tags most over-represented
in it compared with the whole album; naming a group records an ``add``
decision for every photo in it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from core.curation.curate import album_embeddings
from core.curation.dupes import components, link_pairs, normalise_rows
from core.store import Decision, Store

MIN_GROUP_SIZE = 3
"""The automatic k keeps groups at least this large on average."""
MAX_AUTO_GROUPS = 40
"""More groups than this is no longer an overview; a slider can still ask for more."""
SAMPLE_SIZE = 1000
"""Photos the choice of k looks at; the final clustering uses them all."""


@dataclass(frozen=True)
class Clustering:
    """An assignment of photos to groups.

    Attributes:
        labels: The group (0..k-1) of each row, groups numbered largest first.
        centroids: One unit vector per group.
        k: How many groups.
        silhouette: Mean silhouette on the sample, or nan when k was given.
    """

    labels: np.ndarray
    centroids: np.ndarray
    k: int
    silhouette: float


@dataclass(frozen=True)
class PhotoGroup:
    """One visual group of an album.

    Attributes:
        index: Its number, 0 for the largest.
        photo_ids: The photos, the most typical (nearest the centre) first.
        names: Suggested names: the tags most particular to this group.
    """

    index: int
    photo_ids: tuple[int, ...]
    names: tuple[str, ...]


def kmeans(
    unit: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    iterations: int = 30,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means: labels and unit centroids for L2-normalised rows.

    On unit vectors, the nearest centroid by Euclidean distance is the one with
    the largest dot product, so one matrix product per iteration is all it costs.
    """
    n = len(unit)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centroids = init if init is not None else _kmeans_pp(unit, k, rng)
    labels = np.full(n, -1)
    for _ in range(iterations):
        new = np.argmax(unit @ centroids.T, axis=1)
        # Stop when (almost) nothing moves: the last few reassignments change no group's character.
        settled = np.count_nonzero(new != labels) <= n // 1000
        labels = new
        if settled:
            break
        centroids = _centroids(unit, labels, k, centroids)
    return labels, centroids


def _kmeans_pp(unit: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    n = len(unit)
    chosen = [int(rng.integers(n))]
    # Squared distance of unit vectors is 2 - 2 cos; track each row's nearest chosen centre.
    nearest = np.maximum(2.0 - 2.0 * (unit @ unit[chosen[0]]), 0.0)
    for _ in range(1, k):
        total = nearest.sum()
        pick = int(rng.choice(n, p=nearest / total)) if total > 0 else int(rng.integers(n))
        chosen.append(pick)
        nearest = np.minimum(nearest, np.maximum(2.0 - 2.0 * (unit @ unit[pick]), 0.0))
    return unit[chosen].copy()


def _centroids(unit: np.ndarray, labels: np.ndarray, k: int, old: np.ndarray) -> np.ndarray:
    # A one-hot matrix product sums each group's rows at BLAS speed (np.add.at is ~100x
    # slower), and in this orientation it is several times faster than onehot.T @ unit.
    onehot = np.zeros((len(unit), k), dtype=unit.dtype)
    onehot[np.arange(len(unit)), labels] = 1.0
    sums = (unit.T @ onehot).T
    counts = np.bincount(labels, minlength=k)
    # An empty group keeps its old centre rather than vanishing mid-run.
    sums[counts == 0] = old[counts == 0]
    return normalise_rows(sums)


def silhouette(unit: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (the sample is small enough for all pairs)."""
    return _silhouette(np.maximum(1.0 - unit @ unit.T, 0.0), labels)


def _silhouette(dist: np.ndarray, labels: np.ndarray) -> float:
    k = int(labels.max()) + 1
    if k < 2:
        return float("nan")
    onehot = np.eye(k, dtype=dist.dtype)[labels]
    counts = onehot.sum(axis=0)
    per_group = dist @ onehot  # summed distance from each row to each group
    own = counts[labels]
    a = per_group[np.arange(len(dist)), labels] / np.maximum(own - 1, 1)
    mean_to = per_group / np.maximum(counts, 1)
    mean_to[np.arange(len(dist)), labels] = np.inf
    mean_to[:, counts == 0] = np.inf
    b = mean_to.min(axis=1)
    s = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def candidate_ks(n: int) -> list[int]:
    """The ladder of k the automatic choice tries for ``n`` photos."""
    top = min(MAX_AUTO_GROUPS, max(2, n // MIN_GROUP_SIZE))
    ladder = (2, 3, 4, 6, 8, 10, 12, 16, 20, 25, 32, 40)
    return [k for k in ladder if k <= top] or [1]


def cluster(
    embeddings: np.ndarray,
    *,
    k: int | None = None,
    seed: int = 0,
    cancel: threading.Event | None = None,
) -> Clustering:
    """Cluster embeddings into ``k`` groups, or into the number the data suggests.

    Args:
        embeddings: One row per photo, any scale.
        k: Groups wanted (the slider); None chooses by silhouette on a sample.
        seed: For repeatable groups: the same album and k give the same groups.
        cancel: Checked between candidate k; a cancelled choice keeps the best so far.
    """
    unit = _centred_unit(embeddings)
    n = len(unit)
    if n == 0:
        return Clustering(np.zeros(0, dtype=int), np.zeros((0, 0)), 0, float("nan"))
    score = float("nan")
    init = None
    if k is None:
        k, score, init = _choose_k(unit, seed=seed, cancel=cancel)
    labels, centroids = kmeans(unit, min(k, n), seed=seed, init=init, iterations=20)
    return _relabel(labels, centroids, score)


def _centred_unit(embeddings: np.ndarray) -> np.ndarray:
    # Pooled ReLU features all share one large positive direction; removing the
    # album's mean leaves the directions that tell its photos apart.
    unit = normalise_rows(embeddings)
    return normalise_rows(unit - unit.mean(axis=0)) if len(unit) > 1 else unit


def _choose_k(
    unit: np.ndarray, *, seed: int, cancel: threading.Event | None
) -> tuple[int, float, np.ndarray | None]:
    rng = np.random.default_rng(seed)
    sample = (
        unit
        if len(unit) <= SAMPLE_SIZE
        else unit[rng.choice(len(unit), SAMPLE_SIZE, replace=False)]
    )
    dist = np.maximum(1.0 - sample @ sample.T, 0.0)
    best: tuple[float, float, int, np.ndarray | None] = (-np.inf, float("nan"), 1, None)
    for k in candidate_ks(len(unit)):
        if cancel is not None and cancel.is_set():
            break
        labels, centroids = kmeans(sample, k, seed=seed, iterations=15)
        raw = _silhouette(dist, labels)
        # A small bonus growing with log k breaks near-ties towards more groups (module doc).
        score = raw + 0.01 * math.log(k)
        if score >= best[0]:
            best = (score, raw, k, centroids)
    _, raw, k, centroids = best
    return k, raw, centroids


def _relabel(labels: np.ndarray, centroids: np.ndarray, score: float) -> Clustering:
    k = len(centroids)
    counts = np.bincount(labels, minlength=k)
    order = [g for g in np.argsort(-counts, kind="stable") if counts[g] > 0]
    remap = np.full(k, -1)
    remap[order] = np.arange(len(order))
    return Clustering(remap[labels], centroids[order], len(order), score)


def keep_duplicates_together(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Move each set of near-duplicates (by embedding) into the group most of it is in.

    A burst split over two groups would make a person name the same scene twice.
    """
    labels = labels.copy()
    i, j = link_pairs(normalise_rows(embeddings), None)
    for members in components(len(labels), i, j):
        labels[members] = np.bincount(labels[members]).argmax()
    return labels


def album_groups(
    store: Store,
    *,
    backbone: str,
    photo_ids: Iterable[int] | None = None,
    k: int | None = None,
    top_names: int = 3,
    seed: int = 0,
    cancel: threading.Event | None = None,
) -> list[PhotoGroup]:
    """An album's visual groups, largest first, each with suggested names.

    Args:
        store: The database; embeddings must exist for ``backbone``.
        backbone: Whose embeddings (and suggestions) to use.
        photo_ids: The album (default: every photo with an embedding).
        k: How many groups (None: chosen from the data).
        top_names: Names suggested per group.
        seed: Same album, same k, same seed: same groups.
        cancel: See :func:`cluster`.
    """
    ids, embeddings = album_embeddings(store, backbone=backbone, photo_ids=photo_ids)
    result = cluster(embeddings, k=k, seed=seed, cancel=cancel)
    if not ids:
        return []
    labels = keep_duplicates_together(embeddings, result.labels)
    unit = _centred_unit(embeddings)
    typical = np.einsum("ij,ij->i", unit, result.centroids[labels])
    names = group_names(store, ids, labels, backbone=backbone, top=top_names)
    groups = []
    for g in range(result.k):
        rows = np.nonzero(labels == g)[0]
        if not len(rows):  # emptied by keep_duplicates_together
            continue
        rows = rows[np.argsort(-typical[rows], kind="stable")]
        groups.append(PhotoGroup(len(groups), tuple(ids[r] for r in rows), names[g]))
    return groups


def group_names(
    store: Store, ids: list[int], labels: np.ndarray, *, backbone: str, top: int = 3
) -> list[tuple[str, ...]]:
    """Per group, the tags whose mean score in it most exceeds their mean over the album.

    Confirmed tags count as score 1, so a group the user already tagged suggests that tag.
    """
    index = {pid: row for row, pid in enumerate(ids)}
    k = int(labels.max()) + 1 if len(labels) else 0
    tags: dict[str, int] = {}
    entries: list[tuple[int, int, float]] = []
    for pid, tag, score in _scores(store, backbone=backbone):
        if pid in index:
            entries.append((index[pid], tags.setdefault(tag, len(tags)), score))
    if not entries or k == 0:
        return [() for _ in range(k)]
    rows, cols, vals = (np.array(x) for x in zip(*entries, strict=True))
    matrix = np.zeros((len(ids), len(tags)))
    np.maximum.at(matrix, (rows, cols), vals)
    counts = np.bincount(labels, minlength=k)[:, None]
    onehot = np.eye(k)[labels]
    in_group = (onehot.T @ matrix) / np.maximum(counts, 1)
    lift = in_group - matrix.mean(axis=0)
    # A name should describe most of the group, not one photo in it.
    lift[in_group < 0.15] = -np.inf
    names = list(tags)
    out = []
    for g in range(k):
        best = [c for c in np.argsort(-lift[g], kind="stable")[:top] if np.isfinite(lift[g, c])]
        out.append(tuple(names[c] for c in best))
    return out


def _scores(store: Store, *, backbone: str) -> Iterable[tuple[int, str, float]]:
    yield from store.suggestion_scores(backbone=backbone)
    for pid, tags in store.all_tag_states().items():
        for tag, action in tags.items():
            if action.confirms:
                yield pid, tag, 1.0


def name_group(
    store: Store, group: PhotoGroup | Iterable[int], tag: str, *, origin: str = "groups"
) -> list[int]:
    """Add ``tag`` to every photo of a group, as decisions (all or none); returns their ids."""
    ids = group.photo_ids if isinstance(group, PhotoGroup) else tuple(group)
    return store.record_decisions(ids, tag, Decision.ADD, origin=origin)
