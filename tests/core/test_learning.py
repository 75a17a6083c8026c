# ruff: noqa: F811  (pytest fixtures imported from tests.core.learning_fixtures)
"""Learned versions: fitted on coco-mini decisions, judged per tag on held-out photos, undoable."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from click.testing import CliRunner

from core.learning.gate import judge_tag, reliably_better
from core.learning.heads import TrainingCancelled, TrainingError
from core.learning.learned import apply_learned, backbone_scores, learn_from_store
from core.learning.metrics import mean_average_precision
from core.learning.refine import collect_evidence
from core.learning.versions import current_version, learner_of, list_versions
from tests.core.learning_fixtures import coco_db, coco_labels, coco_store  # noqa: F401
from tests.store_sql import sql

BACKBONE = "efficientnet-lite0"
FOOD = {"pizza", "sandwich", "cake", "donut", "broccoli", "hot dog", "banana", "orange"}
CO_OCCURRING = ("fork", "knife", "bottle", "person")


def _confirm(store, uris, labels):
    for uri in uris:
        for tag in sorted(labels[uri]):
            store.record_decision(store.photo_id(uri), tag, "add", origin="test")


def _learned(store, uris) -> dict[str, set[str]]:
    return {
        u: {s.tag for s in store.suggestions(store.photo_id(u)) if s.source == "head"} for u in uris
    }


def test_a_learned_score_worse_than_the_backbone_is_not_used():
    y = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    backbone = np.where(y > 0, 0.9, 0.1) + np.linspace(0, 0.05, 16)
    worse = np.where(y > 0, 0.6, 0.5) + np.random.default_rng(0).normal(0, 0.1, 16)
    gate = judge_tag("dog", y, worse, backbone, display_threshold=0.2)
    assert not gate.kept and gate.found == gate.was == 6
    better = np.where(y > 0, 0.9, 0.1)
    gate = judge_tag("my-dog", y, better, np.zeros(16), display_threshold=0.2)
    assert gate.kept and gate.found == 6 and gate.was == 0
    assert gate.sentence() == "#mydog: found 6 of 6, was 0 of 6"
    few = judge_tag(
        "rare", y[:8] * 0 + np.eye(8)[0], np.arange(8.0), np.zeros(8), display_threshold=0.2
    )
    assert not few.kept and "needed" in few.reason


def test_a_gain_that_rests_on_one_photo_is_not_kept():
    y = np.array([1] * 5 + [0] * 14 + [1], dtype=float)
    backbone = np.linspace(1.0, 0.05, 20)
    backbone[19] = 0.0  # one positive the backbone ranks last
    learned = backbone.copy()
    learned[19] = 0.97  # learning lifts that one photo, and nothing else
    gate = judge_tag("cup", y, learned, backbone, display_threshold=0.2)
    assert gate.learned_ap >= gate.backbone_ap + 0.02  # the margin alone would keep it
    assert not gate.kept and "too few" in gate.reason
    assert not reliably_better(y, backbone, backbone)  # a tie never wins
    assert reliably_better(y, y + 0.1, -backbone)


def test_train2017_to_val2017_never_worse_than_the_backbone_and_stored(coco_store):
    labels = coco_labels()
    train = sorted(u for u in labels if "/train2017/" in u)
    val = sorted(u for u in labels if "/val2017/" in u)
    _confirm(coco_store, train, labels)
    version = learn_from_store(coco_store, backbone=BACKBONE)
    assert version.status == "kept" and version.kept_tags
    assert len(version.kept_tags) < len(version.tags)
    # Read back unchanged, and its learner rebuilt from the snapshot scores the same.
    stored = current_version(coco_store, backbone=BACKBONE)
    assert stored.id == version.id and stored.gates == version.gates
    assert stored.metrics == version.metrics and stored.photo_ids == version.photo_ids
    assert version.metrics.shown_map >= version.metrics.backbone_map
    apply_learned(coco_store, backbone=BACKBONE)
    learned = _learned(coco_store, val)
    refused = set(version.tags) - set(version.kept_tags)
    assert not refused & set().union(*learned.values())
    # On photos that chose nothing, what is shown with learning beats the backbone alone.
    ids, matrix = coco_store.embeddings(backbone=BACKBONE)
    val_ids = [coco_store.photo_id(u) for u in val]
    kept = version.kept_tags
    y = np.array([[t in labels[u] for t in kept] for u in val], dtype=float)
    base = backbone_scores(coco_store, val_ids, kept, backbone=BACKBONE)
    shown = base.copy()
    for j, tag in enumerate(kept):
        for i, pid in enumerate(val_ids):
            for s in coco_store.suggestions(pid):
                if s.tag == tag and s.source == "head":
                    shown[i, j] = max(shown[i, j], s.score)
    assert mean_average_precision(y, shown) > mean_average_precision(y, base)
    # Heads do not add cutlery, bottles or people to food photos from co-occurrence alone.
    food = [u for u in val if labels[u] & FOOD]
    assert food
    for uri in food:
        wrong = {t for t in learned[uri] & set(CO_OCCURRING) if t not in labels[uri]}
        assert not wrong, (uri, wrong)
    # Learned suggestions keep their held-out promise on photos that chose nothing.
    right = sum(len(learned[u] & labels[u]) for u in val)
    total = sum(len(learned[u]) for u in val)
    assert total and right / total >= 0.7, (right, total)
    scores = learner_of(coco_store, stored).scores(matrix[[ids.index(p) for p in val_ids]])
    assert scores.shape == (len(val), len(version.tags))


def test_discarding_restores_the_suggestions_from_before_exactly(coco_store):
    labels = coco_labels()
    uris = sorted(labels)

    def snapshot():
        return sorted(
            sql(
                coco_store,
                "select photo_id, backbone, tag, round(score, 6), source from suggestions",
            ).fetchall()
        )

    before_any = snapshot()
    _confirm(coco_store, uris[:60], labels)
    first = learn_from_store(coco_store, backbone=BACKBONE)
    apply_learned(coco_store, backbone=BACKBONE)
    with_first = snapshot()
    assert with_first != before_any
    _confirm(coco_store, uris[60:100], labels)
    second = learn_from_store(coco_store, backbone=BACKBONE)
    apply_learned(coco_store, backbone=BACKBONE)
    assert snapshot() != with_first
    runner = CliRunner()
    from core.cli import cli

    result = runner.invoke(cli, ["train", "--discard", "--db", coco_store.path])
    assert result.exit_code == 0, result.output
    assert f"learned version {first.id}" in result.output
    # Exactly as before, but for the tags decided since, which are never suggested.
    decided = {(coco_store.photo_id(u), t) for u in uris[60:100] for t in labels[u]}
    assert snapshot() == [r for r in with_first if r[4] != "head" or (r[0], r[2]) not in decided]
    assert [v.status for v in list_versions(coco_store, backbone=BACKBONE)] == [
        "discarded",
        "kept",
    ]
    assert current_version(coco_store, backbone=BACKBONE).id == first.id != second.id
    result = runner.invoke(cli, ["train", "--discard", "--db", coco_store.path])
    assert "the backbone alone" in result.output
    assert snapshot() == before_any


def test_cancel_stores_nothing(coco_store):
    labels = coco_labels()
    _confirm(coco_store, sorted(labels)[:40], labels)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled):
        learn_from_store(coco_store, backbone=BACKBONE, cancel=cancel)
    assert list_versions(coco_store) == []


def test_too_little_to_learn_is_a_clear_error(coco_store):
    labels = coco_labels()
    _confirm(coco_store, sorted(labels)[:3], labels)
    with pytest.raises(TrainingError, match="at least 10 reviewed photos"):
        learn_from_store(coco_store, backbone=BACKBONE)
    assert collect_evidence(coco_store, backbone=BACKBONE).photo_ids


def test_cli_import_then_train_says_per_tag_what_changed(coco_store, tmp_path):
    from core.cli import cli

    labels = coco_labels()
    uris = sorted(labels)
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(
        "path,tags\n" + "".join(f'"{u}","{";".join(sorted(labels[u]))}"\n' for u in uris[:80])
    )
    db = coco_store.path
    runner = CliRunner()
    result = runner.invoke(cli, ["import", "--labels", str(csv_path), "--db", db])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["train", "--db", db])
    assert result.exit_code == 0, result.output
    assert "held-out mAP" in result.output and "#person: found" in result.output
    unseen = coco_store.photo_id(uris[-1])
    assert {s.source for s in coco_store.suggestions(unseen)} - {"head"}
