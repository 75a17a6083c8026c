"""Heads trained on frozen embeddings for the user's own tags, and the suggestions they make.

A head is a multi-label classifier (logistic, or a small MLP) over one
backbone's stored embeddings. Its positives are accepted and added tags, its
negatives rejections and reviewed photos without the tag (see
:mod:`core.refine`). Each tag's loss is weighted by its negative-to-positive
ratio, so a tag on five photos out of five hundred still counts.

Training holds out a share of the reviewed photos, stops when the held-out
loss stops falling, and then, on that held-out share only: reads the metrics,
fits one temperature, picks each tag's threshold and learns how much to trust
refinement next to the head. It then trains again on every reviewed photo for
the epochs that worked, because with a few dozen confirmed photos the held-out
fifth is too much to throw away. Heads are stored versioned with their metrics
and the decisions they saw; the newest per backbone tags.

torch is imported only to train; predicting is numpy, so the CPU tagging path
stays free of torch.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from core.errors import PhotoTaggerError
from core.refine import (
    Evidence,
    Propagator,
    average_precision,
    collect_evidence,
    features,
    fit_propagator,
    mean_average_precision,
    propagate,
    to_suggestions,
)
from core.store import Store
from core.transforms import VIEWS_VERSION
from core.vocabulary import STORE_FLOOR, STORE_TOP_K, TagScore

HeadKind = Literal["logistic", "mlp"]
BLENDS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Candidate weights of the head against refinement; the held-out photos pick one."""
TEMPERATURES = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)


class TrainingError(PhotoTaggerError):
    """There is not enough to learn from, or training could not run."""


class TrainingCancelled(PhotoTaggerError):
    """The person cancelled training; nothing was stored."""


@dataclass(frozen=True)
class TrainOptions:
    """How a head is trained. The defaults suit a few dozen to a few thousand photos.

    Attributes:
        kind: ``logistic`` (one linear layer) or ``mlp`` (one hidden layer).
        hidden: Width of the MLP's hidden layer.
        weight_decay: AdamW's decoupled weight decay.
        learning_rate: AdamW's step size.
        max_epochs: Full passes over the training photos, at most (L-BFGS iterations
            for the logistic head).
        patience: Epochs without a better held-out loss before stopping.
        folds: Cross-fitting folds for early stopping, calibration and metrics.
        strengths: Inverse L2 strengths tried for the logistic head (chosen by held-out mAP).
        min_positives: A tag needs this many confirmed photos to get a head output.
        seed: For the split and the initial weights: the same decisions give the same head.
        device: torch device to train on.
    """

    kind: HeadKind = "logistic"
    hidden: int = 256
    weight_decay: float = 1e-2
    learning_rate: float = 1e-2
    max_epochs: int = 400
    patience: int = 40
    folds: int = 5
    strengths: tuple[float, ...] = (1.0, 3.0, 10.0)
    min_positives: int = 2
    seed: int = 0
    device: str = "cpu"


@dataclass(frozen=True)
class TrainProgress:
    """Where training stands: stage is ``fold i/k``, ``calibrate``, ``final`` or ``done``."""

    stage: str
    epoch: int
    max_epochs: int
    validation_loss: float | None = None


@dataclass(frozen=True)
class TagMetrics:
    tag: str
    positives: int
    average_precision: float | None
    precision: float | None
    recall: float | None
    threshold: float


@dataclass(frozen=True)
class HeadMetrics:
    """Held-out quality of a head: every photo scored by a fold's head that never saw it.

    mAP (and the baseline's) is the mean over folds of each fold's held-out mAP;
    per-tag figures pool the folds. F1, precision and recall are read at the
    thresholds picked on the same held-out scores, so they lean optimistic; mAP
    does not depend on thresholds.
    """

    mean_average_precision: float | None
    micro_f1: float | None
    macro_f1: float | None
    baseline_map: float | None
    accuracy: float | None
    photos: int
    folds: int
    best_epoch: int
    temperature: float
    blend: float
    seconds: float
    per_tag: tuple[TagMetrics, ...] = field(default=())


