"""A learner (head and refinement, blended) fitted and judged on the user's decisions only.

Fitting chooses everything inside the photos it is given: the head's
regularisation and temperature by cross-fitting (:func:`core.learning.heads.fit_head`),
and the weight of the head against refinement on those same within-photos
held-out scores. Judging cross-fits that whole procedure: each fold's learner
is fitted, choices included, on the other folds, and scores photos it never
saw, so the per-tag verdicts (:mod:`core.learning.gate`) and the figures
reported to the person come from photos that chose nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.learning.gate import TagGate, confidence, judge
from core.learning.heads import (
    Head,
    TrainingError,
    TrainProgress,
    fit_head,
    fold_map,
    fold_splits,
    head_probabilities,
)
from core.learning.metrics import f1_scores
from core.learning.refine import Evidence, Propagator, fit_propagator, propagate

BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Candidate weights of the head against refinement."""
MIN_PHOTOS = 10
MIN_HEAD_POSITIVES = 2


@dataclass(frozen=True)
class Learner:
    """A fitted head and refinement over the same tags, and the blend between them."""

    head: Head
    propagator: Propagator
    blend: float

    @property
    def tags(self) -> tuple[str, ...]:
        return self.head.tags

    def scores(self, embeddings: np.ndarray, query_ids: list[int] | None = None) -> np.ndarray:
        """Blended scores, one column per tag; a reviewed photo is not its own neighbour."""
        p_head = head_probabilities(self.head, embeddings)
        p_ref = propagate(self.propagator, embeddings, query_ids=query_ids)
        return (self.blend * p_head + (1.0 - self.blend) * p_ref).astype(np.float32)


@dataclass(frozen=True)
class LearnMetrics:
    """Held-out figures of one learning run (photos scored by learners that never saw them).

    Attributes:
        learned_map: Mean over folds of the learned scores' mAP.
        backbone_map: The same for the backbone alone.
        shown_map: The same for what is shown: kept tags learned, the rest the backbone's.
        micro_f1: Micro F1 of the kept tags' suggestions at their thresholds.
        macro_f1: Macro F1 of the same.
        photos: Reviewed photos.
        folds: Cross-fitting folds.
        blend: Weight of the head against refinement in the stored learner.
        seconds: Time taken.
    """

    learned_map: float | None
    backbone_map: float | None
    shown_map: float | None
    micro_f1: float | None
    macro_f1: float | None
    photos: int
    folds: int
    blend: float
    seconds: float


@dataclass(frozen=True)
class LearnResult:
    """The learner fitted on every reviewed photo, its per-tag verdicts and held-out figures.

    ``held_out`` holds each reviewed photo's cross-fitted learned scores (photos x tags).
    """

    learner: Learner
    evidence: Evidence
    gates: tuple[TagGate, ...]
    metrics: LearnMetrics
    held_out: np.ndarray


def learnable(evidence: Evidence, *, min_positives: int = MIN_HEAD_POSITIVES) -> Evidence:
    """Only the tags confirmed on at least ``min_positives`` photos."""
    keep = np.flatnonzero(evidence.positives >= min_positives)
    return Evidence(
        evidence.photo_ids,
        tuple(evidence.tags[j] for j in keep),
        evidence.embeddings,
        evidence.labels[:, keep],
        evidence.known[:, keep],
        evidence.decisions,
        evidence.last_decision_id,
    )


