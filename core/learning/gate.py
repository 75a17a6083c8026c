"""Per tag, whether a learned score may speak: held-out evidence against the backbone's own.

Every reviewed photo is scored by a learner that never saw it (cross-fitting);
per tag, those scores are set beside what the backbone alone gave the same
photos. A tag is kept only when:

- it has at least :data:`MIN_POSITIVES` confirmed photos (a user-only tag needs
  its own evidence before anything is suggested);
- some learned score is right at least :data:`PRECISION` of the time from there
  on (the tag's threshold, chosen for precision, not F1);
- what the person would then see (the learned suggestion over its threshold,
  else the backbone's) ranks the tag's photos better than the backbone alone,
  by :data:`MARGIN` of average precision, and not by luck of which photos were
  reviewed: it must also rank them better in :data:`CONFIDENCE` of paired
  bootstrap resamples of those photos. A margin alone let a tag through on a
  few lucky photos and then rank unseen photos worse than the backbone.

Otherwise the backbone's suggestion stands. A kept tag's learned score is shown
as the held-out precision of its score (a learned ``#dog 90%`` was right nine
times in ten on photos its learner never saw).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.engine.vocabulary import hashtag
from core.learning.metrics import average_precision, precision_curve, precision_threshold

MIN_POSITIVES = 5
PRECISION = 0.8
MARGIN = 0.02
CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 100


@dataclass(frozen=True)
class TagGate:
    """One tag's held-out verdict.

    Attributes:
        tag: The tag.
        kept: Whether the learned score is used for it.
        reason: Why, in words.
        positives: Reviewed photos confirmed with it.
        threshold: Learned score from which it is suggested (kept tags).
        learned_ap: Held-out AP of what is shown with learning (None: not measured).
        backbone_ap: Held-out AP of the backbone alone.
        found: Confirmed photos it would show at the display threshold, with learning.
        was: The same for the backbone alone.
        wrong: Photos without it that would show it, with learning.
        was_wrong: The same for the backbone alone.
        knots: (score, precision) pairs that turn a learned score into its confidence.
    """

    tag: str
    kept: bool
    reason: str
    positives: int
    threshold: float = 1.0
    learned_ap: float | None = None
    backbone_ap: float | None = None
    found: int = 0
    was: int = 0
    wrong: int = 0
    was_wrong: int = 0
    knots: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())

    def sentence(self) -> str:
        """Before and after in plain words: ``#dog: found 12 of 13, was 9 of 13``."""
        name = hashtag(self.tag) or self.tag
        if not self.kept:
            return f"{name}: unchanged ({self.reason})"
        text = f"{name}: found {self.found} of {self.positives}, was {self.was} of {self.positives}"
        if self.wrong or self.was_wrong:
            text += f"; wrongly on {self.wrong}, was {self.was_wrong}"
        return text


def confidence(gate: TagGate, scores: np.ndarray) -> np.ndarray:
    """Learned scores as held-out precision (0 under the tag's threshold)."""
    xs, ps = gate.knots
    if not gate.kept or not xs:
        return np.zeros_like(scores, dtype=np.float32)
    out = np.interp(scores, xs, ps)
    return np.where(scores >= gate.threshold, out, 0.0).astype(np.float32)


def judge_tag(
    tag: str,
    labels: np.ndarray,
    learned: np.ndarray,
    backbone: np.ndarray,
    *,
    display_threshold: float,
    min_positives: int = MIN_POSITIVES,
    precision: float = PRECISION,
    margin: float = MARGIN,
) -> TagGate:
    """One tag's verdict from held-out scores of the photos where it is known."""
    y = labels > 0
    positives = int(y.sum())
    backbone_ap = average_precision(y, backbone) if positives else float("nan")
    b_ap = None if np.isnan(backbone_ap) else round(float(backbone_ap), 4)
    was = int((y & (backbone >= display_threshold)).sum())
    was_wrong = int((~y & (backbone >= display_threshold)).sum())
    common = {"positives": positives, "backbone_ap": b_ap, "was": was, "was_wrong": was_wrong}
    if positives < min_positives:
        return TagGate(
            tag, False, f"{positives} confirmed photos, {min_positives} needed", **common
        )
    found_at = precision_threshold(y, learned, precision=precision)
    if found_at is None:
        return TagGate(tag, False, f"never right {precision:.0%} of the time", **common)
    threshold = found_at[0]
    knots = precision_curve(y, learned)
    draft = TagGate(tag, True, "", positives, threshold, knots=(tuple(knots[0]), tuple(knots[1])))
    shown = np.maximum(confidence(draft, learned), backbone)
    learned_ap = average_precision(y, shown)
    found = int((y & (shown >= display_threshold)).sum())
    wrong = int((~y & (shown >= display_threshold)).sum())
    better = learned_ap >= backbone_ap + margin
    kept = better and reliably_better(y, shown, backbone)
    if kept:
        reason = "better on held-out photos"
    elif better:
        reason = "better on too few photos to be sure"
    else:
        reason = "the backbone ranks it as well"
    return TagGate(
        tag,
        kept,
        reason,
        positives,
        threshold,
        round(float(learned_ap), 4),
        b_ap,
        found if kept else was,
        was,
        wrong if kept else was_wrong,
        was_wrong,
        draft.knots,
    )


def reliably_better(
    labels: np.ndarray,
    scores: np.ndarray,
    baseline: np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    rounds: int = BOOTSTRAP_ROUNDS,
    seed: int = 0,
) -> bool:
    """Whether ``scores`` out-rank ``baseline`` in ``confidence`` of paired bootstrap resamples.

    Each round draws the photos with replacement and compares both average
    precisions on the same draw; draws without a positive or a negative say nothing.
    """
    y = np.asarray(labels) > 0
    rng = np.random.default_rng(seed)
    wins = counted = 0
    for _ in range(rounds):
        pick = rng.integers(0, len(y), len(y))
        if y[pick].all() or not y[pick].any():
            continue
        counted += 1
        wins += average_precision(y[pick], scores[pick]) > average_precision(
            y[pick], baseline[pick]
        )
    return counted > 0 and wins >= confidence * counted


def judge(
    tags: tuple[str, ...],
    labels: np.ndarray,
    known: np.ndarray,
    learned: np.ndarray,
    backbone: np.ndarray,
    *,
    display_threshold: float,
) -> tuple[TagGate, ...]:
    """Every tag's verdict; columns of the matrices follow ``tags``."""
    return tuple(
        judge_tag(
            tag,
            labels[known[:, j], j],
            learned[known[:, j], j],
            backbone[known[:, j], j],
            display_threshold=display_threshold,
        )
        for j, tag in enumerate(tags)
    )
