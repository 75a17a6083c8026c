"""Batch tagging end to end on real photos: results, failures, cancel, re-runs, kills."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from core.engine.pipeline import Progress, tag_photos
from core.engine.sources import iter_folder
from core.learning.review import photo_tags
from core.store import Store
from tests.conftest import ROOT, shared
from tests.store_sql import sql


def _copy_photos(dest: Path, count: int) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(shared("coco-mini", "train2017").glob("*.jpg"))[:count]:
        shutil.copy(path, dest / path.name)
    return dest


def test_tags_real_photos_with_sensible_hashtags(tagger, store):
    folder = shared("imagenet-sample")
    refs = [
        r
        for r in iter_folder(folder)
        if any(k in r.uri for k in ("golden_retriever", "zebra", "airliner", "banana", "pizza"))
    ]
    assert len(refs) == 5
    summary = tag_photos(refs, tagger=tagger, store=store)
    assert (summary.tagged, summary.failed) == (5, 0)
    for ref in refs:
        expected = Path(ref.uri).stem.split("_", 1)[1].replace("_", " ")
        tags = [t.tag for t in photo_tags(store, store.photo_id(ref.uri), threshold=0.1, top_k=8)]
        assert expected in tags, (ref.uri, tags)
    dog = photo_tags(
        store,
        store.photo_id(next(r.uri for r in refs if "golden" in r.uri)),
        threshold=0.2,
        top_k=8,
    )
    shown = [t.tag for t in dog]
    assert shown.index("dog") < shown.index("golden retriever")  # everyday word first
    assert "animal" not in shown  # a general tag only where nothing below it shows


def test_photos_of_every_shape_batch_by_shape_and_match_one_at_a_time(tagger, store, tmp_path):
    """Landscape, portrait, square and panorama photos in one run: each batch has one
    shape, and every photo's stored embedding is what it gets when tagged alone."""
    import numpy as np

    folder = tmp_path / "mixed"
    folder.mkdir()
    sources = sorted(shared("coco-mini", "train2017").glob("*.jpg"))[:6]
    for i, path in enumerate(sources):
        img = Image.open(path).convert("RGB")
        w, h = img.size
        variants = [
            img,
            img.transpose(Image.Transpose.ROTATE_90),
            img.crop((0, 0, min(w, h), min(w, h))),
        ]
        variants[i % 3].save(folder / f"{i}.jpg", quality=95)
    Image.open(sources[0]).convert("RGB").resize((1500, 300)).save(folder / "pano.jpg")
    summary = tag_photos(iter_folder(folder), tagger=tagger, store=store, batch_size=3)
    assert (summary.tagged, summary.failed) == (7, 0)
    ids, matrix = store.embeddings(backbone=tagger.spec.name)
    assert len(ids) == 7
    for pid, stored in zip(ids, matrix, strict=True):
        alone, _ = tagger.tag_image(Image.open(store.photo(pid).uri).convert("RGB"))
        np.testing.assert_allclose(stored, alone, atol=2e-2)  # stored as float16


def test_broken_files_fail_alone_and_the_batch_goes_on(tagger, store, tmp_path):
    folder = _copy_photos(tmp_path / "album", 6)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("hello")
    good = (folder / sorted(os.listdir(folder))[0]).read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 4])
    seen: list[Progress] = []
    summary = tag_photos(
        iter_folder(folder), tagger=tagger, store=store, batch_size=4, progress=seen.append
    )
    assert (summary.tagged, summary.failed) == (6, 3)
    failed = {Path(uri).name: reason for uri, reason in summary.errors}
    assert set(failed) == {"empty.jpg", "text.jpg", "truncated.jpg"}
    assert failed["empty.jpg"] == "the file is empty"
    assert seen[-1].done == 9 and seen[-1].failed == 3 and seen[-1].total == 9
    assert [p.done for p in seen] == sorted(p.done for p in seen)
    statuses = {Path(p.uri).name: p.status for p in store.photos()}
    assert statuses["text.jpg"] == "failed" and statuses[sorted(os.listdir(folder))[0]] == "tagged"


