"""The tagging run's own process: its failures, its cancel, and what it leaves in the window's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from core.engine.sources import file_ref
from desktop.tagging import RunProcessError, TaggingStep, tag_in_background
from tests.conftest import shared


def _options(tmp_path: Path, **changes) -> dict:
    return {
        "backbone": "efficientnet-lite0",
        "device": "cpu",
        "db_path": tmp_path / "photos.db",
        "cache_dir": tmp_path / "cache",
        "threshold": 0.2,
        "top_k": 8,
        **changes,
    }


def _run(refs, cancel: threading.Event, **options):
    steps = tag_in_background(refs, cancel=cancel, own_process=True, **options)
    seen: list[TaggingStep] = []
    while True:
        try:
            seen.append(next(steps))
        except StopIteration as end:
            return seen, end.value


def test_a_failing_run_says_why_in_one_line(tmp_path):
    refs = [file_ref(next(shared("coco-mini", "val2017").glob("*.jpg")))]
    with pytest.raises(RunProcessError, match="unknown backbone 'no-such-backbone'"):
        _run(refs, threading.Event(), **_options(tmp_path, backbone="no-such-backbone"))


def test_a_run_cancelled_while_loading_returns_nothing(tmp_path):
    refs = [file_ref(next(shared("coco-mini", "val2017").glob("*.jpg")))]
    cancel = threading.Event()
    cancel.set()
    seen, summary = _run(refs, cancel, **_options(tmp_path))
    assert summary is None
    assert seen and all(step.progress is None for step in seen)
    assert seen[0].stage.startswith("Loading")


def test_a_run_reports_each_batch_and_its_summary(tmp_path):
    photos = sorted(shared("coco-mini", "val2017").glob("*.jpg"))[:6]
    seen, summary = _run(
        [file_ref(p) for p in photos],
        threading.Event(),
        **_options(tmp_path, batch_size=4, detect_faces=False),
    )
    batches = [step for step in seen if step.progress is not None]
    assert len(batches) >= 2 and all(len(step.updates) <= 4 for step in batches)
    assert batches[-1].progress.done == 6
    assert {u.uri for step in batches for u in step.updates} == {file_ref(p).uri for p in photos}
    assert all(u.status == "tagged" and u.tags for step in batches for u in step.updates)
    assert (summary.tagged, summary.failed, summary.cancelled) == (6, 0, False)
