"""The photo vocabulary: reviewed tables, everyday tags summed over classes, ranking, hashtags."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from core.engine.vocabulary import (
    STORE_TOP_K,
    TagScore,
    Vocabulary,
    hashtag,
    normalise_tag,
    rank,
)
from tests.conftest import shared

RESOURCES = Path(__file__).resolve().parents[2] / "resources"


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.bundled()


def class_rows() -> list[dict]:
    with open(RESOURCES / "photo_tags.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def everyday_of(vocab: Vocabulary, name: str) -> tuple[str, ...]:
    return vocab._class_everyday[vocab.class_tags.index(name)]


def load_build_script():
    spec = importlib.util.spec_from_file_location(
        "build_vocabulary", RESOURCES / "build_vocabulary.py"
    )
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def logits_for(vocab: Vocabulary, weights: dict[str, float]) -> np.ndarray:
    """Logits whose softmax puts ``weights`` (by ImageNet class name) on those classes."""
    logits = np.full((1, len(vocab.class_tags)), -30.0)
    for name, weight in weights.items():
        logits[0, vocab.class_tags.index(name)] = np.log(weight)
    return logits


def test_every_class_maps_or_says_why():
    rows = class_rows()
    assert [int(r["index"]) for r in rows] == list(range(1000))
    for row in rows:
        assert row["everyday"].strip() or row["reason"].strip(), row
    assert sum(bool(r["everyday"]) for r in rows) > 700


def test_compiled_json_matches_the_reviewed_tables():
    build = load_build_script()
    table = build.build(shared("wordnet"))
    bundled = (RESOURCES / "vocabulary.json").read_text(encoding="utf-8")
    assert table == json.loads(bundled), "run python resources/build_vocabulary.py"


def test_build_rejects_an_unmapped_class_without_reason(tmp_path):
    build = load_build_script()
    rows = class_rows()
    rows[348]["everyday"] = ""
    with open(tmp_path / "photo_tags.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (tmp_path / "tag_rules.csv").write_text((RESOURCES / "tag_rules.csv").read_text())
    with pytest.raises(build.TableError, match="ram"):
        build.build(shared("wordnet"), tmp_path)


def test_everyday_words(vocab):
    assert everyday_of(vocab, "ram") == ("sheep",)
    assert everyday_of(vocab, "cellular telephone") == ("phone",)
    assert everyday_of(vocab, "studio couch") == ("sofa",)
    assert everyday_of(vocab, "kite") == ("bird",)
    assert "kite" not in vocab.all_tags
    for train in (
        "bullet train",
        "electric locomotive",
        "steam locomotive",
        "freight car",
        "passenger car",
    ):
        assert everyday_of(vocab, train) == ("train",), train
    # The everyday word says it all: no fine-grained tag beside it.
    for word in ("ram", "cellular telephone", "studio couch"):
        assert vocab.class_tags.index(word) >= 0
        assert word not in vocab.fine_tags


def test_no_misleading_wordnet_parents(vocab):
    assert "container" not in vocab.all_tags and "structure" not in vocab.all_tags
    assert vocab.hierarchy_path("school bus") == ("vehicle", "bus", "school bus")


def test_everyday_tag_is_the_sum_of_its_classes(vocab):
    logits = logits_for(vocab, {"cairn": 1 / 3, "Border terrier": 1 / 3, "Norfolk terrier": 1 / 3})
    (suggestions,) = vocab.suggest(logits)
    scores = {s.tag: s for s in suggestions}
    assert scores["dog"].score == pytest.approx(1.0, abs=1e-6)
    assert scores["dog"].source == "hierarchy"
    assert scores["animal"].score == pytest.approx(1.0, abs=1e-6)
    assert scores["cairn terrier"].score == pytest.approx(1 / 3, abs=1e-6)
    assert scores["cairn terrier"].source == "imagenet"
    assert "vehicle" not in scores


def test_hierarchy_paths(vocab):
    assert vocab.hierarchy_path("golden retriever") == ("animal", "pet", "dog", "golden retriever")
    assert vocab.hierarchy_path("dog") == ("animal", "pet", "dog")
    assert vocab.hierarchy_path("portrait") == ("people", "portrait")
    assert vocab.hierarchy_path("grandma") == ("grandma",)


def test_people_tags_are_known_without_classes(vocab):
    for tag in ("people", "group", "portrait"):
        assert tag in vocab.rules and tag in vocab.all_tags


def test_suggest_respects_floor_and_top_k(vocab):
    logits = np.random.default_rng(1).normal(size=(4, 1000)) * 3
    for row in vocab.suggest(logits, floor=0.05, top_k=3):
        for source in ("imagenet", "hierarchy"):
            part = [s for s in row if s.source == source]
            assert len(part) <= 3 and all(s.score >= 0.05 for s in part)
            assert part == sorted(part, key=lambda s: -s.score)


def test_stores_more_than_ten_suggestions_per_source(vocab):
    logits = np.random.default_rng(2).normal(size=(1, 1000))  # a photo nobody can read
    (row,) = vocab.suggest(logits)
    assert STORE_TOP_K > 10
    assert len([s for s in row if s.source == "imagenet"]) > 10
    assert len([s for s in row if s.source == "hierarchy"]) > 10


def test_general_tag_only_where_nothing_below_it_shows(vocab):
    dog = [TagScore("animal", 0.9, "hierarchy"), TagScore("dog", 0.8, "hierarchy")]
    assert [s.tag for s in vocab.rank(dog, threshold=0.2, top_k=8)] == ["dog"]
    unsure = [
        TagScore("animal", 0.7, "hierarchy"),
        TagScore("dog", 0.15, "hierarchy"),
        TagScore("bird", 0.15, "hierarchy"),
    ]
    assert [s.tag for s in vocab.rank(unsure, threshold=0.2, top_k=8)] == ["animal"]
    # A confirmed tag below it hides it too.
    assert vocab.rank(unsure, threshold=0.2, top_k=8, present=["cat"], fallback=False) == []


def test_tag_thresholds_follow_the_persons_threshold(vocab):
    assert vocab.rules["animal"].threshold > vocab.default_threshold
    at = TagScore("animal", 0.4, "hierarchy")
    assert vocab.rank([at], threshold=0.2, top_k=8, fallback=False) == []
    assert vocab.rank([at], threshold=0.1, top_k=8, fallback=False) == [at]
    # Learned and the person's own sources take the person's threshold as it is.
    learned = TagScore("animal", 0.4, "refine")
    assert vocab.rank([learned], threshold=0.2, top_k=8) == [learned]


def test_fine_grained_ranks_after_everyday(vocab):
    items = [
        TagScore("golden retriever", 0.9, "imagenet"),
        TagScore("dog", 0.6, "hierarchy"),
        TagScore("beach", 0.3, "hierarchy"),
    ]
    shown = [s.tag for s in vocab.rank(items, threshold=0.2, top_k=8)]
    assert shown == ["dog", "beach", "golden retriever"]


def test_fine_grained_completes_after_everyday(vocab):
    tags = list(vocab.all_tags)
    assert tags.index("dog") < tags.index("golden retriever")
    assert tags.index("dog") < tags.index("Labrador retriever")
    assert tags.index("sheep") < tags.index("bighorn")


def test_low_confidence_fallback(vocab):
    items = [
        TagScore("animal", 0.45, "hierarchy"),
        TagScore("bird", 0.12, "hierarchy"),
        TagScore("robin", 0.08, "imagenet"),
        TagScore("beach", 0.01, "hierarchy"),
    ]
    shown = vocab.rank(items, threshold=0.2, top_k=8)
    assert [(s.tag, s.low_confidence) for s in shown] == [("bird", True), ("robin", True)]
    assert vocab.rank(items, threshold=0.2, top_k=8, fallback=False) == []
    assert not any(s.low_confidence for s in vocab.rank(items, threshold=0.05, top_k=8))


def test_rank_keeps_best_score_per_tag():
    items = [
        TagScore("dog", 0.4, "hierarchy"),
        TagScore("dog", 0.7, "refine"),
        TagScore("cat", 0.1, "hierarchy"),
        TagScore("pug", 0.5, "imagenet"),
    ]
    ranked = rank(items, threshold=0.2, top_k=5)
    assert [(s.tag, s.source) for s in ranked] == [("dog", "refine"), ("pug", "imagenet")]
    assert len(rank(items, threshold=0.0, top_k=1)) == 1


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
        ("kite (bird)", "joined", "#kitebird"),
        ("!!!", "joined", ""),
    ],
)
def test_hashtags(tag, style, expected):
    assert hashtag(tag, style=style) == expected


def test_normalise_tag():
    assert normalise_tag("  #Grandma   Rose ") == "Grandma Rose"
