"""Learned versions in the store: one per learning run, kept or discarded by the user.

A version holds everything its suggestions depend on: the head's arrays, the
refinement settings, the blend, the per-tag verdicts, and a snapshot of the
decisions it learned from (reviewed photos and their labels). Its suggestions
are therefore a function of the version and the photos' embeddings alone, so
discarding the newest version and applying the one before restores the
earlier suggestions exactly, whatever was decided since.

The newest ``kept`` version of a backbone (on the current views version) is the
one applied; heads from before versions existed are ``retired``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np

from core.engine.transforms import VIEWS_VERSION
from core.learning.gate import TagGate
from core.learning.heads import Head, pack_arrays, unpack_arrays
from core.learning.learner import Learner, LearnMetrics, LearnResult
from core.learning.refine import Evidence, Propagator, features
from core.store import Store

VersionStatus = Literal["kept", "discarded", "retired"]


@dataclass(frozen=True)
class LearnedVersion:
    """One stored learning run.

    Attributes:
        id: Row id.
        backbone: Whose embeddings it reads.
        created_at: When it was stored.
        status: ``kept``, ``discarded`` or ``retired``.
        tags: The tags it learned (verdicts say which it may suggest).
        gates: Per-tag verdicts, aligned with ``tags``.
        metrics: Held-out figures of the run.
        head: The head's arrays and calibration.
        blend: Weight of the head against refinement.
        refine: Refinement settings (neighbours, temperature, prior_strength, library_size, floor).
        photo_ids: Reviewed photos it learned from.
        labels: Their labels (photos x tags).
        known: Which labels are evidence.
        decisions_count: Decisions in the store when it learned.
        last_decision_id: The newest of them.
    """

    id: int
    backbone: str
    created_at: str
    status: VersionStatus
    tags: tuple[str, ...]
    gates: tuple[TagGate, ...]
    metrics: LearnMetrics
    head: Head
    blend: float
    refine: dict
    photo_ids: tuple[int, ...]
    labels: np.ndarray
    known: np.ndarray
    decisions_count: int
    last_decision_id: int

    @property
    def kept_tags(self) -> tuple[str, ...]:
        return tuple(g.tag for g in self.gates if g.kept)


def save_version(store: Store, result: LearnResult, *, backbone: str) -> LearnedVersion:
    """Store a learning run as the newest kept version; returns it."""
    learner, ev = result.learner, result.evidence
    p = learner.propagator
    refine = {
        "neighbours": p.neighbours,
        "temperature": p.temperature,
        "prior_strength": p.prior_strength,
        "library_size": p.library_size,
        "floor": p.floor,
    }
    settings = {
        "blend": learner.blend,
        "strength": learner.head.strength,
        "temperature": learner.head.temperature,
        "refine": refine,
    }
    evidence = {
        "photo_ids": np.asarray(ev.photo_ids, dtype=np.int64),
        "labels": ev.labels.astype(np.float32),
        "known": ev.known.astype(bool),
    }
    created = datetime.now(UTC).isoformat(timespec="seconds")
    row = {
        "backbone": backbone,
        "kind": "logistic",
        "created_at": created,
        "tags": json.dumps(list(ev.tags)),
        "thresholds": json.dumps([g.threshold for g in result.gates]),
        "metrics": json.dumps(asdict(result.metrics)),
        "weights": pack_arrays(learner.head.arrays),
        "decisions_count": ev.decisions,
        "last_decision_id": ev.last_decision_id,
        "view": VIEWS_VERSION,
        "status": "kept",
        "learner": json.dumps(settings),
        "gates": json.dumps([asdict(g) for g in result.gates]),
        "evidence": pack_arrays(evidence),
    }
    return version(store, store.save_head(row))


def _from_row(row: dict) -> LearnedVersion:
    settings = json.loads(row["learner"])
    tags = tuple(json.loads(row["tags"]))
    gates = []
    for g in json.loads(row["gates"]):
        g["knots"] = tuple(tuple(k) for k in g["knots"])
        gates.append(TagGate(**g))
    evidence = unpack_arrays(row["evidence"])
    head = Head(tags, settings["strength"], settings["temperature"], unpack_arrays(row["weights"]))
    return LearnedVersion(
        row["id"],
        row["backbone"],
        row["created_at"],
        row["status"],
        tags,
        tuple(gates),
        LearnMetrics(**json.loads(row["metrics"])),
        head,
        settings["blend"],
        settings["refine"],
        tuple(int(i) for i in evidence["photo_ids"]),
        evidence["labels"],
        evidence["known"],
        row["decisions_count"] or 0,
        row["last_decision_id"] or 0,
    )


def version(store: Store, version_id: int) -> LearnedVersion:
    """One stored version by id."""
    return _from_row(store.head(version_id))


def list_versions(store: Store, *, backbone: str | None = None) -> list[LearnedVersion]:
    """Every learned version (retired heads left out), newest first."""
    return [_from_row(r) for r in store.heads(backbone=backbone)]


def current_version(store: Store, *, backbone: str) -> LearnedVersion | None:
    """The newest kept version for ``backbone`` on the current views version, if any."""
    row = store.current_head(backbone=backbone, view=VIEWS_VERSION)
    return _from_row(row) if row else None


def set_status(store: Store, version_id: int, status: VersionStatus) -> None:
    store.set_head_status(version_id, status)


def learner_of(store: Store, v: LearnedVersion) -> Learner:
    """The version's learner, its refinement rebuilt from the snapshot and stored embeddings."""
    ids, matrix = store.embeddings(backbone=v.backbone)
    row_of = {pid: i for i, pid in enumerate(ids)}
    keep = [i for i, pid in enumerate(v.photo_ids) if pid in row_of]
    emb = matrix[[row_of[v.photo_ids[i]] for i in keep]] if keep else np.zeros((0, 1))
    evidence = Evidence(
        tuple(v.photo_ids[i] for i in keep),
        v.tags,
        emb,
        v.labels[keep],
        v.known[keep],
        v.decisions_count,
        v.last_decision_id,
    )
    r = v.refine
    propagator = Propagator(
        evidence.photo_ids,
        v.tags,
        features(emb) if keep else np.zeros((0, 1), dtype=np.float32),
        evidence.labels,
        evidence.known,
        r["neighbours"],
        r["temperature"],
        r["prior_strength"],
        r["library_size"],
        r["floor"],
    )
    return Learner(v.head, propagator, v.blend)
