# ruff: noqa: F811  (pytest fixtures imported from tests.core.learning_fixtures)
"""Heads: trained on coco-mini decisions, measured on photos they never saw, versioned."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from click.testing import CliRunner

from core.refine import collect_evidence, mean_average_precision
from core.train import (
    TrainingCancelled,
    TrainingError,
    backbone_scores,
    head_probabilities,
    latest_head,
    list_heads,
    train_from_store,
)
from tests.core.learning_fixtures import coco_db, coco_labels, coco_store  # noqa: F401

BACKBONE = "efficientnet-lite0"


def _confirm(store, uris, labels):
    for uri in uris:
        for tag in sorted(labels[uri]):
            store.record_decision(store.photo_id(uri), tag, "add", origin="test")


def test_head_beats_the_untrained_backbone_on_held_out_photos_and_is_stored(coco_store):
    labels = coco_labels()
    uris = sorted(labels)
    train, test = uris[:100], uris[100:]
    _confirm(coco_store, train, labels)
    head = train_from_store(coco_store, backbone=BACKBONE)
    assert head.id is not None and len(head.tags) > 10
    ids, matrix = coco_store.embeddings(backbone=BACKBONE)
    test_ids = [coco_store.photo_id(u) for u in test]
    x = matrix[[ids.index(pid) for pid in test_ids]]
    y = np.array([[t in labels[u] for t in head.tags] for u in test], dtype=float)
    head_map = mean_average_precision(y, head_probabilities(head, x))
    base_map = mean_average_precision(
        y, backbone_scores(coco_store, test_ids, head.tags, backbone=BACKBONE)
    )
    assert head_map > base_map + 0.1, (head_map, base_map)
    # Metrics from cross-fitting are stored with the version and read back unchanged.
    stored = latest_head(coco_store, backbone=BACKBONE)
    assert stored.id == head.id and stored.tags == head.tags
    assert stored.metrics == head.metrics
    assert stored.metrics.mean_average_precision > stored.metrics.baseline_map
    assert 0 < stored.metrics.micro_f1 <= 1 and 0 < stored.metrics.macro_f1 <= 1
    assert {t.tag for t in stored.metrics.per_tag} == set(head.tags)
    assert stored.decisions_count == sum(len(labels[u]) for u in train)
    np.testing.assert_allclose(head_probabilities(stored, x), head_probabilities(head, x))


def test_each_training_is_a_new_version(coco_store):
    labels = coco_labels()
    uris = sorted(labels)
    _confirm(coco_store, uris[:40], labels)
    first = train_from_store(coco_store, backbone=BACKBONE)
    _confirm(coco_store, uris[40:80], labels)
    second = train_from_store(coco_store, backbone=BACKBONE)
    versions = list_heads(coco_store, backbone=BACKBONE)
    assert [h.id for h in versions] == [second.id, first.id]
    assert second.last_decision_id > first.last_decision_id
    assert second.metrics.photos == 80 and first.metrics.photos == 40
    # A head trained on another view's embeddings (a library from before the
    # whole-photo view) stays in the history but no longer tags.
    coco_store.db.execute("update heads set view = 'centre-crop' where id = ?", [second.id])
    assert latest_head(coco_store, backbone=BACKBONE).id == first.id
    coco_store.db.execute("update heads set view = null")
    assert latest_head(coco_store, backbone=BACKBONE) is None
    assert len(list_heads(coco_store, backbone=BACKBONE)) == 2


def test_cancel_stores_nothing(coco_store):
    labels = coco_labels()
    _confirm(coco_store, sorted(labels)[:40], labels)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled):
        train_from_store(coco_store, backbone=BACKBONE, cancel=cancel)
    assert list_heads(coco_store) == []


def test_too_little_to_learn_is_a_clear_error(coco_store):
    labels = coco_labels()
    _confirm(coco_store, sorted(labels)[:3], labels)
    with pytest.raises(TrainingError, match="at least 10 reviewed photos"):
        train_from_store(coco_store, backbone=BACKBONE)
    assert collect_evidence(coco_store, backbone=BACKBONE).photo_ids


def test_cli_import_then_train_writes_head_suggestions(coco_store, tmp_path):
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
    assert "held-out mAP" in result.output
    unseen = coco_store.photo_id(uris[-1])
    sources = {s.source for s in coco_store.suggestions(unseen)}
    assert "head" in sources
