"""Class tags, general tags summed over WordNet, hashtags, ranking."""

from __future__ import annotations

import numpy as np
import pytest

from core.vocabulary import TagScore, Vocabulary, hashtag, normalise_tag, rank


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.bundled()


def test_table_covers_imagenet_with_unique_readable_tags(vocab):
    assert len(vocab.class_tags) == 1000
    assert len(set(t.lower() for t in vocab.class_tags)) == 1000
    assert vocab.class_tags[207] == "golden retriever"
    assert "construction crane" in vocab.class_tags and "crane" in vocab.class_tags


def test_general_tag_is_the_sum_of_its_classes(vocab):
    dogs = [i for i, t in enumerate(vocab.class_tags) if "dog" in vocab.hierarchy_path(t)]
    assert 100 < len(dogs) < 140  # ImageNet has about 120 dog breeds
    logits = np.full((1, 1000), -20.0)
    for i in dogs[:3]:  # three terriers at one third each
        logits[0, i] = 5.0
    (suggestions,) = vocab.suggest(logits)
    scores = {s.tag: s for s in suggestions}
    assert (
        scores["dog"].score == pytest.approx(1.0, abs=1e-6) and scores["dog"].source == "hierarchy"
    )
    assert scores["animal"].score == pytest.approx(1.0, abs=1e-6)
    assert scores[vocab.class_tags[dogs[0]]].score == pytest.approx(1 / 3, abs=1e-6)
    assert "vehicle" not in scores


def test_hierarchy_paths(vocab):
    assert vocab.hierarchy_path("golden retriever") == (
        "animal",
        "mammal",
        "dog",
        "golden retriever",
    )
    assert vocab.hierarchy_path("dog") == ("animal", "mammal", "dog")
    assert vocab.hierarchy_path("grandma") == ("grandma",)


def test_suggest_respects_floor_and_top_k(vocab):
    logits = np.random.default_rng(1).normal(size=(4, 1000)) * 3
    for row in vocab.suggest(logits, floor=0.05, top_k=3):
        for source in ("imagenet", "hierarchy"):
            part = [s for s in row if s.source == source]
            assert len(part) <= 3 and all(s.score >= 0.05 for s in part)
            assert part == sorted(part, key=lambda s: -s.score)


@pytest.mark.parametrize(
    "tag,style,expected",
    [
        ("golden retriever", "joined", "#goldenretriever"),
        ("golden retriever", "camel", "#GoldenRetriever"),
        ("golden retriever", "snake", "#golden_retriever"),
        ("Shih-Tzu", "joined", "#shihtzu"),
        ("  #café crème ", "joined", "#cafécrème"),
        ("paris 2024", "joined", "#paris2024"),
        ("=cmd|' /C calc'!A0", "joined", "#cmdccalca0"),
        ("!!!", "joined", ""),
    ],
)
def test_hashtags(tag, style, expected):
    assert hashtag(tag, style=style) == expected


def test_normalise_tag():
    assert normalise_tag("  #Grandma   Rose ") == "Grandma Rose"


def test_rank_keeps_best_score_per_tag():
    items = [
        TagScore("dog", 0.4, "hierarchy"),
        TagScore("dog", 0.7, "refine"),
        TagScore("cat", 0.1, "imagenet"),
        TagScore("pug", 0.5, "imagenet"),
    ]
    ranked = rank(items, threshold=0.2, top_k=5)
    assert [(s.tag, s.source) for s in ranked] == [("dog", "refine"), ("pug", "imagenet")]
    assert len(rank(items, threshold=0.0, top_k=1)) == 1
