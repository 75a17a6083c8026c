"""The SQLite store: schema, results, decisions, and refusing a newer database."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from core.engine.sources import PhotoRef
from core.engine.vocabulary import TagScore
from core.errors import StoreError
from core.learning.review import photo_tags
from core.store import PhotoResult, Store
from tests.store_sql import sql


def _result(
    uri: str, *, error: str | None = None, tags=(("dog", 0.8), ("cat", 0.3))
) -> PhotoResult:
    if error:
        return PhotoResult(PhotoRef(uri, size=10, mtime=1), error=error)
    return PhotoResult(
        PhotoRef(uri, size=10, mtime=1),
        width=64,
        height=48,
        format="JPEG",
        embedding=np.arange(8, dtype=np.float32),
        suggestions=tuple(TagScore(t, s, "imagenet") for t, s in tags),
    )


def test_results_round_trip(store):
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=2)
    store.save_results(
        [_result("/p/1.jpg"), _result("/p/2.jpg", error="the file is empty")],
        run_id=run,
        backbone="b",
    )
    ids, matrix = store.embeddings(backbone="b")
    assert len(ids) == 1 and matrix.shape == (1, 8) and matrix[0, 7] == 7.0
    first = store.photo(store.photo_id("/p/1.jpg"))
    second = store.photo(store.photo_id("/p/2.jpg"))
    assert (first.status, first.width) == ("tagged", 64)
    assert (second.status, second.error) == ("failed", "the file is empty")
    assert [s.tag for s in store.suggestions(first.id)] == ["dog", "cat"]


def test_retagging_replaces_suggestions_without_duplicates(store):
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=1)
    store.save_results([_result("/p/1.jpg")], run_id=run, backbone="b")
    store.save_results([_result("/p/1.jpg", tags=(("bird", 0.9),))], run_id=run, backbone="b")
    pid = store.photo_id("/p/1.jpg")
    assert [s.tag for s in store.suggestions(pid)] == ["bird"]
    assert sql(store, "select count(*) from photos").fetchone()[0] == 1
    assert sql(store, "select count(*) from analyses").fetchone()[0] == 1


def test_pending_skips_unchanged_photos_only(store):
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=1)
    store.save_results([_result("/p/1.jpg")], run_id=run, backbone="b")
    same, changed, new = (
        PhotoRef("/p/1.jpg", size=10, mtime=1),
        PhotoRef("/p/1.jpg", size=11, mtime=2),
        PhotoRef("/p/3.jpg"),
    )
    assert store.pending([same, new], backbone="b") == [new]
    assert store.pending([changed], backbone="b") == [changed]
    assert store.pending([same], backbone="other") == [same]


def test_analyses_from_another_view_are_done_again_and_not_learned_from(store):
    """A database from before the whole-photo view: its crop embeddings are stale."""
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=2)
    store.save_results([_result("/p/1.jpg"), _result("/p/2.jpg")], run_id=run, backbone="b")
    sql(store, "update analyses set view = null where photo_id = ?", [store.photo_id("/p/1.jpg")])
    old, current = PhotoRef("/p/1.jpg", size=10, mtime=1), PhotoRef("/p/2.jpg", size=10, mtime=1)
    assert store.pending([old, current], backbone="b") == [old]
    ids, _ = store.embeddings(backbone="b")
    assert ids == [store.photo_id("/p/2.jpg")]
    store.save_results([_result("/p/1.jpg")], run_id=run, backbone="b")
    assert store.pending([old, current], backbone="b") == []
    assert len(store.embeddings(backbone="b")[0]) == 2


def test_a_failed_batch_writes_nothing(store):
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=2)
    # A malformed suggestion makes the second photo's write fail mid-batch.
    bad = PhotoResult(
        PhotoRef("/p/2.jpg"),
        embedding=np.zeros(4, dtype=np.float32),
        suggestions=({"not": "a tag"},),
    )
    with pytest.raises(AttributeError):
        store.save_results([_result("/p/1.jpg"), bad], run_id=run, backbone="b")
    assert store.photo_id("/p/1.jpg") is None


def test_decisions_latest_wins_and_undo(store):
    pid = store.ensure_photo(PhotoRef("/p/1.jpg"))
    store.record_decision(pid, "dog", "accept", origin="gui")
    store.record_decision(pid, "#Grandma ", "add", origin="gui")
    last = store.record_decision(pid, "dog", "reject", origin="gui")
    assert store.tag_states(pid) == {"dog": "reject", "Grandma": "add"}
    assert store.confirmed_tags(pid) == ["Grandma"]
    store.undo_decision(last)
    assert store.confirmed_tags(pid) == ["Grandma", "dog"]
    assert store.user_tags() == [("Grandma", 1), ("dog", 1)]
    with pytest.raises(StoreError, match="unknown decision"):
        store.record_decision(pid, "dog", "love")
    with pytest.raises(StoreError, match="cannot be empty"):
        store.record_decision(pid, " # ", "add")


def test_rejected_tags_never_come_back_as_suggestions(store):
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=1)
    store.save_results([_result("/p/1.jpg")], run_id=run, backbone="b")
    pid = store.photo_id("/p/1.jpg")
    store.record_decision(pid, "dog", "reject")
    store.save_results([_result("/p/1.jpg")], run_id=run, backbone="b")  # re-tagged
    shown = photo_tags(store, pid, threshold=0.1, top_k=5)
    assert [t.tag for t in shown] == ["cat"]
    with_rejected = photo_tags(store, pid, threshold=0.1, top_k=5, include_rejected=True)
    assert [(t.tag, t.state) for t in with_rejected] == [("cat", "suggested"), ("dog", "rejected")]


def test_decisions_are_committed_at_once(tmp_path):
    path = tmp_path / "t.db"
    with Store(path) as writer:
        pid = writer.ensure_photo(PhotoRef("/p/1.jpg"))
        writer.record_decision(pid, "dog", "add")
        with Store(path) as reader:  # a second connection, as another thread would have
            assert reader.confirmed_tags(pid) == ["dog"]
    assert sqlite3.connect(path).execute("pragma journal_mode").fetchone()[0] == "wal"


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "t.db"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute(
        "insert into _sqlite_migrations (migration_set, name, applied_at) values ('phototagger', 'm999_future', 'now')"
    )
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer PhotoTagger"):
        Store(path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path):
    path = tmp_path / "t.db"
    path.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open the database"):
        Store(path)


def test_a_run_counts_its_stored_photos_batch_by_batch(store):
    from core.engine.sources import PhotoRef
    from core.store import PhotoResult

    run = store.start_run(backbone="b", device="cpu", runtime="r", total=5)
    for first in (0, 3):
        batch = [
            PhotoResult(PhotoRef(f"/a/{i}.jpg", size=1, mtime=1), error="unreadable")
            for i in range(first, min(first + 3, 5))
        ]
        store.save_results(batch, run_id=run, backbone="b")
        assert store.run(run)["done"] == min(first + 3, 5)


def test_a_transaction_keeps_all_writes_or_none(store):
    pid = store.ensure_photo(PhotoRef("/p/1.jpg"))
    with store.transaction():
        store.record_decision(pid, "dog", "add")
        store.record_decision(pid, "cat", "add")
    with pytest.raises(RuntimeError), store.transaction():
        store.record_decision(pid, "bird", "add")
        with store.transaction():  # nested: part of the outer one
            store.record_decision(pid, "fish", "add")
        raise RuntimeError("the batch stops")
    assert store.confirmed_tags(pid) == ["cat", "dog"]


def test_id_lists_longer_than_sqlite_binds_are_read_in_chunks(store):
    from core.store.base import MAX_PARAMS

    refs = [PhotoRef(f"/p/{i}.jpg") for i in range(2 * MAX_PARAMS + 7)]
    ids = store.add_photos(refs)
    store.replace_suggestions(
        ids[-1], [TagScore("dog", 0.5, "head")], backbone="b", sources=("head",)
    )
    found = store.suggestions_by_photo(ids, backbone="b")
    assert len(found) == len(ids) and found[ids[-1]][0].tag == "dog"
    assert store.photo_uris(ids) == {pid: ref.uri for pid, ref in zip(ids, refs, strict=True)}
    assert len(store.photos_by_id(ids)) == len(ids)
    assert len(store.faces_for(ids)) == len(ids)


def test_states_read_back_as_their_enums(store):
    from core.store import Decision, PhotoStatus

    pid = store.ensure_photo(PhotoRef("/p/1.jpg"))
    assert store.photo(pid).status is PhotoStatus.NEW
    store.record_decision(pid, "dog", Decision.REJECT)
    assert store.tag_states(pid) == {"dog": Decision.REJECT}
    assert sql(store, "select action from decisions").fetchone() == ("reject",)
    with pytest.raises(StoreError, match="unknown decision 'rejected'"):
        store.record_decision(pid, "dog", "rejected")
