"""Tagging on Ray: an optional extra that nothing imports unless asked."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.engine.cluster import ClusterUnavailable, RayRunner
from core.engine.pipeline import Progress, Tagger, tag_photos
from core.engine.sources import iter_folder
from core.store import Store
from tests.conftest import ROOT, shared
from tests.store_sql import sql

# Runs with Ray made unimportable, as on an installation without the [cluster] extra.
WITHOUT_RAY = """
import sys
sys.modules["ray"] = None
import core.cli, core.engine.pipeline, core.engine.cluster
from click.testing import CliRunner
result = CliRunner().invoke(core.cli.cli, ["tag", sys.argv[1], "--ray", "local", "--db", sys.argv[2]])
print(result.exit_code)
print(result.output)
"""


def test_the_cli_and_the_engine_do_not_import_ray():
    code = (
        "import sys, core.cli, core.engine.pipeline, core.store\n"
        "from click.testing import CliRunner\n"
        "CliRunner().invoke(core.cli.cli, ['tag', '--help'])\n"
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_tagging_on_ray_without_ray_says_how_to_get_it(tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"not looked at")
    out = subprocess.run(
        [sys.executable, "-c", WITHOUT_RAY, str(photo), str(tmp_path / "t.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    code, message = out.stdout.split("\n", 1)
    assert code == "3"
    assert message.strip() == (
        "phototagger: tagging on a cluster needs Ray: pip install 'phototagger[cluster]'"
    )
    assert not (tmp_path / "t.db").exists()  # stopped before opening anything


# -- on a local Ray instance ----------------------------------------------------------------


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance on two CPUs for the module, shut down after it."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install '.[cluster]')")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def album(tmp_path_factory) -> Path:
    """Real coco-mini photos of several shapes, two portraits, and one file that is no photo."""
    folder = tmp_path_factory.mktemp("album")
    portraits = sorted(shared("faces", "test").glob("*.jpg"))[:2]
    for path in sorted(shared("coco-mini", "val2017").glob("*.jpg"))[: PHOTOS - len(portraits)]:
        shutil.copy(path, folder / path.name)
    for path in portraits:
        shutil.copy(path, folder / path.name)
    (folder / "broken.jpg").write_text("not a photo")
    return folder


PHOTOS = 12


def _stored(store: Store) -> dict[str, tuple[str, dict[str, float], int]]:
    """Per photo: its status, its suggestions' scores by tag and source, its face count."""
    found = {}
    for row in store.photos():
        scores = {f"{s.source}:{s.tag}": s.score for s in store.suggestions(row.id)}
        found[Path(row.uri).name] = (row.status, scores, len(store.faces(row.id)))
    return found


def _embeddings(store: Store, tagger) -> dict[str, np.ndarray]:
    ids, matrix = store.embeddings(backbone=tagger.spec.name)
    return {store.photo(pid).uri: row for pid, row in zip(ids, matrix, strict=True)}


def _runner(tmp_path_factory, workers: int = 1) -> RayRunner:
    cache = tmp_path_factory.getbasetemp() / "shared-cache" / "onnx"
    return RayRunner(cache_dir=cache, workers=workers)


def _face_embeddings(store: Store) -> dict[tuple[str, tuple[float, ...]], np.ndarray | None]:

    uris = {row.id: Path(row.uri).name for row in store.photos()}
    return {
        (uris[f.photo_id], tuple(round(x, 3) for x in f.box)): f.embedding
        for f in store.people.faces()
    }


@pytest.fixture(scope="module")
def recognizing_tagger(tmp_path_factory):
    """The default backbone with faces recognised too, where recognition is installed."""
    cache = tmp_path_factory.getbasetemp() / "shared-cache" / "onnx"
    return Tagger.open("efficientnet-lite0", device="cpu", cache_dir=cache, recognize=True)


@pytest.mark.slow
def test_ray_tags_like_the_local_pipeline_and_a_rerun_skips_everything(
    local_ray, album, recognizing_tagger, tmp_path_factory
):
    tagger = recognizing_tagger
    refs = list(iter_folder(album))
    with Store(":memory:") as local, Store(":memory:") as ray_store:
        expected = tag_photos(refs, tagger=tagger, store=local, batch_size=4)
        seen: list[Progress] = []
        summary = tag_photos(
            refs,
            tagger=tagger,
            store=ray_store,
            batch_size=4,
            progress=seen.append,
            runner=_runner(tmp_path_factory),
        )
        assert (summary.tagged, summary.failed) == (expected.tagged, expected.failed)
        assert (summary.tagged, summary.failed) == (PHOTOS, 1)
        assert dict(summary.errors) == dict(expected.errors)
        assert [p.done for p in seen] == sorted(p.done for p in seen)
        assert seen[-1].done == PHOTOS + 1
        ours, theirs = _stored(ray_store), _stored(local)
        assert ours.keys() == theirs.keys()
        for name, (status, scores, faces) in theirs.items():
            assert ours[name][0] == status and ours[name][2] == faces, name
            assert ours[name][1].keys() == scores.keys(), name
            for key, score in scores.items():
                assert ours[name][1][key] == pytest.approx(score, abs=1e-5), (name, key)
        ours_by_uri, theirs_by_uri = _embeddings(ray_store, tagger), _embeddings(local, tagger)
        assert ours_by_uri.keys() == theirs_by_uri.keys() and len(ours_by_uri) == PHOTOS
        for uri, embedding in theirs_by_uri.items():
            np.testing.assert_allclose(ours_by_uri[uri], embedding, atol=2e-3)  # float16
        # Faces recognised on the workers carry the same embeddings as faces recognised here.
        ours_faces, theirs_faces = _face_embeddings(ray_store), _face_embeddings(local)
        assert ours_faces.keys() == theirs_faces.keys() and theirs_faces
        for key, embedding in theirs_faces.items():
            if embedding is None:
                assert ours_faces[key] is None, key
            else:
                np.testing.assert_allclose(ours_faces[key], embedding, atol=1e-5)
        if tagger.encoder is not None:
            assert any(e is not None for e in theirs_faces.values())

        again = tag_photos(
            refs, tagger=tagger, store=ray_store, batch_size=4, runner=_runner(tmp_path_factory)
        )
        assert (again.tagged, again.failed, again.skipped) == (0, 0, PHOTOS + 1)