def test_rerun_skips_done_photos_and_retags_changed_ones(tagger, store, tmp_path):
    folder = _copy_photos(tmp_path / "album", 5)
    first = tag_photos(iter_folder(folder), tagger=tagger, store=store)
    again = tag_photos(iter_folder(folder), tagger=tagger, store=store)
    assert (first.tagged, again.tagged, again.skipped) == (5, 0, 5)
    changed = sorted(folder.iterdir())[2]
    Image.open(changed).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(changed)
    third = tag_photos(iter_folder(folder), tagger=tagger, store=store)
    assert (third.tagged, third.skipped) == (1, 4)
    forced = tag_photos(iter_folder(folder), tagger=tagger, store=store, rescan=True)
    assert forced.tagged == 5


def test_cancel_stops_after_the_batch_in_flight(tagger, store, tmp_path):
    folder = _copy_photos(tmp_path / "album", 40)
    cancel = threading.Event()
    first: list[int] = []

    def stop_after_first_batch(progress: Progress) -> None:
        first.append(progress.done)
        cancel.set()

    summary = tag_photos(
        iter_folder(folder),
        tagger=tagger,
        store=store,
        batch_size=4,
        progress=stop_after_first_batch,
        cancel=cancel,
    )
    # One batch ran: at most 4 photos, fewer when the waiting photos differ in shape.
    assert first and 1 <= first[0] <= 4
    assert summary.cancelled and summary.tagged == first[0] and len(first) == 1
    assert sql(store, "select status from runs").fetchone()[0] == "cancelled"
    rest = tag_photos(iter_folder(folder), tagger=tagger, store=store)
    assert (rest.tagged, rest.skipped) == (40 - first[0], first[0])


