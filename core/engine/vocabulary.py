"""Tags and hashtags in the words people give their photos.

The vocabulary is two reviewed tables (``resources/photo_tags.csv`` and
``resources/tag_rules.csv``, compiled by ``resources/build_vocabulary.py``):

- every backbone class counts towards zero or more **everyday tags** (dog,
  sheep, train, beach), each scored as the sum of its classes' probabilities,
  so a photo the backbone splits between three terriers still gets a confident
  ``#dog``;
- the class itself stays as a **fine-grained tag** (``golden retriever``),
  secondary: it ranks after the everyday tags and after them in completion;
- the rules give each everyday tag parents (dog -> pet -> animal, for
  hierarchical keywords), a threshold and a priority, as a photo manager's
  label rules do. A **general tag** (animal, vehicle, sport...) is shown only
  when no tag below it is: ``#dog`` says more than ``#animal``, and ``#animal``
  still helps on a photo the backbone cannot pin down;
- a photo on which nothing clears its threshold still gets its best tags,
  marked **low confidence**.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Literal

import numpy as np

TagSource = Literal["imagenet", "hierarchy", "refine", "head", "user", "faces"]
"""Where a suggestion came from: ``imagenet`` a fine-grained class tag, ``hierarchy``
an everyday or general tag from the vocabulary, ``refine``/``head`` learning,
``faces`` the face detector, ``user`` the person."""

BACKBONE_SOURCES = ("imagenet", "hierarchy")
"""Sources read off the backbone's logits; the vocabulary's per-tag rules apply to them."""

STORE_FLOOR = 0.001
"""Suggestions under this score are not stored. Low, because a right tag far down the
list still ranks the photo above those where the tag is absent (search, learning)."""
STORE_TOP_K = 50
"""At most this many suggestions per photo and source are stored, so that a right
tag ranked far down is still there for learning and for a lower threshold."""
DEFAULT_THRESHOLD = 0.2
"""The app's default threshold: a rule's own threshold holds at this setting."""
FALLBACK_TAGS = 2
"""How many low-confidence tags a photo gets when nothing clears its threshold."""
FINE_PRIORITY = 10
"""Fine-grained tags rank after every everyday tag (priority 50 unless a rule says)."""
OWN_PRIORITY = 50
"""Tags outside the vocabulary (the person's own, learned ones) rank with everyday tags."""


@dataclass(frozen=True)
class TagScore:
    """One suggested tag for a photo.

    ``low_confidence`` marks a tag shown only because nothing on the photo
    cleared its threshold (set by :func:`rank`, never stored).
    """

    tag: str
    score: float
    source: TagSource
    low_confidence: bool = False


@dataclass(frozen=True)
class TagRule:
    """How one everyday or general tag is scored and shown."""

    tag: str
    parents: tuple[str, ...]
    threshold: float
    priority: int
    general: bool


def normalise_tag(text: str) -> str:
    """A user's tag as stored: trimmed, inner spaces collapsed, a leading '#' dropped."""
    text = unicodedata.normalize("NFC", text).strip().lstrip("#").strip()
    return re.sub(r"\s+", " ", text)


def hashtag(tag: str, *, style: Literal["joined", "camel", "snake"] = "joined") -> str:
    """Render a tag as a hashtag: ``golden retriever`` -> ``#goldenretriever``.

    Letters and digits of any script are kept; everything else separates words.
    """
    words = [w for w in re.split(r"[^\w]+|_", normalise_tag(tag)) if w]
    if style == "camel":
        body = "".join(w[:1].upper() + w[1:] for w in words)
    elif style == "snake":
        body = "_".join(w.lower() for w in words)
    else:
        body = "".join(w.lower() for w in words)
    return f"#{body}" if body else ""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 for stable sums over many classes."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


class Vocabulary:
    """The backbone's classes read as everyday, general and fine-grained tags."""

    def __init__(self, table: dict) -> None:
        classes = table["classes"]
        self.default_threshold: float = float(table.get("default_threshold", DEFAULT_THRESHOLD))
        self.class_tags: tuple[str, ...] = tuple(c["name"] for c in classes)
        """The backbone's class names in class order (ImageNet's, unique)."""
        self.rules: dict[str, TagRule] = {
            r["tag"]: TagRule(
                r["tag"], tuple(r["parents"]), r["threshold"], r["priority"], r["general"]
            )
            for r in table["tags"]
        }
        self.tags: tuple[str, ...] = tuple(self.rules)
        """Everyday and general tags, in the rules' order."""
        self.fine_tags: tuple[str, ...] = tuple(
            dict.fromkeys(c["fine"] for c in classes if c["fine"])
        )
        self._class_everyday = [tuple(c["everyday"]) for c in classes]
        self._fine_parent = {}
        for c in classes:
            if c["fine"] and c["everyday"]:
                self._fine_parent.setdefault(c["fine"], c["everyday"][0])
        tag_index = {t: i for i, t in enumerate(self.tags)}
        fine_index = {t: i for i, t in enumerate(self.fine_tags)}
        self._tag_matrix = np.zeros((len(classes), len(self.tags)), dtype=np.float64)
        self._fine_matrix = np.zeros((len(classes), len(self.fine_tags)), dtype=np.float64)
        for row, c in enumerate(classes):
            for tag in c["everyday"]:
                for t in (tag, *self.ancestors(tag)):
                    self._tag_matrix[row, tag_index[t]] = 1.0
            if c["fine"]:
                self._fine_matrix[row, fine_index[c["fine"]]] = 1.0
        self._descendants: dict[str, set[str]] = {t: set() for t in self.tags}
        for tag in self.tags:
            for above in self.ancestors(tag):
                self._descendants[above].add(tag)
        for fine, parent in self._fine_parent.items():
            for above in (parent, *self.ancestors(parent)):
                self._descendants[above].add(fine)

    @classmethod
    def bundled(cls) -> Vocabulary:
        """The tables compiled by ``resources/build_vocabulary.py`` (loaded once)."""
        return _bundled()

    def ancestors(self, tag: str) -> tuple[str, ...]:
        """Every tag above ``tag`` in the rules (all parents, nearest first)."""
        seen: list[str] = []
        frontier = list(self.rules[tag].parents) if tag in self.rules else []
        while frontier:
            parent = frontier.pop(0)
            if parent not in seen:
                seen.append(parent)
                frontier.extend(self.rules[parent].parents)
        return tuple(seen)

    def descendants(self, tag: str) -> frozenset[str]:
        """Every everyday and fine-grained tag below ``tag``."""
        return frozenset(self._descendants.get(tag, ()))

    @cached_property
    def all_tags(self) -> tuple[str, ...]:
        """Every tag the vocabulary knows, for completion: everyday first, then fine-grained."""
        return (*sorted(self.tags, key=str.lower), *sorted(self.fine_tags, key=str.lower))

    def is_fine(self, tag: str) -> bool:
        return tag not in self.rules and tag in self._fine_set

    @cached_property
    def _fine_set(self) -> frozenset[str]:
        return frozenset(self.fine_tags)

    def hierarchy_path(self, tag: str) -> tuple[str, ...]:
        """General-to-specific path along first parents, e.g. ``animal > pet > dog > pug``."""
        if tag in self.rules:
            path = [tag]
            while self.rules[path[0]].parents:
                path.insert(0, self.rules[path[0]].parents[0])
            return tuple(path)
        parent = self._fine_parent.get(tag)
        return (*self.hierarchy_path(parent), tag) if parent else (tag,)

    def threshold_for(self, score: TagScore, threshold: float) -> float:
        """The score ``score`` must reach at the person's ``threshold``.

        A rule's threshold is its tag's own at the default setting, and moves with
        the person's threshold in proportion; other tags and sources take it as is.
        """
        rule = self.rules.get(score.tag)
        if rule is None or score.source not in BACKBONE_SOURCES:
            return threshold
        return rule.threshold * threshold / self.default_threshold

    def priority_for(self, tag: str) -> int:
        """Order among shown tags, before score: higher first."""
        rule = self.rules.get(tag)
        if rule is not None:
            return rule.priority
        return FINE_PRIORITY if tag in self._fine_set else OWN_PRIORITY

    def suggest(
        self,
        logits: np.ndarray,
        *,
        floor: float = STORE_FLOOR,
        top_k: int = STORE_TOP_K,
    ) -> list[list[TagScore]]:
        """Stored-level suggestions per photo from a (batch, classes) logits array, best first.

        Fine-grained tags (source ``imagenet``) and everyday and general tags
        (source ``hierarchy``) are each cut to ``top_k`` over ``floor``.
        """
        probs = softmax(logits)
        fine = probs @ self._fine_matrix
        everyday = np.clip(probs @ self._tag_matrix, 0.0, 1.0)
        return [
            _top(row_t, self.tags, "hierarchy", floor, top_k)
            + _top(row_f, self.fine_tags, "imagenet", floor, top_k)
            for row_t, row_f in zip(everyday, fine, strict=True)
        ]

    def rank(
        self,
        suggestions: Iterable[TagScore],
        *,
        threshold: float,
        top_k: int,
        present: Iterable[str] = (),
        fallback: bool = True,
    ) -> list[TagScore]:
        """What a person sees of a photo's suggestions.

        The best score per tag; those over their threshold (see
        :meth:`threshold_for`); a general tag only where no tag below it is
        shown or ``present`` (already on the photo); ordered by priority, then
        score; at most ``top_k``. With ``fallback``, a photo on which nothing
        clears gets its best :data:`FALLBACK_TAGS` tags, marked low confidence.
        """
        best = best_scores(suggestions)
        shown = [s for s in best.values() if s.score >= self.threshold_for(s, threshold)]
        on_photo = {s.tag for s in shown} | set(present)
        shown = [s for s in shown if not self._hidden_general(s.tag, on_photo)]
        shown.sort(key=lambda s: (-self.priority_for(s.tag), -s.score, s.tag))
        if shown or not fallback or not best or top_k < 1:
            return shown[:top_k]
        return self._fallback(best, threshold=threshold, k=min(top_k, FALLBACK_TAGS))

    def _hidden_general(self, tag: str, on_photo: set[str]) -> bool:
        return self._is_general(tag) and not self._descendants[tag].isdisjoint(on_photo)

    def _fallback(self, best: dict[str, TagScore], *, threshold: float, k: int) -> list[TagScore]:
        # The tags closest to their thresholds. General tags never stand in: hundreds of
        # classes each give #animal a little, so a photo the backbone cannot read would
        # get #animal from that alone.
        candidates = sorted(
            (s for s in best.values() if not self._is_general(s.tag)),
            key=lambda s: (-s.score / max(self.threshold_for(s, threshold), 1e-9), s.tag),
        )
        return [dataclasses.replace(s, low_confidence=True) for s in candidates[:k]]

    def _is_general(self, tag: str) -> bool:
        rule = self.rules.get(tag)
        return rule is not None and rule.general


@functools.cache
def _bundled() -> Vocabulary:
    text = resources.files("resources").joinpath("vocabulary.json").read_text(encoding="utf-8")
    return Vocabulary(json.loads(text))


def _top(scores: np.ndarray, tags: tuple[str, ...], source: TagSource, floor: float, k: int):
    order = np.argsort(-scores, kind="stable")[:k]
    return [TagScore(tags[i], float(scores[i]), source) for i in order if scores[i] >= floor]


def best_scores(suggestions: Iterable[TagScore]) -> dict[str, TagScore]:
    """The best-scoring suggestion of each tag, whatever its source."""
    best: dict[str, TagScore] = {}
    for s in suggestions:
        if s.tag not in best or s.score > best[s.tag].score:
            best[s.tag] = s
    return best


def rank(
    suggestions: Iterable[TagScore],
    *,
    threshold: float,
    top_k: int,
    present: Iterable[str] = (),
    fallback: bool = True,
    vocabulary: Vocabulary | None = None,
) -> list[TagScore]:
    """What a person sees: :meth:`Vocabulary.rank` with the bundled vocabulary by default."""
    return (vocabulary or Vocabulary.bundled()).rank(
        suggestions, threshold=threshold, top_k=top_k, present=present, fallback=fallback
    )