@pytest.mark.slow
def test_a_killed_ray_worker_loses_no_photo_and_stores_none_twice(
    local_ray, album, tagger, tmp_path_factory
):
    refs = list(iter_folder(album))
    killed: list[int] = []
    running = threading.Event()

    def kill_the_inference_worker() -> None:
        # From the moment the actor is up (it loads the backbone, then takes batches) until
        # it is killed: the driver's own callbacks may come only after it has finished.
        from ray._private.state import actors

        while running.is_set() and not killed:
            for actor in actors().values():
                if "_InferenceWorker" in actor["ActorClassName"] and actor["State"] == "ALIVE":
                    os.kill(actor["Pid"], signal.SIGKILL)
                    killed.append(actor["Pid"])
                    break
            time.sleep(0.02)

    running.set()
    killer = threading.Thread(target=kill_the_inference_worker, daemon=True)
    killer.start()
    with Store(":memory:") as store:
        try:
            summary = tag_photos(
                refs,
                tagger=tagger,
                store=store,
                batch_size=4,
                runner=_runner(tmp_path_factory),
            )
        finally:
            running.clear()
            killer.join()
        assert killed, "the inference worker was not found"
        assert (summary.tagged, summary.failed) == (PHOTOS, 1)
        rows = sql(
            store,
            "select count(*), count(distinct photo_id) from analyses where run_id = ?",
            [summary.run_id],
        ).fetchone()
        assert rows == (PHOTOS + 1, PHOTOS + 1)
        assert sql(store, "select count(*) from photos").fetchone()[0] == PHOTOS + 1
        run = store.run(summary.run_id)
        assert (run["status"], run["done"], run["failed"]) == ("finished", PHOTOS + 1, 1)


@pytest.mark.slow
def test_cancel_on_ray_stops_between_batches_and_a_rerun_finishes(
    local_ray, album, tagger, tmp_path_factory
):
    refs = list(iter_folder(album))
    cancel = threading.Event()
    with Store(":memory:") as store:
        first = tag_photos(
            refs,
            tagger=tagger,
            store=store,
            batch_size=4,
            cancel=cancel,
            on_results=lambda results: cancel.set(),
            runner=_runner(tmp_path_factory),
        )
        assert first.cancelled
        stored = sql(store, "select count(*) from analyses").fetchone()[0]
        assert 0 < stored < PHOTOS + 1
        assert first.tagged + first.failed == stored  # whole batches only
        rest = tag_photos(
            refs, tagger=tagger, store=store, batch_size=4, runner=_runner(tmp_path_factory)
        )
        assert rest.skipped == stored and rest.tagged + rest.failed == PHOTOS + 1 - stored
        assert not rest.cancelled


def test_workers_that_would_leave_no_cpu_for_decoding_are_refused_in_one_line(tmp_path):
    RayRunner(cache_dir=tmp_path, workers=3).check_room(cpus=4)
    RayRunner(cache_dir=tmp_path, workers=2, cpus_per_worker=0.5).check_room(cpus=2)
    with pytest.raises(ClusterUnavailable, match="2 inference workers of 1 CPU each leave no CPU"):
        RayRunner(cache_dir=tmp_path, workers=2).check_room(cpus=2)


@pytest.mark.slow
def test_the_tag_command_runs_on_ray_and_stores_like_a_local_run(local_ray, album, tmp_path):
    from click.testing import CliRunner

    from core.cli import cli

    db = tmp_path / "tags.db"
    result = CliRunner().invoke(
        cli,
        ["tag", str(album), "--ray", "local", "--db", str(db), "--csv", str(tmp_path / "t.csv")],
    )
    assert result.exit_code == 1, result.output  # the broken file
    assert f"{PHOTOS} tagged, 1 failed, 0 already done" in result.output
    assert "on Ray (1 x cpu)" in result.output
    assert "broken.jpg: not an image file" in result.output
    with Store(db) as store:
        run = store.runs()[0]
        assert (run["device"], run["status"], run["done"]) == ("ray:cpu", "finished", PHOTOS + 1)
    assert len((tmp_path / "t.csv").read_text(encoding="utf-8-sig").splitlines()) == PHOTOS + 2


@pytest.mark.parametrize("address", ["127.0.0.1:9", "ray://127.0.0.1:9"])
def test_a_cluster_that_does_not_answer_is_one_line_at_once(address, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install '.[cluster]')")
    from click.testing import CliRunner

    from core.cli import cli

    photo = sorted(shared("coco-mini", "val2017").glob("*.jpg"))[0]
    result = CliRunner().invoke(
        cli, ["tag", str(photo), "--ray", address, "--db", str(tmp_path / "t.db")]
    )
    assert result.exit_code == 3
    assert result.output.strip() == (
        f"phototagger: cannot reach the Ray cluster at {address}: Connection refused"
    )
