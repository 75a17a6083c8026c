"""The database worker's jobs, as plain functions of a Store (no window)."""

from __future__ import annotations

import numpy as np

from core.curation.curate import mark_rejects
from core.engine.sources import PhotoRef
from core.engine.vocabulary import TagScore
from core.store import PhotoResult
from desktop.tasks import load_updates


def _saved(store, uri: str, *, error: str | None = None) -> PhotoRef:
    ref = PhotoRef(uri, size=10, mtime=1)
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=1)
    store.save_results(
        [
            PhotoResult(
                ref,
                embedding=np.zeros(4, np.float32),
                suggestions=() if error else (TagScore("dog", 0.9, "imagenet"),),
                error=error,
            )
        ],
        run_id=run,
        backbone="b",
    )
    return ref


def test_updates_carry_status_tags_refs_and_rejects_in_a_few_queries(store):
    good, bad = _saved(store, "/p/good.jpg"), _saved(store, "/p/bad.jpg", error="cannot decode")
    ids = {ref.uri: store.photo_id(ref.uri) for ref in (bad, good)}
    store.record_decision(ids[good.uri], "cat", "reject")
    mark_rejects(store, [ids[bad.uri]])

    seen: list[str] = []
    store._db.conn.set_trace_callback(seen.append)
    updates = load_updates(store, ids, threshold=0.2, top_k=5, refs={good.uri: good})
    store._db.conn.set_trace_callback(None)
    assert len(seen) <= 6  # suggestions, decisions, photos, picks: not per photo

    first, second = updates
    assert (first.uri, first.photo_id, first.status, first.error) == (
        bad.uri,
        ids[bad.uri],
        "failed",
        "cannot decode",
    )
    assert first.tags == () and first.ref is None and first.rejected is True
    assert (second.status, second.error, second.ref, second.rejected) == (
        "tagged",
        None,
        good,
        False,
    )
    assert [(t.tag, t.state) for t in second.tags] == [("dog", "suggested"), ("cat", "rejected")]

    quick = load_updates(store, ids, threshold=0.2, top_k=5, look_up_rejects=False)
    assert [u.rejected for u in quick] == [None, None]
    assert [u.tags for u in quick] == [u.tags for u in updates]
