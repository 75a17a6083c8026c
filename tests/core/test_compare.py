"""Comparing backbones on the same labelled photos: which ones run, and the table written."""

from __future__ import annotations

import csv
from dataclasses import fields

import pytest

from core.engine.backbones import DEFAULT_BACKBONE, BackboneState, availability, get_backbone_spec
from core.learning.compare import ComparisonRow, compare_backbones, write_table_csv
from tests.core.learning_fixtures import coco_labels


def _labels_csv(path, count: int):
    """A path,tags CSV of the first ``count`` coco-mini train2017 photos: people or none.

    Two tags keep the learning that every backbone goes through short.
    """
    train = [(p, tags) for p, tags in sorted(coco_labels().items()) if "/train2017/" in p]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "tags"])
        for photo, tags in train[:count]:
            writer.writerow([photo, "person" if "person" in tags else "no person"])
    return path


@pytest.mark.slow
def test_a_backbone_available_from_its_shipped_export_is_compared(tmp_path_factory, tmp_path):
    found = availability(get_backbone_spec(DEFAULT_BACKBONE))
    assert found.note == "available (bundled export)" and found.state is BackboneState.AVAILABLE
    rows = compare_backbones(
        _labels_csv(tmp_path / "labels.csv", 16),
        backbones=[DEFAULT_BACKBONE],
        cache_dir=tmp_path_factory.getbasetemp() / "shared-cache" / "onnx",
    )
    assert [(r.backbone, r.status) for r in rows] == [(DEFAULT_BACKBONE, "ok")]
    assert rows[0].photos == 16 and 0.0 <= rows[0].mean_average_precision <= 1.0

    out = tmp_path / "compare.csv"
    assert write_table_csv(rows, out) == 1
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    read = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert list(read[0]) == [f.name for f in fields(ComparisonRow)]
    assert read[0]["backbone"] == DEFAULT_BACKBONE and read[0]["status"] == "ok"


def test_a_backbone_that_cannot_run_gets_a_row_saying_why(tmp_path):
    found = availability(get_backbone_spec("vgg16"))
    if found.usable:
        pytest.skip("vgg16's weights are on this machine")
    rows = compare_backbones(
        _labels_csv(tmp_path / "labels.csv", 4), backbones=["vgg16"], cache_dir=tmp_path
    )
    assert rows == [ComparisonRow("vgg16", found.note)]
    write_table_csv(rows, tmp_path / "compare.csv")
    with open(tmp_path / "compare.csv", encoding="utf-8-sig", newline="") as fh:
        (row,) = csv.DictReader(fh)
    assert row["status"] == found.note and row["mean_average_precision"] == ""
