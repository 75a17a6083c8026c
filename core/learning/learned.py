"""Learned suggestions: learning runs from the store, and their scores after every tagging run.

:func:`apply_learned` is the one function the CLI, the app and the bot call
after tagging: it writes the current kept version's suggestions (source
``head``) for the given photos, only for the tags whose held-out verdict let
the learner speak, and only from each tag's precision threshold. Every other
tag keeps the backbone's suggestion. With no kept version it clears learned
suggestions, so the backbone alone stands.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from core.engine.vocabulary import STORE_FLOOR, TagScore
from core.learning.gate import confidence
from core.learning.heads import TrainProgress
from core.learning.learner import Learner, learn
from core.learning.refine import collect_evidence, similarity_floor
from core.learning.versions import (
    LearnedVersion,
    current_version,
    learner_of,
    save_version,
    set_status,
)
from core.store import Store

LEARNED_SOURCES = ("refine", "head")
"""Sources whose suggestions learning writes (``refine`` only in databases from before versions)."""
DISPLAY_THRESHOLD = 0.2
"""The default confidence from which a suggestion is shown (settings' threshold)."""
CHUNK = 256


def backbone_scores(
    store: Store, photo_ids: Iterable[int], tags: tuple[str, ...], *, backbone: str
) -> np.ndarray:
    """What tagging alone says about ``tags``: each tag's best non-learned suggestion, else 0."""
    ids = list(photo_ids)
    col = {t: j for j, t in enumerate(tags)}
    row = {pid: i for i, pid in enumerate(ids)}
    out = np.zeros((len(ids), len(tags)), dtype=np.float32)
    for pid, tag, score in store.suggestion_scores(
        backbone=backbone, excluding=(*LEARNED_SOURCES, "user")
    ):
        if pid in row and tag in col:
            i, j = row[pid], col[tag]
            out[i, j] = max(out[i, j], score)
    return out


def learn_from_store(
    store: Store,
    *,
    backbone: str,
    display_threshold: float = DISPLAY_THRESHOLD,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> LearnedVersion:
    """Learn from every decision so far and store the run as the newest kept version.

    Its suggestions are not written here: call :func:`apply_learned` (the
    caller decides on which photos, and reports progress).
    """
    evidence = collect_evidence(store, backbone=backbone)
    ids, matrix = store.embeddings(backbone=backbone)
    result = learn(
        evidence,
        backbone_scores(store, evidence.photo_ids, evidence.tags, backbone=backbone),
        library_size=len(ids),
        floor=similarity_floor(matrix),
        display_threshold=display_threshold,
        progress=progress,
        cancel=cancel,
    )
    return save_version(store, result, backbone=backbone)


@dataclass(frozen=True)
class LearnedScorer:
    """A version ready to score photos: its learner and the columns of its kept tags."""

    version: LearnedVersion
    learner: Learner
    columns: tuple[int, ...]

    @classmethod
    def current(cls, store: Store, *, backbone: str) -> LearnedScorer | None:
        """The scorer of the current kept version, or None when there is none."""
        v = current_version(store, backbone=backbone)
        if v is None:
            return None
        columns = tuple(j for j, g in enumerate(v.gates) if g.kept)
        return cls(v, learner_of(store, v), columns)

    def score_embeddings(
        self, embeddings: np.ndarray, photo_ids: list[int] | None = None
    ) -> list[list[TagScore]]:
        """Per photo's embedding, the learned suggestions (kept tags over their thresholds), best first.

        Nothing is read from or written to the store: :func:`apply_learned` stores them.
        """
        if not self.columns:
            return [[] for _ in range(len(embeddings))]
        scores = self.learner.scores(embeddings, query_ids=photo_ids)
        out: list[list[TagScore]] = [[] for _ in range(len(embeddings))]
        for j in self.columns:
            gate = self.version.gates[j]
            conf = confidence(gate, scores[:, j])
            for i in np.flatnonzero(conf >= STORE_FLOOR):
                out[i].append(TagScore(gate.tag, float(conf[i]), "head"))
        return [sorted(s, key=lambda t: (-t.score, t.tag)) for s in out]


def apply_learned(
    store: Store,
    photo_ids: Iterable[int] | None = None,
    *,
    backbone: str,
    scorer: LearnedScorer | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> int:
    """Write the current kept version's suggestions for photos; returns photos written.

    Called after every tagging run (CLI, app, bot) and after learning or
    discarding. Tags the person has decided on a photo are never suggested
    there. Without a kept version, learned suggestions are cleared.

    Args:
        store: The database.
        photo_ids: Photos to update (default: every photo with an embedding).
        backbone: Whose embeddings and versions.
        scorer: A scorer already prepared (:meth:`LearnedScorer.current`), to save
            reloading it batch after batch.
        progress: Called with (done, total) after every chunk.
        cancel: Set it to stop after the chunk in flight.
    """
    ids, matrix = store.embeddings(backbone=backbone)
    if photo_ids is not None:
        wanted = set(photo_ids)
        keep = [i for i, pid in enumerate(ids) if pid in wanted]
        ids, matrix = [ids[i] for i in keep], matrix[keep]
    if scorer is None:
        scorer = LearnedScorer.current(store, backbone=backbone)
    states = store.all_tag_states() if scorer is not None else {}
    done = 0
    for start in range(0, len(ids), CHUNK):
        if cancel is not None and cancel.is_set():
            break
        chunk = ids[start : start + CHUNK]
        learned = (
            scorer.score_embeddings(matrix[start : start + CHUNK], chunk)
            if scorer is not None
            else [[] for _ in chunk]
        )
        with store.transaction():
            for pid, suggestions in zip(chunk, learned, strict=True):
                decided = states.get(pid, {})
                store.replace_suggestions(
                    pid,
                    [s for s in suggestions if s.tag not in decided],
                    backbone=backbone,
                    sources=LEARNED_SOURCES,
                )
        done += len(chunk)
        if progress is not None:
            progress(done, len(ids))
    return done


def discard_version(
    store: Store,
    *,
    backbone: str,
    version_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> LearnedVersion | None:
    """Discard a kept version (default: the current one) and restore what was there before.

    The version before it (or the backbone alone) is applied to every photo
    again; returns the version now current, if any.
    """
    target = current_version(store, backbone=backbone) if version_id is None else None
    target_id = version_id if version_id is not None else (target.id if target else None)
    if target_id is None:
        return None
    set_status(store, target_id, "discarded")
    apply_learned(store, backbone=backbone, progress=progress)
    return current_version(store, backbone=backbone)
