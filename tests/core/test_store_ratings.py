"""Picks and ratings in their own table: the move out of decisions, and what no longer counts."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from sqlite_utils import Database

from core.curation.curate import curation_states, record_pick, record_rating
from core.engine.sources import PhotoRef
from core.learning.learned import learn_from_store
from core.learning.learner import MIN_PHOTOS, TrainingError
from core.learning.refine import collect_evidence
from core.store import Decision, Mark, PhotoResult, Store
from core.store.schema import migrations
from tests.store_sql import sql


def _old_database(path) -> None:
    """A database at the schema before ``m010_ratings``, with picks and stars as "★" decisions."""
    db = Database(sqlite3.connect(path))
    migrations.apply(db, stop_before="m010_ratings")
    assert "ratings" not in db.table_names()
    for pid in (1, 2, 3):
        db["photos"].insert({"id": pid, "uri": f"/p/{pid}.jpg", "kind": "file", "status": "new"})
    rows = [
        # photo, tag, action, value, time
        (1, "★", "pick", None, "2026-01-01T10:00:00+00:00"),
        (1, "dog", "accept", None, "2026-01-01T10:00:01+00:00"),
        (1, "★", "rate", 4.0, "2026-01-01T10:00:02+00:00"),
        (1, "★", "unpick", None, "2026-01-01T10:00:03+00:00"),
        (2, "★", "rate", 5.0, "2026-01-02T09:00:00+00:00"),
        (2, "★", "rate", 0.0, "2026-01-02T09:30:00+00:00"),  # cleared
        (3, "cat", "add", None, "2026-01-03T08:00:00+00:00"),
        (3, "★", "pick", None, "2026-01-03T08:00:01+00:00"),
    ]
    for pid, tag, action, value, at in rows:
        db["decisions"].insert(
            {
                "photo_id": pid,
                "tag": tag,
                "action": action,
                "origin": "cli",
                "decided_at": at,
                "value": value,
            }
        )
    db.conn.commit()
    db.close()


def test_the_ratings_step_moves_star_decisions_keeping_latest_state_and_time(tmp_path):
    path = tmp_path / "old.db"
    _old_database(path)
    with Store(path) as store:
        assert curation_states(store) == {1: (False, 4), 2: (None, None), 3: (True, None)}
        # Only tag decisions are left, each as it was.
        assert sql(store, "select photo_id, tag, action from decisions order by id").fetchall() == [
            (1, "dog", "accept"),
            (3, "cat", "add"),
        ]
        assert store.all_tag_states() == {1: {"dog": Decision.ACCEPT}, 3: {"cat": Decision.ADD}}
        latest = sql(
            store,
            "select photo_id, action, stars, decided_at from ratings"
            " where id in (select max(id) from ratings group by photo_id) order by photo_id",
        ).fetchall()
        assert latest == [
            (1, "unpick", None, "2026-01-01T10:00:03+00:00"),
            (2, "rate", 0, "2026-01-02T09:30:00+00:00"),
            (3, "pick", None, "2026-01-03T08:00:01+00:00"),
        ]
        # New marks go on from there, and undo goes back to the moved state.
        mark = record_pick(store, 1)
        assert curation_states(store)[1] == (True, 4)
        store.undo_marks([mark])
        assert curation_states(store)[1] == (False, 4)


def _library(store: Store, photos: int) -> list[int]:
    """Photos with embeddings (two clusters), as a tagging run leaves them."""
    rng = np.random.default_rng(0)
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=photos)
    results = []
    for i in range(photos):
        centre = np.zeros(16, dtype=np.float32)
        centre[i % 2] = 4.0
        results.append(
            PhotoResult(
                PhotoRef(f"/lib/{i}.jpg", size=1, mtime=1),
                embedding=centre + rng.normal(0, 0.3, 16).astype(np.float32),
            )
        )
    store.save_results(results, run_id=run, backbone="b")
    return [store.photo_id(f"/lib/{i}.jpg") for i in range(photos)]


def test_a_photo_only_rated_is_not_reviewed(store):
    ids = _library(store, 6)
    for pid in ids[:3]:
        store.record_decision(pid, "dog", Decision.ADD)
    record_rating(store, ids[3], stars=5)
    record_pick(store, ids[4])
    evidence = collect_evidence(store, backbone="b")
    assert evidence.photo_ids == tuple(ids[:3])
    assert evidence.decisions == 3


def test_stars_do_not_open_the_training_gate(store):
    ids = _library(store, MIN_PHOTOS + 2)
    reviewed = ids[: MIN_PHOTOS - 1]
    for pid in reviewed:
        store.record_decision(pid, "even" if pid % 2 else "odd", Decision.ADD)
    for pid in ids[MIN_PHOTOS - 1 :]:
        record_rating(store, pid, stars=3)
    with pytest.raises(TrainingError, match=f"have {MIN_PHOTOS - 1} photos"):
        learn_from_store(store, backbone="b")


def test_a_mark_checks_its_stars(store):
    pid = store.ensure_photo(PhotoRef("/p/1.jpg"))
    with pytest.raises(Exception, match="only with a rating"):
        store.record_mark(pid, Mark.PICK, stars=3)
    with pytest.raises(Exception, match="0 to 5"):
        store.record_mark(pid, Mark.RATE, stars=7)
