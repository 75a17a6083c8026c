"""Near-duplicates and bursts: photos that are nearly the same, grouped, with a keeper.

Two photos are linked when their embeddings are nearly parallel (cosine at
least ``min_cosine``: bursts, crops, edits), or when their difference hashes
are within ``max_hash_distance`` bits and the embeddings agree loosely (cosine
at least ``hash_min_cosine``: exact, resized and recompressed copies, where the
hash is the surer witness). Linked photos form groups (connected components).
The thresholds below were calibrated by ``bench/curate.py`` on synthetic copies
of the shared photos, against distinct photos as negatives; see that program
for the precision and recall they give.

Each group's keeper is the photo the user picked, if any, else the one with
the most pixels and the best technical quality.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.curation.curate import album_embeddings, picked_photos
from core.curation.quality import Quality, hamming, photo_qualities, technical_scores
from core.store import Store

DEFAULT_MIN_COSINE = 0.80
"""Embedding cosine over which two photos are near-duplicates (calibrated, see module doc)."""
DEFAULT_MAX_HASH_DISTANCE = 8
"""dHash bits (of 64) within which two photos are copies, if the embeddings agree loosely."""
DEFAULT_HASH_MIN_COSINE = 0.60
"""A hash match only counts over this cosine: flat or dark photos share hashes by chance."""


@dataclass(frozen=True)
class DuplicateGroup:
    """Photos that are near-duplicates of each other.

    Attributes:
        photo_ids: The keeper first, then the others from best to worst.
        similarity: Each photo's cosine to the keeper, in the same order (1.0 for the keeper).
        copies: Whether each photo's hash matches the keeper's (an exact or resized copy).
    """

    photo_ids: tuple[int, ...]
    similarity: tuple[float, ...]
    copies: tuple[bool, ...]

    @property
    def keeper(self) -> int:
        return self.photo_ids[0]

    @property
    def others(self) -> tuple[int, ...]:
        """The photos the keeper makes redundant."""
        return self.photo_ids[1:]


def normalise_rows(embeddings: np.ndarray) -> np.ndarray:
    """L2-normalised float32 rows (zero rows stay zero)."""
    x = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def similar_pairs(
    unit: np.ndarray, *, min_cosine: float, block: int = 2048
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i < j) of L2-normalised rows with cosine >= ``min_cosine``, and their cosines.

    Computed in row blocks, so 10,000 photos never need the full 10,000 x 10,000 matrix.
    """
    n = len(unit)
    rows, cols, sims = [], [], []
    for start in range(0, n, block):
        sim = unit[start : start + block] @ unit.T
        i, j = np.nonzero(sim >= min_cosine)
        i = i + start
        upper = j > i
        rows.append(i[upper])
        cols.append(j[upper])
        sims.append(sim[i[upper] - start, j[upper]])
    if not rows:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty, np.zeros(0, dtype=np.float32)
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(sims)


