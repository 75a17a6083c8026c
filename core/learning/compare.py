"""The same labelled photos through every backbone: a learner fitted and measured on each.

Every backbone tags the same photos, and each is judged on cross-fitted
held-out scores (:func:`core.learning.learner.learn`), so the rows compare
fairly. A backbone whose weights are not here gets a row saying so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from core.errors import PhotoTaggerError
from core.export.tables import write_csv_table
from core.learning.learned import DISPLAY_THRESHOLD, backbone_scores
from core.learning.learner import LearnResult, learn
from core.learning.refine import evidence_from_states, similarity_floor
from core.store import Decision, Store


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
    from core.engine.backbones import availability, get_backbone_spec, list_backbones
    from core.engine.pipeline import Tagger, tag_photos
    from core.engine.sources import file_ref
    from core.learning.labels import read_labels_csv

    labelled = [(p, tags) for p, tags in read_labels_csv(labels_csv) if p.is_file() and tags]
    refs = [file_ref(p) for p, _ in labelled]
    specs = [get_backbone_spec(n) for n in backbones] if backbones else list_backbones()
    rows = []
    for spec in specs:
        if cancel is not None and cancel.is_set():
            break
        found = availability(spec)
        if not found.usable:
            rows.append(ComparisonRow(spec.name, found.note))
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
            states = {pid: dict.fromkeys(by_uri[store.photo(pid).uri], Decision.ADD) for pid in ids}
            evidence = evidence_from_states(states, ids, matrix)
            baseline = backbone_scores(store, evidence.photo_ids, evidence.tags, backbone=spec.name)
        if progress is not None:
            progress(f"{spec.name}: learning from the labels")
        result = learn(
            evidence,
            baseline,
            library_size=len(ids),
            floor=similarity_floor(matrix),
            display_threshold=DISPLAY_THRESHOLD,
            cancel=cancel,
        )
        m = result.metrics
        predicted_ok = _binary_accuracy(result)
        rows.append(
            ComparisonRow(
                spec.name,
                "ok",
                m.learned_map,
                m.micro_f1,
                m.macro_f1,
                predicted_ok,
                m.backbone_map,
                result.learner.head.trainable_parameters,
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


def write_table_csv(rows: list[ComparisonRow], path: Path) -> int:
    """The comparison as CSV, full precision, one backbone a row; returns how many rows.

    Through the one table writer (:mod:`core.export.tables`), like tag exports.
    """
    return write_csv_table(
        (asdict(row) for row in rows), path, columns=[f.name for f in fields(ComparisonRow)]
    )


def _binary_accuracy(result: LearnResult) -> float | None:
    """Share of known (photo, tag) pairs the thresholds get right on held-out scores."""
    ev = result.evidence
    scores = result.held_out
    thresholds = np.array([g.threshold for g in result.gates])
    predicted = scores >= thresholds
    known = ev.known
    return float((predicted == (ev.labels > 0))[known].mean()) if known.any() else None