@dataclass(frozen=True)
class Head:
    """A trained head: weights as numpy arrays, ready to score embeddings without torch.

    Attributes:
        kind: ``logistic`` or ``mlp``.
        backbone: Whose embeddings it reads.
        tags: Its outputs, in order.
        thresholds: Per tag, the score from which it is shown as confident (F1 on held-out).
        temperature: Divides the prior-corrected logits (fitted on held-out).
        blend: Weight of the head against refinement for its tags (fitted on held-out).
        arrays: ``mean``, ``scale``, ``bias_shift`` and the layers' ``w1, b1[, w2, b2]``.
        metrics: Held-out metrics.
        decisions_count: Decisions in the store when it was trained.
        last_decision_id: The newest of them.
        id: Row id once stored.
        created_at: When stored.
    """

    kind: HeadKind
    backbone: str
    tags: tuple[str, ...]
    thresholds: tuple[float, ...]
    temperature: float
    blend: float
    arrays: dict[str, np.ndarray]
    metrics: HeadMetrics
    decisions_count: int = 0
    last_decision_id: int = 0
    id: int | None = None
    created_at: str | None = None

    @property
    def trainable_parameters(self) -> int:
        return int(sum(self.arrays[k].size for k in ("w1", "b1", "w2", "b2") if k in self.arrays))


# -- prediction (numpy) -------------------------------------------------------------


def head_logits(head: Head, embeddings: np.ndarray) -> np.ndarray:
    """Raw logits of the head's network, before calibration."""
    a = head.arrays
    x = (features(embeddings) - a["mean"]) / a["scale"]
    h = x @ a["w1"].T + a["b1"]
    if head.kind == "mlp":
        h = np.maximum(h, 0.0) @ a["w2"].T + a["b2"]
    return h


def head_probabilities(head: Head, embeddings: np.ndarray) -> np.ndarray:
    """Calibrated probabilities, one column per tag of the head.

    Class weighting inflates the logits of rare tags by about the log of their
    weight; taking that back out, then dividing by the held-out temperature,
    makes the scores comparable with refinement's and ImageNet's.
    """
    logits = (head_logits(head, embeddings) - head.arrays["bias_shift"]) / head.temperature
    return (1.0 / (1.0 + np.exp(-np.clip(logits, -30, 30)))).astype(np.float32)


def combine(head_scores: np.ndarray, refine_scores: np.ndarray, *, blend: float) -> np.ndarray:
    """The head's tags scored by both learners: ``blend`` of the head, the rest refinement."""
    return blend * head_scores + (1.0 - blend) * refine_scores


# -- training (torch) ----------------------------------------------------------------


