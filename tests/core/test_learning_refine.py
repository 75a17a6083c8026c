# ruff: noqa: F811  (pytest fixtures imported from tests.core.learning_fixtures)
"""Refinement: tags from the nearest confirmed photos, on real coco-mini embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from core.learning.learned import apply_learned, learn_from_store
from core.learning.learner import fit_learner
from core.learning.metrics import average_precision
from core.learning.refine import (
    collect_evidence,
    evidence_from_states,
    fit_propagator,
    propagate,
    similarity_floor,
)
from core.learning.review import photo_tags
from tests.core.learning_fixtures import coco_db, coco_labels, coco_store  # noqa: F401
from tests.store_sql import sql

BACKBONE = "efficientnet-lite0"


def _confirm(store, uris, labels, *, rename=None):
    rename = rename or {}
    for uri in uris:
        pid = store.photo_id(uri)
        for tag in sorted(labels[uri]):
            store.record_decision(pid, rename.get(tag, tag), "add", origin="test")


def test_average_precision_counts_ties_as_one_step():
    y = np.array([1, 0, 1, 0, 0])
    assert average_precision(y, np.zeros(5)) == pytest.approx(0.4)
    assert average_precision(y, np.array([5, 4, 3, 2, 1])) == pytest.approx((1 + 2 / 3) / 2)
    assert np.isnan(average_precision(np.zeros(3), np.arange(3)))


def test_evidence_reads_decisions_as_positives_negatives_and_unknowns():
    states = {
        1: {"cat": "accept", "sofa": "reject"},
        2: {"dog": "add", "cat": "remove"},
        3: {"dog": "reject"},  # nothing confirmed: only the rejection is evidence
    }
    emb = np.eye(4, dtype=np.float32)
    ev = evidence_from_states(states, [1, 2, 3, 4], emb)
    assert ev.photo_ids == (1, 2, 3)
    assert ev.tags == ("cat", "dog")
    assert ev.labels.tolist() == [[1, 0], [0, 1], [0, 0]]
    assert ev.known.tolist() == [[True, True], [True, True], [False, True]]


def test_two_hand_tagged_photos_do_not_spread_to_unrelated_photos(coco_store):
    labels = coco_labels()
    uris = sorted(labels)
    for uri in uris[:2]:
        for tag in ("café", "Größe"):
            coco_store.record_decision(coco_store.photo_id(uri), tag, "add", origin="test")
    ids, matrix = coco_store.embeddings(backbone=BACKBONE)
    evidence = collect_evidence(coco_store, backbone=BACKBONE)
    propagator = fit_propagator(evidence, library_size=len(ids), floor=similarity_floor(matrix))
    others = [i for i, pid in enumerate(ids) if pid not in evidence.photo_ids]
    scores = propagate(propagator, matrix[others])
    # Only a near copy of a tagged photo could carry the tag; coco-mini has none.
    assert scores.max() < 0.1, np.sort(scores.ravel())[-5:]
    assert np.median(scores) < 0.02
    # And with more photos reviewed, the two-photo tags are still not suggested anywhere.
    _confirm(coco_store, uris[2:40], labels)
    version = learn_from_store(coco_store, backbone=BACKBONE)
    assert {"café", "Größe"} & set(version.tags)
    assert not {"café", "Größe"} & set(version.kept_tags)
    apply_learned(coco_store, backbone=BACKBONE)
    suggested = {
        row[0] for row in sql(coco_store, "select tag from suggestions where source = 'head'")
    }
    assert not {"café", "Größe"} & suggested


def test_user_tags_unknown_to_imagenet_are_learned_from_a_handful(coco_store):
    labels = coco_labels()
    uris = sorted(labels)
    rng = np.random.default_rng(7)
    rng.shuffle(uris)
    counts = {t: sum(t in labels[u] for u in uris) for t in set().union(*labels.values())}
    # Every COCO tag on 8 to 12 photos becomes a name of the user's own (#my-oven):
    # no backbone knows it. Five photos of each are confirmed; the rest are held out.
    chosen = sorted(t for t, n in counts.items() if 8 <= n <= 12)
    rename = {t: f"my-{t}" for t in chosen}
    train = set(uris[:60])
    for tag in chosen:
        train |= set([u for u in uris if tag in labels[u]][:5])
    test = [u for u in uris if u not in train]
    _confirm(coco_store, sorted(train), labels, rename=rename)
    evidence = collect_evidence(coco_store, backbone=BACKBONE)
    ids, matrix = coco_store.embeddings(backbone=BACKBONE)
    learner = fit_learner(evidence, library_size=len(ids), floor=similarity_floor(matrix))
    scores = learner.scores(matrix[[ids.index(coco_store.photo_id(u)) for u in test]])
    aps, rates = [], []
    for tag in chosen:
        truth = np.array([tag in labels[u] for u in test], dtype=float)
        aps.append(average_precision(truth, scores[:, learner.tags.index(rename[tag])]))
        rates.append(truth.mean())
    # Chance is each tag's base rate on the held-out photos.
    assert np.mean(aps) > 2 * np.mean(rates), (dict(zip(chosen, aps, strict=True)), rates)


def test_rejected_tags_do_not_come_back(coco_store):
    labels = coco_labels()
    uris = sorted(labels)
    _confirm(coco_store, uris[:100], labels)
    version = learn_from_store(coco_store, backbone=BACKBONE)
    assert "person" in version.kept_tags
    apply_learned(coco_store, backbone=BACKBONE)
    target = next(
        u
        for u in uris[100:]
        if "person"
        in {s.tag for s in coco_store.suggestions(coco_store.photo_id(u)) if s.source == "head"}
    )
    pid = coco_store.photo_id(target)
    coco_store.record_decision(pid, "person", "reject", origin="test")
    for _ in range(2):  # and again: rejection survives every re-run
        apply_learned(coco_store, backbone=BACKBONE)
        learned = {s.tag for s in coco_store.suggestions(pid) if s.source in ("refine", "head")}
        assert "person" not in learned
    shown = photo_tags(coco_store, pid, threshold=0.0, top_k=100)
    assert "person" not in {t.tag for t in shown}
    # The rejection is negative evidence for the photo.
    ev = collect_evidence(coco_store, backbone=BACKBONE)
    i, j = ev.photo_ids.index(pid), ev.tags.index("person")
    assert ev.known[i, j] and ev.labels[i, j] == 0


def test_a_photo_is_not_its_own_neighbour(coco_store):
    labels = coco_labels()
    uris = sorted(labels)[:40]
    _confirm(coco_store, uris, labels)
    propagator = fit_propagator(collect_evidence(coco_store, backbone=BACKBONE))
    ids, matrix = coco_store.embeddings(backbone=BACKBONE)
    pid = coco_store.photo_id(uris[0])
    x = matrix[[ids.index(pid)]]
    with_self = propagate(propagator, x)
    without = propagate(propagator, x, query_ids=[pid])
    assert not np.allclose(with_self, without)
    assert propagator.temperature > 0 and propagator.prior_strength > 0
