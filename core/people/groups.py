"""Face groups: each new face joins the nearest named person, or waits in a group of the unnamed.

A grouping run (after tagging, or when the People view opens) does two things
with every embedded face the user has not confirmed:

1. **Suggest**: the face's nearest confirmed face (of a person it was never
   said not to be) within :data:`MATCH_DISTANCE` makes that person its
   suggested name, with a confidence; the user confirms it with one key.
2. **Group the rest**: faces near no confirmed person are clustered among
   themselves (:func:`cluster_embeddings`), and each cluster is an unnamed
   group. A cluster keeps the group id most of its faces had, so a group's
   number stays the same from run to run while it grows.

Nothing the user said is undone: confirmed faces stay where they are, and a
face never joins (by suggestion or by grouping) a person it was rejected from.
The threshold and method are in docs/adr/0006-face-groups-and-names.md.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from core.store import FaceRow, PeopleRecords, Store

MATCH_DISTANCE = 0.5
"""Largest Euclidean distance between two faces of one person, chosen on the faces set's
train photos only (same person at most 0.41 apart, two people at least 0.63: the
midpoint, rounded down to a tenth; see ADR 0006)."""
CONFIDENCE_SCALE = 0.04
"""How fast a suggestion's confidence falls around :data:`MATCH_DISTANCE` (0.5 there)."""
_CHUNK = 2048


@dataclass(frozen=True)
class GroupingSummary:
    """What a grouping run did.

    Attributes:
        faces: Embedded faces looked at.
        suggested: Faces given a suggested name.
        grouped: Faces placed in unnamed groups.
        groups: Unnamed groups after the run.
    """

    faces: int
    suggested: int
    grouped: int
    groups: int


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) Euclidean distances, in float32."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.sqrt(np.maximum(squared, 0.0))


def suggestion_confidence(distance: float | np.ndarray) -> float | np.ndarray:
    """A suggestion's confidence from its distance: near 1 close by, 0.5 at the threshold."""
    return 1.0 / (1.0 + np.exp((np.asarray(distance) - MATCH_DISTANCE) / CONFIDENCE_SCALE))


def cluster_embeddings(
    vectors: np.ndarray, *, threshold: float = MATCH_DISTANCE, passes: int = 3
) -> np.ndarray:
    """Cluster faces so each lies within ``threshold`` of its cluster's centre.

    DP-means (Kulis and Jordan, 2012): a face joins the nearest centre within
    ``threshold`` or starts a cluster of its own; then every face moves to its
    nearest centre and the centres are recomputed, a few times over. It costs
    faces x clusters distances, not faces squared, so 10,000 faces take well under
    2 s where average linkage over all pairs takes half a minute, and agrees
    with it on well-separated people.

    Args:
        vectors: (n, d) embeddings, in the order faces arrived.
        threshold: Largest distance from a face to its cluster's centre.
        passes: Reassignment passes after the first sweep.

    Returns:
        (n,) cluster labels 0..k-1, numbered in order of first appearance.
    """
    x = np.asarray(vectors, dtype=np.float32)
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    limit = threshold * threshold
    labels = np.full(n, -1, dtype=np.int64)
    sums = np.zeros_like(x)
    counts = np.zeros(n, dtype=np.int64)
    centres = np.zeros_like(x)
    norms = np.zeros(n, dtype=np.float32)  # squared length of each centre
    lengths = (x * x).sum(1)
    k = 0
    for i in range(n):
        if k:
            # |c - x|^2 = |c|^2 - 2 c.x + |x|^2: one matrix-vector product per face
            gaps = norms[:k] - 2.0 * (centres[:k] @ x[i])
            j = int(gaps.argmin())
            if gaps[j] + lengths[i] <= limit:
                labels[i] = j
                sums[j] += x[i]
                counts[j] += 1
                centres[j] = sums[j] / counts[j]
                norms[j] = centres[j] @ centres[j]
                continue
        labels[i], sums[k], counts[k], centres[k], norms[k] = k, x[i], 1, x[i], lengths[i]
        k += 1
    for _ in range(passes):
        near = np.empty(n, dtype=np.int64)
        gap = np.empty(n, dtype=np.float32)
        for start in range(0, n, _CHUNK):
            d = pairwise_distances(x[start : start + _CHUNK], centres[:k])
            near[start : start + _CHUNK] = d.argmin(1)
            gap[start : start + _CHUNK] = d.min(1)
        far = gap > threshold
        changed = bool(far.any()) or not np.array_equal(near, labels)
        labels = near
        if far.any():  # each face too far from every centre starts again on its own
            labels[far] = k + np.arange(int(far.sum()))
        labels = _renumber(labels)
        k = int(labels.max()) + 1
        centres = np.zeros((k, x.shape[1]), dtype=np.float32)
        np.add.at(centres, labels, x)
        centres /= np.bincount(labels, minlength=k)[:, None]
        if not changed:
            break
    return labels