def test_a_killed_run_loses_nothing_and_a_rerun_finishes(tagger, tmp_path):
    """SIGKILL the CLI mid-batch: finished batches stay, the rerun does only the rest."""
    folder = _copy_photos(tmp_path / "album", 159)
    total = len(list(folder.iterdir()))
    db = tmp_path / "tags.db"
    cmd = [
        sys.executable,
        "-m",
        "core.cli",
        "tag",
        str(folder),
        "--db",
        str(db),
        "--batch-size",
        "2",
        "--device",
        "cpu",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    analysed = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        try:
            with sqlite3.connect(db, timeout=1) as con:
                analysed = con.execute("select count(*) from analyses").fetchone()[0]
        except sqlite3.OperationalError:
            continue
        if analysed >= 10:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    with Store(db) as store:
        kept = sql(store, "select count(*) from analyses").fetchone()[0]
        assert 10 <= kept < total
        # A batch is one transaction: every analysed photo has its status and its
        # suggestions, and nothing else was written (batches vary in size by shape).
        written = sql(
            store,
            "select (select count(*) from photos where status in ('tagged', 'failed')),"
            " (select count(distinct photo_id) from suggestions)",
        ).fetchone()
        assert written == (kept, kept), "a batch was half written"
    rerun = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{total - kept} tagged, 0 failed, {kept} already done" in rerun.stderr
    with Store(db) as store:
        counts = sql(
            store,
            "select (select count(*) from photos), (select count(*) from analyses),"
            " (select count(distinct photo_id) from suggestions),"
            " (select count(*) from (select photo_id, tag, source from suggestions group by 1, 2, 3 having count(*) > 1))",
        ).fetchone()
    assert counts == (total, total, total, 0)


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P"])
def test_unusual_modes_are_tagged_like_their_rgb_version(tagger, store, tmp_path, mode):
    src = Image.open(sorted(shared("coco-mini", "train2017").glob("*.jpg"))[0]).convert("RGB")
    ext = "jpg" if mode in ("L", "CMYK") else "png"
    src.convert(mode).save(tmp_path / f"x.{ext}")
    summary = tag_photos(iter_folder(tmp_path), tagger=tagger, store=store)
    assert summary.tagged == 1


def test_the_centre_only_variant_shares_the_export_and_tags_the_crop(
    tagger, store, tmp_path, tmp_path_factory
):
    """efficientnet-lite0-centre: the same network and ONNX file, shown timm's centre crop."""
    import numpy as np

    from core.engine.backbones import get_backbone_spec, local_weights_file
    from core.engine.pipeline import Tagger
    from core.engine.runtime import export_paths
    from core.engine.transforms import to_input_array

    cache = tmp_path_factory.getbasetemp() / "shared-cache" / "onnx"  # the tagger fixture's
    centre = Tagger.open("efficientnet-lite0-centre", device="cpu", cache_dir=cache)
    assert centre.spec.view == "crop" and centre.spec.export_name == tagger.spec.name
    weights = local_weights_file(tagger.spec)
    assert export_paths(centre.spec, weights, cache) == export_paths(tagger.spec, weights, cache)
    folder = _copy_photos(tmp_path / "album", 4)
    summary = tag_photos(iter_folder(folder), tagger=centre, store=store)
    assert summary.tagged == 4
    ids, matrix = store.embeddings(backbone="efficientnet-lite0-centre")
    assert len(ids) == 4
    for pid, stored in zip(ids, matrix, strict=True):
        img = Image.open(store.photo(pid).uri).convert("RGB")
        crop = to_input_array(img, centre.data_config, view="crop")
        assert crop.shape == (3, 224, 224)
        embedding, logits = tagger.runtime.run(crop[None])
        np.testing.assert_allclose(stored, embedding[0], atol=2e-2)
        _, [suggestions] = centre.infer(crop[None])
        backbone_tags = [s for s in suggestions if s.source != "faces"]
        assert backbone_tags == centre.vocabulary.suggest(logits)[0]  # no whole-view scale
    # The whole-photo default's analyses of the same photos are separate rows.
    assert store.pending(list(iter_folder(folder)), backbone=tagger.spec.name)
    assert get_backbone_spec("efficientnet-lite0-centre").logit_scale == 1.0


def test_a_failed_photo_is_tried_again_once_its_file_is_fixed(tagger, store, tmp_path):
    folder = _copy_photos(tmp_path / "album", 3)
    broken = folder / "broken.jpg"
    broken.write_text("not a photo yet")
    first = tag_photos(iter_folder(folder), tagger=tagger, store=store)
    assert (first.tagged, first.failed) == (3, 1)
    again = tag_photos(iter_folder(folder), tagger=tagger, store=store)
    assert (again.tagged, again.failed, again.skipped) == (0, 0, 4), "unchanged: not retried"
    shutil.copy(sorted(folder.glob("0*.jpg"))[0], broken)
    os.utime(broken, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    fixed = tag_photos(iter_folder(folder), tagger=tagger, store=store)
    assert (fixed.tagged, fixed.failed, fixed.skipped) == (1, 0, 3)
    statuses = {Path(p.uri).name: (p.status, p.error) for p in store.photos()}
    assert statuses["broken.jpg"] == ("tagged", None)


def test_iter_tagging_yields_stored_batches_and_returns_the_summary(tagger, store, tmp_path):
    from core.engine.pipeline import iter_tagging

    folder = _copy_photos(tmp_path / "album", 5)
    steps = iter_tagging(iter_folder(folder), tagger=tagger, store=store, batch_size=2)
    seen = []
    while True:
        try:
            results, progress = next(steps)
        except StopIteration as end:
            summary = end.value
            break
        assert all(store.photo_id(r.ref.uri) is not None for r in results)
        seen.append(progress.done)
    assert seen == sorted(seen) and seen[-1] == 5 and len(seen) >= 3
    assert (summary.tagged, summary.total, summary.cancelled) == (5, 5, False)