def fit_learner(
    evidence: Evidence,
    *,
    library_size: int,
    floor: float,
    folds: int = 3,
    seed: int = 0,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Learner:
    """Fit head and refinement on ``evidence``; every choice made inside these photos."""
    head, inner_head = fit_head(evidence, folds=folds, seed=seed, progress=progress, cancel=cancel)
    splits = fold_splits(evidence, folds=min(folds, len(evidence.photo_ids) // 2), seed=seed)
    inner_refine = np.zeros_like(inner_head)
    for tr, te in splits:
        propagator = fit_propagator(evidence.subset(tr), library_size=library_size, floor=floor)
        inner_refine[te] = propagate(propagator, evidence.embeddings[te])
    y, known = evidence.labels, evidence.known
    blend = max(
        BLENDS,
        key=lambda b: (fold_map(y, known, b * inner_head + (1 - b) * inner_refine, splits), b),
    )
    propagator = fit_propagator(evidence, library_size=library_size, floor=floor)
    return Learner(head, propagator, blend)


def learn(
    evidence: Evidence,
    backbone_scores: np.ndarray,
    *,
    library_size: int,
    floor: float,
    display_threshold: float,
    folds: int = 5,
    seed: int = 0,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> LearnResult:
    """Cross-fit the whole fitting procedure, judge every tag, then fit on every photo.

    Args:
        evidence: The user's decisions (:func:`core.learning.refine.collect_evidence`).
        backbone_scores: What the backbone alone gives the same photos and tags.
        library_size: Photos in the library (refinement's base rates).
        floor: Refinement's similarity floor for this backbone and library.
        display_threshold: The confidence from which a suggestion is shown (for found/was).
        folds: Outer cross-fitting folds.
        seed: For the folds.
        progress: Called at every stage.
        cancel: Set it to stop; raises :class:`~core.learning.heads.TrainingCancelled`.

    Raises:
        TrainingError: Fewer than ten reviewed photos, or no tag confirmed twice.
    """
    start = time.perf_counter()
    ev = learnable(evidence)
    if len(ev.photo_ids) < MIN_PHOTOS or not ev.tags:
        raise TrainingError(
            f"need at least {MIN_PHOTOS} reviewed photos and a tag confirmed on"
            f" {MIN_HEAD_POSITIVES} or more; have {len(ev.photo_ids)} photos and"
            f" {len(ev.tags)} such tags"
        )
    base = backbone_scores[:, [evidence.tags.index(t) for t in ev.tags]]
    folds = min(folds, len(ev.photo_ids) // 2)
    splits = fold_splits(ev, folds=folds, seed=seed)
    oof = np.zeros(ev.labels.shape, dtype=np.float32)
    for f, (tr, te) in enumerate(splits):
        if progress is not None:
            progress(TrainProgress(f"held-out fold {f + 1} of {folds}", f, folds + 1))
        fold_learner = fit_learner(
            ev.subset(tr), library_size=library_size, floor=floor, seed=seed, cancel=cancel
        )
        oof[te] = fold_learner.scores(ev.embeddings[te])
    if progress is not None:
        progress(TrainProgress("learning from every reviewed photo", folds, folds + 1))
    learner = fit_learner(ev, library_size=library_size, floor=floor, seed=seed, cancel=cancel)
    y, known = ev.labels, ev.known
    gates = judge(ev.tags, y, known, oof, base, display_threshold=display_threshold)
    metrics = _metrics(gates, y, known, oof, base, splits, learner.blend, start)
    if progress is not None:
        progress(TrainProgress("done", folds + 1, folds + 1))
    return LearnResult(learner, ev, gates, metrics, oof)


def _metrics(gates, y, known, oof, base, splits, blend, start) -> LearnMetrics:
    shown = base.copy()
    predicted = np.zeros(y.shape, dtype=bool)
    for j, gate in enumerate(gates):
        if gate.kept:
            conf = confidence(gate, oof[:, j])
            shown[:, j] = np.maximum(conf, base[:, j])
            predicted[:, j] = oof[:, j] >= gate.threshold
    micro, macro = f1_scores(y, predicted, known)
    return LearnMetrics(
        round(fold_map(y, known, oof, splits), 4),
        round(fold_map(y, known, base, splits), 4),
        round(fold_map(y, known, shown, splits), 4),
        micro,
        macro,
        len(y),
        len(splits),
        blend,
        round(time.perf_counter() - start, 2),
    )