def link_pairs(
    unit: np.ndarray,
    hashes: np.ndarray | None,
    *,
    min_cosine: float = DEFAULT_MIN_COSINE,
    max_hash_distance: int = DEFAULT_MAX_HASH_DISTANCE,
    hash_min_cosine: float = DEFAULT_HASH_MIN_COSINE,
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (i, j) that are near-duplicates, by embedding or by hash (see module doc).

    Args:
        unit: L2-normalised embeddings, one row per photo.
        hashes: 64-bit dHashes as uint64, one per row; 0 where unknown (then only
            the embedding can link that photo).
    """
    floor = min(min_cosine, hash_min_cosine) if hashes is not None else min_cosine
    i, j, sim = similar_pairs(unit, min_cosine=floor)
    keep = sim >= min_cosine
    if hashes is not None:
        known = (hashes[i] != 0) & (hashes[j] != 0)
        close = hamming(hashes[i], hashes[j]) <= max_hash_distance
        keep |= known & close & (sim >= hash_min_cosine)
    return i[keep], j[keep]


def components(n: int, i: np.ndarray, j: np.ndarray) -> list[list[int]]:
    """Connected components with more than one member (union-find, path halving)."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(i.tolist(), j.tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = {}
    for x in range(n):
        groups.setdefault(find(x), []).append(x)
    return [g for g in groups.values() if len(g) > 1]


def group_duplicates(
    ids: list[int],
    embeddings: np.ndarray,
    *,
    qualities: dict[int, Quality] | None = None,
    picked: set[int] | frozenset[int] = frozenset(),
    min_cosine: float = DEFAULT_MIN_COSINE,
    max_hash_distance: int = DEFAULT_MAX_HASH_DISTANCE,
    hash_min_cosine: float = DEFAULT_HASH_MIN_COSINE,
) -> list[DuplicateGroup]:
    """Group near-duplicate photos and choose each group's keeper.

    Args:
        ids: Photo ids, one per embedding row.
        embeddings: The photos' embeddings (any scale; they are normalised here).
        qualities: Pixel measures and hashes by photo id (from
            :func:`core.curation.quality.photo_qualities`); without them, only embeddings
            link photos and the keeper is the lowest id.
        picked: Photos the user picked; a picked photo is always its group's keeper.
        min_cosine: See :data:`DEFAULT_MIN_COSINE`.
        max_hash_distance: See :data:`DEFAULT_MAX_HASH_DISTANCE`.
        hash_min_cosine: See :data:`DEFAULT_HASH_MIN_COSINE`.

    Returns:
        Groups, the largest first.
    """
    qualities = qualities or {}
    unit = normalise_rows(embeddings)
    hashes = _hash_array(ids, qualities) if qualities else None
    i, j = link_pairs(
        unit,
        hashes,
        min_cosine=min_cosine,
        max_hash_distance=max_hash_distance,
        hash_min_cosine=hash_min_cosine,
    )
    technical = technical_scores([qualities.get(pid) for pid in ids])
    groups = []
    for members in components(len(ids), i, j):
        order = sorted(
            members, key=lambda m: _keeper_key(m, members, ids, qualities, technical, picked)
        )
        keeper = order[0]
        sim = unit[order] @ unit[keeper]
        copy = (
            hamming(hashes[order], hashes[keeper]) <= max_hash_distance
            if hashes is not None and hashes[keeper]
            else np.zeros(len(order), dtype=bool)
        )
        groups.append(
            DuplicateGroup(
                photo_ids=tuple(ids[m] for m in order),
                similarity=tuple(round(float(s), 4) for s in sim),
                copies=tuple(bool(c) for c in copy),
            )
        )
    groups.sort(key=lambda g: (-len(g.photo_ids), g.keeper))
    return groups


def _keeper_key(
    m: int,
    members: list[int],
    ids: list[int],
    qualities: dict[int, Quality],
    technical: np.ndarray,
    picked: set[int] | frozenset[int],
) -> tuple:
    # Fewer pixels than the group's largest loses 0.5 per halving: a resized or
    # cropped copy is never kept over its original, yet a much sharper frame of
    # a burst can beat a slightly larger one.
    mp = {x: (qualities[ids[x]].megapixels if ids[x] in qualities else 0.0) for x in members}
    top = max(mp.values()) or 1.0
    resolution = 0.5 * np.log2(max(mp[m], 1e-6) / top) if mp[m] else -10.0
    return (ids[m] not in picked, -(technical[m] + resolution), ids[m])


def _hash_array(ids: list[int], qualities: dict[int, Quality]) -> np.ndarray:
    return np.array(
        [int(qualities[p].dhash, 16) if p in qualities and qualities[p].ok else 0 for p in ids],
        dtype=np.uint64,
    )


def find_duplicates(
    store: Store,
    *,
    backbone: str,
    photo_ids: list[int] | None = None,
    min_cosine: float = DEFAULT_MIN_COSINE,
    max_hash_distance: int = DEFAULT_MAX_HASH_DISTANCE,
    use_pixels: bool = True,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[DuplicateGroup]:
    """Near-duplicate groups among an album's tagged photos.

    Args:
        store: The database; embeddings must exist for ``backbone``.
        backbone: Whose embeddings to compare.
        photo_ids: The album (default: every photo with an embedding).
        min_cosine: See :data:`DEFAULT_MIN_COSINE`.
        max_hash_distance: See :data:`DEFAULT_MAX_HASH_DISTANCE`.
        use_pixels: Decode photos (once; cached) for hashes and keeper quality.
        progress: Called with (done, total) while photos are measured.
        cancel: Stops measuring; photos measured so far still count.
    """
    ids, embeddings = album_embeddings(store, backbone=backbone, photo_ids=photo_ids)
    qualities = (
        photo_qualities(store, ids, progress=progress, cancel=cancel) if use_pixels and ids else {}
    )
    return group_duplicates(
        ids,
        embeddings,
        qualities=qualities,
        picked=picked_photos(store),
        min_cosine=min_cosine,
        max_hash_distance=max_hash_distance,
    )