def _renumber(labels: np.ndarray) -> np.ndarray:
    """Labels 0..k-1 in order of first appearance."""
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse]


def nearest_confirmed(
    faces: list[FaceRow], confirmed: list[FaceRow], rejections: dict[int, set[int]]
) -> list[tuple[int | None, float]]:
    """Per face, the person of its nearest confirmed face it was not rejected from, and the distance."""
    if not confirmed or not faces:
        return [(None, float("inf"))] * len(faces)
    refs = np.stack([f.embedding for f in confirmed])  # type: ignore[misc]
    owners = np.array([f.person_id for f in confirmed])
    out: list[tuple[int | None, float]] = []
    for start in range(0, len(faces), _CHUNK):
        chunk = faces[start : start + _CHUNK]
        d = pairwise_distances(np.stack([f.embedding for f in chunk]), refs)  # type: ignore[misc]
        for row, face in zip(d, chunk, strict=True):
            banned = rejections.get(face.id)
            if banned:
                row = np.where(np.isin(owners, list(banned)), np.inf, row)
            j = int(row.argmin())
            out.append((int(owners[j]), float(row[j])) if np.isfinite(row[j]) else (None, np.inf))
    return out


def group_faces(store: Store, *, threshold: float = MATCH_DISTANCE) -> GroupingSummary:
    """Suggest names for new faces and group the rest (see the module's description).

    One transaction: the groups are never seen half done.
    """
    records = store.people
    with store.transaction():
        faces = records.faces(embedded_only=True)
        rejections = records.rejections()
        confirmed = [f for f in faces if f.source == "confirmed" and f.person_id is not None]
        open_faces = [f for f in faces if f.source != "confirmed"]
        updates: list[tuple[int, int | None, str | None, float | None]] = []
        free: list[FaceRow] = []
        for face, (person, distance) in zip(
            open_faces, nearest_confirmed(open_faces, confirmed, rejections), strict=True
        ):
            if person is not None and distance <= threshold:
                updates.append(
                    (face.id, person, "suggested", float(suggestion_confidence(distance)))
                )
            else:
                free.append(face)
        updates += _group_free(records, free, rejections, confirmed, threshold)
        records.assign_many(updates)  # type: ignore[arg-type]
        records.drop_empty_unnamed()
        groups = records.unnamed_group_count()
    suggested = sum(1 for u in updates if u[2] == "suggested")
    return GroupingSummary(len(faces), suggested, len(free), int(groups))


def _group_free(
    records: PeopleRecords,
    free: list[FaceRow],
    rejections: dict[int, set[int]],
    confirmed: list[FaceRow],
    threshold: float,
) -> list[tuple[int, int | None, str | None, float | None]]:
    """Cluster the free faces into unnamed groups, keeping group ids where they were."""
    if not free:
        return []
    labels = cluster_embeddings(np.stack([f.embedding for f in free]), threshold=threshold)  # type: ignore[misc]
    # Ids a cluster may keep: unnamed groups nobody confirmed a face of.
    named = {p.id for p in records.persons() if p.name is not None}
    held = named | {f.person_id for f in confirmed}
    members: dict[int, list[FaceRow]] = {}
    for face, label in zip(free, labels, strict=True):
        members.setdefault(int(label), []).append(face)
    claimed: set[int] = set()
    updates = []
    for label in sorted(members, key=lambda lb: -len(members[lb])):
        group = members[label]
        votes = Counter(
            f.person_id for f in group if f.person_id is not None and f.person_id not in held
        )
        person = next((p for p, _ in votes.most_common() if p not in claimed), None)
        if person is None:
            person = records.new_person()
        claimed.add(person)
        for face in group:
            if person in rejections.get(face.id, ()):
                own = records.new_person()  # said not to be this group: a group of its own
                claimed.add(own)
                updates.append((face.id, own, "grouped", None))
            else:
                updates.append((face.id, person, "grouped", None))
    return updates
