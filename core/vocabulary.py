"""Tags and hashtags: ImageNet classes to readable tags, WordNet concepts to general tags.

A general tag (dog, vehicle, food) is scored as the sum of the probabilities of
the ImageNet classes below it in WordNet, so a photo the backbone splits between
three terriers still gets a confident ``#dog``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import Literal

import numpy as np

TagSource = Literal["imagenet", "hierarchy", "refine", "head", "user"]

STORE_FLOOR = 0.02
"""Suggestions under this score are not stored: nobody reviews a 1% guess."""
STORE_TOP_K = 10
"""At most this many suggestions per photo and source are stored."""


@dataclass(frozen=True)
class TagScore:
    """One suggested tag for a photo."""

    tag: str
    score: float
    source: TagSource


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
    """The ImageNet class tags and the general concepts above them."""

    def __init__(self, table: dict) -> None:
        self.class_tags: tuple[str, ...] = tuple(c["tag"] for c in table["classes"])
        self.concept_tags: tuple[str, ...] = tuple(c["tag"] for c in table["concepts"])
        self._class_concepts = [tuple(c["concepts"]) for c in table["classes"]]
        self._concept_paths = {c["tag"]: tuple(c["path"]) for c in table["concepts"]}
        index = {tag: i for i, tag in enumerate(self.concept_tags)}
        matrix = np.zeros((len(self.class_tags), len(self.concept_tags)), dtype=np.float64)
        for row, concepts in enumerate(self._class_concepts):
            for concept in concepts:
                matrix[row, index[concept]] = 1.0
        self._matrix = matrix

    @classmethod
    def bundled(cls) -> Vocabulary:
        """The table built by ``resources/build_vocabulary.py``."""
        text = resources.files("resources").joinpath("vocabulary.json").read_text(encoding="utf-8")
        return cls(json.loads(text))

    @cached_property
    def all_tags(self) -> tuple[str, ...]:
        """Every tag the vocabulary knows, for completion."""
        return tuple(sorted({*self.class_tags, *self.concept_tags}, key=str.lower))

    def hierarchy_path(self, tag: str) -> tuple[str, ...]:
        """General-to-specific path for a tag, e.g. ``animal > mammal > dog > pug``."""
        if tag in self._concept_paths:
            return self._concept_paths[tag]
        try:
            row = self.class_tags.index(tag)
        except ValueError:
            return (tag,)
        concepts = self._class_concepts[row]
        deepest = concepts[-1] if concepts else None
        return (*self._concept_paths[deepest], tag) if deepest else (tag,)

    def suggest(
        self,
        logits: np.ndarray,
        *,
        floor: float = STORE_FLOOR,
        top_k: int = STORE_TOP_K,
    ) -> list[list[TagScore]]:
        """Suggestions per photo from a (batch, 1000) logits array, best first.

        Class tags and general tags are each cut to ``top_k`` over ``floor``.
        """
        probs = softmax(logits)
        concept_scores = np.clip(probs @ self._matrix, 0.0, 1.0)
        return [
            _top(row_p, self.class_tags, "imagenet", floor, top_k)
            + _top(row_c, self.concept_tags, "hierarchy", floor, top_k)
            for row_p, row_c in zip(probs, concept_scores, strict=True)
        ]


def _top(scores: np.ndarray, tags: tuple[str, ...], source: TagSource, floor: float, k: int):
    order = np.argsort(-scores)[:k]
    return [TagScore(tags[i], float(scores[i]), source) for i in order if scores[i] >= floor]


def rank(suggestions: list[TagScore], *, threshold: float, top_k: int) -> list[TagScore]:
    """What a person sees: the best score per tag, over ``threshold``, at most ``top_k``."""
    best: dict[str, TagScore] = {}
    for s in suggestions:
        if s.score >= threshold and (s.tag not in best or s.score > best[s.tag].score):
            best[s.tag] = s
    return sorted(best.values(), key=lambda s: (-s.score, s.tag))[:top_k]