def assign_folds(evidence: Evidence, *, folds: int, seed: int) -> np.ndarray:
    """Each reviewed photo's fold, spreading every tag's positives over the folds.

    Photos are dealt rarest tag first to the emptiest fold: a plain random split
    of forty photos often leaves a rare tag without a held-out example, and then
    nothing about that tag can be calibrated.
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


def _build(kind: HeadKind, dim: int, outputs: int, hidden: int):
    import torch

    if kind == "mlp":
        return torch.nn.Sequential(
            torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, outputs)
        )
    return torch.nn.Sequential(torch.nn.Linear(dim, outputs))


def _fit(
    x: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    pos_weight: np.ndarray,
    *,
    options: TrainOptions,
    epochs: int,
    validation: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    stage: str,
    progress: Callable[[TrainProgress], None] | None,
    cancel: threading.Event | None,
):
    """Full-batch AdamW on the masked, class-weighted loss; returns (model, best epoch)."""
    import torch

    torch.manual_seed(options.seed)
    device = torch.device(options.device)
    model = _build(options.kind, x.shape[1], y.shape[1], options.hidden).to(device)
    opt = torch.optim.AdamW(
        model.parameters(), lr=options.learning_rate, weight_decay=options.weight_decay
    )
    tx, ty, tk = (torch.as_tensor(a, device=device) for a in (x, y, known.astype(np.float32)))
    pw = torch.as_tensor(pos_weight, device=device)

    def loss_of(out, target, mask):
        raw = torch.nn.functional.binary_cross_entropy_with_logits(
            out, target, pos_weight=pw, reduction="none"
        )
        return (raw * mask).sum() / mask.sum().clamp(min=1)

    if validation is not None:
        vx, vy, vk = (torch.as_tensor(a, device=device) for a in validation)
        vk = vk.float()
    best_loss, best_epoch, best_state, stale = float("inf"), epochs, None, 0
    for epoch in range(1, epochs + 1):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("training cancelled; no head was stored")
        model.train()
        opt.zero_grad()
        loss_of(model(tx), ty, tk).backward()
        opt.step()
        if validation is None:
            if progress is not None and epoch % 20 == 0:
                progress(TrainProgress(stage, epoch, epochs))
            continue
        model.eval()
        with torch.no_grad():
            val = float(loss_of(model(vx), vy, vk))
        if val < best_loss - 1e-5:
            best_loss, best_epoch, stale = val, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if progress is not None and epoch % 20 == 0:
            progress(TrainProgress(stage, epoch, epochs, val))
        if stale >= options.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, best_epoch


def _fold_map(y: np.ndarray, known: np.ndarray, scores: np.ndarray, splits) -> float:
    """Mean of each fold's held-out mAP.

    Each fold's head has its own bias shift, so pooling all folds' scores into
    one ranking would judge the heads on a scale no single head produces; a
    person's photos are always ranked by one head.
    """
    maps = [_masked_map(y[te], known[te], scores[te]) for _, te in splits]
    return (
        float(np.mean([m for m in maps if m is not None]))
        if any(m is not None for m in maps)
        else 0.0
    )


def _cross_fit_mlp(x, y, known, splits, options, progress, cancel) -> tuple[np.ndarray, int]:
    """Out-of-fold logits of MLP heads, each stopped early on its own fold; and the median epoch."""
    oof = np.zeros_like(y)
    epochs = []
    for f, (tr, te) in enumerate(splits):
        stage = f"fold {f + 1}/{len(splits)}"
        if progress is not None:
            progress(TrainProgress(stage, 0, options.max_epochs))
        pw = _pos_weight(y[tr], known[tr])
        model, best = _fit(
            x[tr],
            y[tr],
            known[tr],
            pw,
            options=options,
            epochs=options.max_epochs,
            validation=(x[te], y[te], known[te]),
            stage=stage,
            progress=progress,
            cancel=cancel,
        )
        epochs.append(best)
        oof[te] = _logits(model, x[te]) - np.log(pw)
    return oof, int(np.median(epochs))


def _cross_fit_logistic(x, y, known, splits, options, progress, cancel) -> tuple[np.ndarray, float]:
    """Out-of-fold logits of L2-regularised logistic heads, at the strength whose mAP is best.

    A convex fit run to convergence ranks better than early-stopped gradient
    descent (measured on coco-mini: 0.62 against 0.58 held-out mAP), and the
    regularisation is chosen by held-out mAP rather than fixed.
    """
    best: tuple[float, float, np.ndarray] | None = None
    for i, strength in enumerate(options.strengths):
        oof = np.zeros_like(y)
        for f, (tr, te) in enumerate(splits):
            if progress is not None:
                progress(TrainProgress(f"fold {f + 1}/{len(splits)}", i, len(options.strengths)))
            pw = _pos_weight(y[tr], known[tr])
            model = _fit_logistic(
                x[tr], y[tr], known[tr], pw, strength=strength, options=options, cancel=cancel
            )
            oof[te] = _logits(model, x[te]) - np.log(pw)
        score = _fold_map(y, known, oof, splits)
        if best is None or score > best[0]:
            best = (score, strength, oof)
    assert best is not None
    return best[2], best[1]


def _fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    known: np.ndarray,
    pos_weight: np.ndarray,
    *,
    strength: float,
    options: TrainOptions,
    cancel: threading.Event | None,
):
    """Full-batch L-BFGS on the masked, class-weighted loss plus an L2 penalty.

    ``strength`` is the inverse regularisation C of unit-length features: the
    inputs are standardised to unit variance per dimension, so the penalty is
    scaled by the dimension to mean the same for 1280 or 4096 inputs.
    """
    import torch

    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled; no head was stored")
    torch.manual_seed(options.seed)
    device = torch.device(options.device)
    model = _build("logistic", x.shape[1], y.shape[1], options.hidden).to(device)
    torch.nn.init.zeros_(model[0].weight)
    torch.nn.init.zeros_(model[0].bias)
    tx, ty, tk = (torch.as_tensor(a, device=device) for a in (x, y, known.astype(np.float32)))
    pw = torch.as_tensor(pos_weight, device=device)
    penalty = x.shape[1] / (2.0 * strength * x.shape[0] * y.shape[1])
    opt = torch.optim.LBFGS(
        model.parameters(), max_iter=options.max_epochs, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        raw = torch.nn.functional.binary_cross_entropy_with_logits(
            model(tx), ty, pos_weight=pw, reduction="none"
        )
        loss = (raw * tk).sum() / tk.sum().clamp(min=1) + penalty * model[0].weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


def _arrays(model, kind: HeadKind) -> dict[str, np.ndarray]:
    layers = [m for m in model if hasattr(m, "weight")]
    out = {"w1": layers[0].weight, "b1": layers[0].bias}
    if kind == "mlp":
        out |= {"w2": layers[1].weight, "b2": layers[1].bias}
    return {k: v.detach().cpu().numpy().astype(np.float32) for k, v in out.items()}


def _best_threshold(y: np.ndarray, p: np.ndarray) -> tuple[float, float | None, float | None]:
    """The score that maximises F1 on held-out photos, with its precision and recall."""
    if y.sum() == 0:
        return 0.5, None, None
    best = (0.5, -1.0, None, None)
    for t in np.unique(p):
        pred = p >= t
        tp = float((pred & (y > 0)).sum())
        precision = tp / max(pred.sum(), 1)
        recall = tp / y.sum()
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        if f1 > best[1]:
            best = (float(t), f1, precision, recall)
    return best[0], best[2], best[3]


def _f1s(y: np.ndarray, known: np.ndarray, pred: np.ndarray) -> tuple[float | None, float | None]:
    tp = ((pred & (y > 0)) & known).sum(axis=0).astype(float)
    fp = ((pred & (y == 0)) & known).sum(axis=0).astype(float)
    fn = ((~pred & (y > 0)) & known).sum(axis=0).astype(float)
    has = (tp + fn) > 0
    if not has.any():
        return None, None
    micro = 2 * tp[has].sum() / max(2 * tp[has].sum() + fp[has].sum() + fn[has].sum(), 1)
    per = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return float(micro), float(per[has].mean())


def _masked_map(y: np.ndarray, known: np.ndarray, scores: np.ndarray) -> float | None:
    aps = [average_precision(y[known[:, j], j], scores[known[:, j], j]) for j in range(y.shape[1])]
    aps = [a for a in aps if not np.isnan(a)]
    return float(np.mean(aps)) if aps else None


def _temperature(logits: np.ndarray, y: np.ndarray, known: np.ndarray) -> float:
    best = (float("inf"), 1.0)
    for t in TEMPERATURES:
        p = np.clip(1 / (1 + np.exp(-np.clip(logits / t, -30, 30))), 1e-6, 1 - 1e-6)
        nll = -np.where(known, y * np.log(p) + (1 - y) * np.log(1 - p), 0).sum()
        best = min(best, (nll, t))
    return best[1]


def learnable(evidence: Evidence, *, min_positives: int) -> Evidence:
    """Only the tags with enough confirmed photos to learn."""
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


def _inputs(ev: Evidence) -> tuple[np.ndarray, np.ndarray, float]:
    feats = features(ev.embeddings)
    mean = feats.mean(axis=0)
    # One scale for all inputs, so a unit-variance init suits 1280 or 4096 dimensions.
    scale = max(float(np.sqrt(((feats - mean) ** 2).sum(axis=1).mean() / feats.shape[1])), 1e-6)
    return ((feats - mean) / scale).astype(np.float32), mean.astype(np.float32), scale


def _pos_weight(y: np.ndarray, known: np.ndarray) -> np.ndarray:
    pos = (y * known).sum(axis=0)
    neg = ((1 - y) * known).sum(axis=0)
    return (np.maximum(neg, 1) / np.maximum(pos, 1)).astype(np.float32)


def train_head(
    evidence: Evidence,
    *,
    backbone: str,
    options: TrainOptions | None = None,
    baseline: np.ndarray | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Head:
    """Train, calibrate and measure one head on ``evidence``.

    Cross-fitting: the reviewed photos are split into folds; a head trained on
    the others, stopped early on its own fold, scores each fold. Those
    held-out scores (every photo scored once, by a head that never saw it)
    pick the temperature, the blend with refinement and each tag's threshold,
    and give the metrics. The stored head is then trained on all the photos
    for the median number of epochs that worked.

    Args:
        evidence: From :func:`core.refine.collect_evidence`.
        backbone: The embeddings' backbone, recorded with the head.
        options: Training options.
        baseline: Optional scores for the same photos and tags from the backbone
            alone (ImageNet and hierarchy suggestions), measured next to the head.
        progress: Called every few epochs.
        cancel: Set it to stop; raises :class:`TrainingCancelled`.

    Raises:
        TrainingError: Fewer than ten reviewed photos, or no tag with enough positives.
    """
    options = options or TrainOptions()
    start = time.perf_counter()
    ev = learnable(evidence, min_positives=options.min_positives)
    if len(ev.photo_ids) < 10 or not ev.tags:
        raise TrainingError(
            f"need at least 10 reviewed photos and a tag confirmed on {options.min_positives}"
            f" or more; have {len(ev.photo_ids)} photos and {len(ev.tags)} such tags"
        )
    if baseline is not None:
        baseline = baseline[:, [evidence.tags.index(t) for t in ev.tags]]
    x, mean, scale = _inputs(ev)
    y, known = ev.labels, ev.known
    folds = min(options.folds, len(ev.photo_ids) // 2)
    fold = assign_folds(ev, folds=folds, seed=options.seed)
    splits = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(folds)]
    oof_refine = np.zeros_like(y)
    for tr, te in splits:
        oof_refine[te] = propagate(fit_propagator(ev.subset(tr)), ev.embeddings[te])
    if options.kind == "logistic":
        oof_logits, strength = _cross_fit_logistic(x, y, known, splits, options, progress, cancel)
        best_epoch = 0
    else:
        oof_logits, best_epoch = _cross_fit_mlp(x, y, known, splits, options, progress, cancel)
    if progress is not None:
        progress(TrainProgress("calibrate", 0, options.max_epochs))
    temperature = _temperature(oof_logits, y, known)
    p_head = 1.0 / (1.0 + np.exp(-np.clip(oof_logits / temperature, -30, 30)))
    blend = max(
        BLENDS,
        key=lambda b: (_fold_map(y, known, combine(p_head, oof_refine, blend=b), splits), b),
    )
    pw = _pos_weight(y, known)
    if options.kind == "logistic":
        model = _fit_logistic(x, y, known, pw, strength=strength, options=options, cancel=cancel)
    else:
        model, _ = _fit(
            x,
            y,
            known,
            pw,
            options=options,
            epochs=best_epoch,
            validation=None,
            stage="final",
            progress=progress,
            cancel=cancel,
        )
    arrays = {"mean": mean, "scale": np.float32(scale), "bias_shift": np.log(pw)}
    arrays |= _arrays(model, options.kind)
    metrics = _measure(
        ev,
        combine(p_head, oof_refine, blend=blend),
        baseline,
        splits=splits,
        folds=folds,
        best_epoch=best_epoch,
        temperature=temperature,
        blend=blend,
        seconds=time.perf_counter() - start,
    )
    if progress is not None:
        progress(TrainProgress("done", best_epoch, options.max_epochs))
    return Head(
        options.kind,
        backbone,
        ev.tags,
        tuple(t.threshold for t in metrics.per_tag),
        temperature,
        blend,
        arrays,
        metrics,
        evidence.decisions,
        evidence.last_decision_id,
    )


def _logits(model, x: np.ndarray) -> np.ndarray:
    import torch

    model.eval()
    with torch.no_grad():
        device = next(model.parameters()).device
        return model(torch.as_tensor(x, device=device)).cpu().numpy()


def _measure(
    ev: Evidence,
    scores: np.ndarray,
    baseline: np.ndarray | None,
    *,
    splits: list[tuple[np.ndarray, np.ndarray]],
    folds: int,
    best_epoch: int,
    temperature: float,
    blend: float,
    seconds: float,
) -> HeadMetrics:
    y, known = ev.labels, ev.known
    per_tag, thresholds = [], []
    for j, tag in enumerate(ev.tags):
        rows = known[:, j]
        threshold, precision, recall = _best_threshold(y[rows, j], scores[rows, j])
        thresholds.append(threshold)
        ap = average_precision(y[rows, j], scores[rows, j]) if rows.any() else float("nan")
        per_tag.append(
            TagMetrics(
                tag,
                int((y[:, j] * known[:, j]).sum()),
                None if np.isnan(ap) else round(float(ap), 4),
                None if precision is None else round(precision, 4),
                None if recall is None else round(recall, 4),
                round(float(threshold), 4),
            )
        )
    predicted = scores >= np.array(thresholds)
    micro, macro = _f1s(y, known, predicted)
    accuracy = float((predicted == (y > 0))[known].mean()) if known.any() else None
    return HeadMetrics(
        _fold_map(y, known, scores, splits),
        micro,
        macro,
        None if baseline is None else _fold_map(y, known, baseline, splits),
        accuracy,
        len(ev.photo_ids),
        folds,
        best_epoch,
        temperature,
        blend,
        seconds,
        tuple(per_tag),
    )


# -- versions in the store ---------------------------------------------------------------


def _pack(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def _unpack(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_head(store: Store, head: Head) -> Head:
    """Store a new head version; returns it with its id."""
    created = datetime.now(UTC).isoformat(timespec="seconds")
    metrics = asdict(head.metrics)
    with store.db.atomic():
        row_id = (
            store.db["heads"]
            .insert(
                {
                    "backbone": head.backbone,
                    "kind": head.kind,
                    "created_at": created,
                    "tags": json.dumps(list(head.tags)),
                    "thresholds": json.dumps(
                        {
                            "per_tag": [float(t) for t in head.thresholds],
                            "temperature": head.temperature,
                            "blend": head.blend,
                        }
                    ),
                    "metrics": json.dumps(metrics, default=float),
                    "weights": _pack(head.arrays),
                    "decisions_count": head.decisions_count,
                    "last_decision_id": head.last_decision_id,
                    "view": VIEWS_VERSION,
                }
            )
            .last_pk
        )
    return _replace(head, id=row_id, created_at=created)


def _replace(head: Head, **changes) -> Head:
    from dataclasses import replace

    return replace(head, **changes)


def _head_from_row(row: dict) -> Head:
    calib = json.loads(row["thresholds"])
    m = json.loads(row["metrics"])
    m["per_tag"] = tuple(TagMetrics(**t) for t in m.get("per_tag", ()))
    return Head(
        row["kind"],
        row["backbone"],
        tuple(json.loads(row["tags"])),
        tuple(calib["per_tag"]),
        calib["temperature"],
        calib["blend"],
        _unpack(row["weights"]),
        HeadMetrics(**m),
        row["decisions_count"] or 0,
        row["last_decision_id"] or 0,
        row["id"],
        row["created_at"],
    )


def list_heads(store: Store, *, backbone: str | None = None) -> list[Head]:
    """Every stored head version, newest first."""
    where, params = ("backbone = ?", [backbone]) if backbone else (None, None)
    rows = store.db["heads"].rows_where(where, params, order_by="id desc")
    return [_head_from_row(r) for r in rows]


def latest_head(store: Store, *, backbone: str) -> Head | None:
    """The head that tags with ``backbone`` now, if one was trained on the current views version."""
    rows = list(
        store.db["heads"].rows_where(
            "backbone = ? and view = ?", [backbone, VIEWS_VERSION], order_by="id desc", limit=1
        )
    )
    return _head_from_row(rows[0]) if rows else None


# -- the whole loop --------------------------------------------------------------------


def backbone_scores(
    store: Store, photo_ids: Iterable[int], tags: tuple[str, ...], *, backbone: str
) -> np.ndarray:
    """What the backbone alone says about ``tags``: its best ImageNet or hierarchy score, else 0."""
    ids = list(photo_ids)
    col = {t: j for j, t in enumerate(tags)}
    row = {pid: i for i, pid in enumerate(ids)}
    out = np.zeros((len(ids), len(tags)), dtype=np.float32)
    for pid, tag, score in store.db.execute(
        "select photo_id, tag, score from suggestions where backbone = ?"
        " and source in ('imagenet', 'hierarchy')",
        [backbone],
    ):
        if pid in row and tag in col:
            i, j = row[pid], col[tag]
            out[i, j] = max(out[i, j], score)
    return out


def train_from_store(
    store: Store,
    *,
    backbone: str,
    options: TrainOptions | None = None,
    progress: Callable[[TrainProgress], None] | None = None,
    cancel: threading.Event | None = None,
) -> Head:
    """Learn from every decision so far, store the new head version and return it."""
    evidence = collect_evidence(store, backbone=backbone)
    baseline = backbone_scores(store, evidence.photo_ids, evidence.tags, backbone=backbone)
    head = train_head(
        evidence,
        backbone=backbone,
        options=options,
        baseline=baseline,
        progress=progress,
        cancel=cancel,
    )
    return save_head(store, head)


def refresh_suggestions(
    store: Store,
    *,
    backbone: str,
    photo_ids: Iterable[int] | None = None,
    head: Head | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    floor: float = STORE_FLOOR,
    top_k: int = STORE_TOP_K,
) -> int:
    """Rewrite the ``refine`` and ``head`` suggestions of photos from the current decisions.

    For the head's tags the stored ``head`` score is the held-out blend of head
    and refinement; refinement alone speaks for the tags the head does not know
    (too rare, or new since it was trained). Tags a person rejected or removed
    on a photo are left out, so they never come back. Returns photos refreshed.

    Args:
        store: The database.
        backbone: Whose embeddings and head to use.
        photo_ids: Photos to refresh (default: every photo with an embedding).
        head: A head to use instead of the newest stored one.
        progress: Called with (done, total) after every chunk of photos.
        cancel: Set it to stop after the chunk in flight.
        floor: Scores under this are not stored.
        top_k: At most this many suggestions per photo and source.
    """
    ids, matrix = store.embeddings(backbone=backbone)
    if photo_ids is not None:
        wanted = set(photo_ids)
        keep = [i for i, pid in enumerate(ids) if pid in wanted]
        ids, matrix = [ids[i] for i in keep], matrix[keep]
    propagator = fit_propagator(collect_evidence(store, backbone=backbone))
    head = head if head is not None else latest_head(store, backbone=backbone)
    states = store.all_tag_states()
    done = 0
    for start in range(0, len(ids), 256):
        if cancel is not None and cancel.is_set():
            break
        chunk_ids = ids[start : start + 256]
        learned = learned_scores(head, propagator, matrix[start : start + 256], chunk_ids)
        with store.db.atomic():
            for i, pid in enumerate(chunk_ids):
                out = []
                for source in ("refine", "head"):
                    cols = [j for j, s in enumerate(learned.sources) if s == source]
                    out += to_suggestions(
                        learned.scores[i, cols],
                        tuple(learned.tags[j] for j in cols),
                        source=source,
                        exclude=set(states.get(pid, {})),
                        floor=floor,
                        top_k=top_k,
                    )
                store.replace_suggestions(pid, out, backbone=backbone, sources=("refine", "head"))
        done += len(chunk_ids)
        if progress is not None:
            progress(done, len(ids))
    return done


@dataclass(frozen=True)
class LearnedScores:
    """Scores from what was learned, one column per tag, each from one source."""

    tags: tuple[str, ...]
    sources: tuple[str, ...]
    scores: np.ndarray


def learned_scores(
    head: Head | None,
    propagator: Propagator,
    embeddings: np.ndarray,
    query_ids: Iterable[int] | None = None,
) -> LearnedScores:
    """Head and refinement together: the head's tags blended, every other user tag refined.

    The backbone's own ImageNet and hierarchy suggestions are not mixed in
    here; they stay stored under their sources and the review shows each tag's
    best score, so where a user tag is also an ImageNet class both have a say.
    """
    refine = propagate(propagator, embeddings, query_ids=query_ids)
    head_tags = head.tags if head is not None else ()
    rest = [j for j, t in enumerate(propagator.tags) if t not in set(head_tags)]
    tags = tuple(propagator.tags[j] for j in rest)
    scores = [refine[:, rest]]
    if head is not None:
        p_head = head_probabilities(head, embeddings)
        col = {t: j for j, t in enumerate(propagator.tags)}
        p_ref = np.stack(
            [refine[:, col[t]] if t in col else p_head[:, k] for k, t in enumerate(head.tags)],
            axis=1,
        )
        scores.append(combine(p_head, p_ref, blend=head.blend))
        tags += head.tags
    sources = ("refine",) * len(rest) + ("head",) * len(head_tags)
    return LearnedScores(tags, sources, np.concatenate(scores, axis=1).astype(np.float32))


def suggestions_for(
    store: Store, embedding: np.ndarray, *, backbone: str, top_k: int = STORE_TOP_K
) -> list[TagScore]:
    """Refinement and head suggestions for one photo not in the store (the bot's path)."""
    propagator = fit_propagator(collect_evidence(store, backbone=backbone))
    learned = learned_scores(latest_head(store, backbone=backbone), propagator, embedding[None])
    out = [
        TagScore(t, float(s), src)  # type: ignore[arg-type]
        for t, src, s in zip(learned.tags, learned.sources, learned.scores[0], strict=True)
        if s >= STORE_FLOOR
    ]
    return sorted(out, key=lambda s: -s.score)[:top_k]


# -- comparing backbones ----------------------------------------------------------------


@dataclass(frozen=True)
class ComparisonRow:
    """One backbone's result on the same labelled photos (``phototagger compare``)."""

    backbone: str
    status: str
    mean_average_precision: float | None = None
    micro_f1: float | None = None
    macro_f1: float | None = None
    binary_accuracy: float | None = None
    baseline_map: float | None = None
    trainable_parameters: int = 0
    frozen_parameters: int = 0
    photos: int = 0
    photos_per_second: float = 0.0
    train_seconds: float = 0.0


def compare_backbones(
    labels_csv,
    *,
    backbones: list[str] | None = None,
    kind: HeadKind = "logistic",
    device: str = "cpu",
    cache_dir,
    progress: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[ComparisonRow]:
    """Tag the labelled photos with each backbone and train and measure a head on each.

    Every backbone sees the same photos and the same tags, and each head is
    measured on cross-fitted held-out scores, so the rows compare fairly. A
    backbone whose weights are not here gets a row saying so, not an error.
    """
    from core.backbones import availability, get_backbone_spec, list_backbones
    from core.labels import read_labels_csv
    from core.pipeline import Tagger, tag_photos
    from core.refine import evidence_from_states
    from core.sources import file_ref

    labelled = [(p, tags) for p, tags in read_labels_csv(labels_csv) if p.is_file() and tags]
    refs = [file_ref(p) for p, _ in labelled]
    specs = [get_backbone_spec(n) for n in backbones] if backbones else list_backbones()
    rows = []
    for spec in specs:
        if cancel is not None and cancel.is_set():
            break
        status = availability(spec)
        if status != "available":
            rows.append(ComparisonRow(spec.name, status))
            continue
        if progress is not None:
            progress(f"{spec.name}: tagging {len(refs)} photos")
        try:
            tagger = Tagger.open(spec, device=device, cache_dir=cache_dir)
        except PhotoTaggerError as exc:
            rows.append(ComparisonRow(spec.name, str(exc)))
            continue
        with Store(":memory:") as store:
            summary = tag_photos(refs, tagger=tagger, store=store, device=device, cancel=cancel)
            ids, matrix = store.embeddings(backbone=spec.name)
            by_uri = {ref.uri: tags for ref, (_, tags) in zip(refs, labelled, strict=True)}
            states = {pid: dict.fromkeys(by_uri[store.photo(pid).uri], "add") for pid in ids}
            evidence = evidence_from_states(states, ids, matrix)
            baseline = backbone_scores(store, evidence.photo_ids, evidence.tags, backbone=spec.name)
        if progress is not None:
            progress(f"{spec.name}: training a {kind} head")
        head = train_head(
            evidence,
            backbone=spec.name,
            options=TrainOptions(kind=kind),
            baseline=baseline,
            cancel=cancel,
        )
        m = head.metrics
        rows.append(
            ComparisonRow(
                spec.name,
                "ok",
                m.mean_average_precision,
                m.micro_f1,
                m.macro_f1,
                m.accuracy,
                m.baseline_map,
                head.trainable_parameters,
                int(spec.params_m * 1_000_000),
                len(ids),
                (summary.tagged + summary.failed) / summary.elapsed if summary.elapsed else 0.0,
                m.seconds,
            )
        )
    return rows


TABLE_COLUMNS = (
    ("backbone", "backbone", "{}"),
    ("mAP", "mean_average_precision", "{:.3f}"),
    ("micro F1", "micro_f1", "{:.3f}"),
    ("macro F1", "macro_f1", "{:.3f}"),
    ("bin. acc.", "binary_accuracy", "{:.3f}"),
    ("backbone-only mAP", "baseline_map", "{:.3f}"),
    ("trainable", "trainable_parameters", "{:,}"),
    ("frozen", "frozen_parameters", "{:,}"),
    ("photos/s", "photos_per_second", "{:.1f}"),
    ("train s", "train_seconds", "{:.1f}"),
    ("status", "status", "{}"),
)


def format_table(rows: list[ComparisonRow]) -> str:
    """The comparison as aligned text, one backbone a line."""
    cells = [[name for name, _, _ in TABLE_COLUMNS]]
    for row in rows:
        ok = row.status == "ok"
        cells.append(
            [
                fmt.format(getattr(row, attr))
                if ok and getattr(row, attr) is not None
                else (str(getattr(row, attr)) if attr in ("backbone", "status") else "-")
                for _, attr, fmt in TABLE_COLUMNS
            ]
        )
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    )


def write_table_csv(rows: list[ComparisonRow], path) -> None:
    """The comparison as CSV, full precision, one backbone a row."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0]) if rows else ["backbone"]))
        writer.writeheader()
        for row in rows:
            writer.writerow(asdict(row))


__all__ = [
    "ComparisonRow",
    "Head",
    "HeadMetrics",
    "TagMetrics",
    "TrainOptions",
    "TrainProgress",
    "TrainingCancelled",
    "TrainingError",
    "backbone_scores",
    "combine",
    "compare_backbones",
    "format_table",
    "head_probabilities",
    "latest_head",
    "learned_scores",
    "list_heads",
    "mean_average_precision",
    "refresh_suggestions",
    "save_head",
    "suggestions_for",
    "train_from_store",
    "train_head",
    "write_table_csv",
]
