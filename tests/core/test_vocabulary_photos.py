"""The vocabulary on real coco-mini photos, through the pipeline and the store as the app reads them."""

from __future__ import annotations

import csv
import json

import pytest

from core.engine.pipeline import tag_photos
from core.engine.sources import file_ref
from core.learning.review import photo_tags
from core.settings import Settings
from core.store import Store
from tests.conftest import shared

pytestmark = pytest.mark.slow

BUS = "train2017/000000252639.jpg"  # a trolleybus in a street, with cars and people


@pytest.fixture(scope="module")
def coco_store(tagger, tmp_path_factory):
    folder = shared("coco-mini")
    with open(folder / "tags.csv", newline="", encoding="utf-8") as fh:
        paths = [row["path"] for row in csv.DictReader(fh)]
    refs = {path: file_ref(folder / path) for path in paths}
    with Store(tmp_path_factory.mktemp("coco") / "coco.db") as store:
        summary = tag_photos(list(refs.values()), tagger=tagger, store=store)
        assert summary.failed == 0
        yield store, {path: store.photo_id(ref.uri) for path, ref in refs.items()}


def shown(store: Store, photo_id: int):
    settings = Settings()
    return photo_tags(store, photo_id, threshold=settings.threshold, top_k=settings.top_k)


def test_bus_gets_bus_and_no_container(coco_store):
    store, ids = coco_store
    tags = [t.tag for t in shown(store, ids[BUS])]
    assert tags[0] == "bus"
    assert "container" not in tags and "vehicle" not in tags
    stored = {s.tag for s in store.suggestions(ids[BUS])}
    assert "container" not in stored


def test_every_photo_gets_a_tag_some_marked_low_confidence(coco_store):
    store, ids = coco_store
    tagged = {path: shown(store, pid) for path, pid in ids.items()}
    assert all(tagged.values()), [p for p, tags in tagged.items() if not tags]
    low = [p for p, tags in tagged.items() if all(t.low_confidence for t in tags)]
    assert 0 < len(low) < len(ids) / 2
    for tags in tagged.values():  # fallback tags never mix with confident ones
        assert len({t.low_confidence for t in tags}) == 1


def test_guesses_stay_greyed_beside_confirmed_tags_and_out_of_files(coco_store, tmp_path):
    from core.engine.vocabulary import Vocabulary
    from core.export.export import export_rows, keyword_change

    store, ids = coco_store
    pid = next(pid for pid in ids.values() if all(t.low_confidence for t in shown(store, pid)))
    first, second = shown(store, pid)
    store.record_decision(pid, first.tag, "accept")
    tags = shown(store, pid)
    assert (tags[0].tag, tags[0].state, tags[0].low_confidence) == (first.tag, "accepted", False)
    assert second.tag in [t.tag for t in tags[1:]] and all(t.low_confidence for t in tags[1:])
    (row,) = export_rows(store, uris=[store.photo(pid).uri])
    change = keyword_change(row, Vocabulary.bundled())
    assert change.keywords == (first.tag,)


def test_more_than_ten_suggestions_per_source_are_stored(coco_store):
    """A photo the backbone is unsure of keeps far more than ten guesses per source."""
    store, ids = coco_store
    for source in ("imagenet", "hierarchy"):
        counts = [
            len([s for s in store.suggestions(pid) if s.source == source]) for pid in ids.values()
        ]
        assert max(counts) > 10, source
        assert sorted(counts)[len(counts) // 2] > 10, source


def test_exports_mark_low_confidence_tags(coco_store, tmp_path):
    from core.export.export import export_rows, write_csv, write_json

    store, ids = coco_store
    low = next(p for p, pid in ids.items() if all(t.low_confidence for t in shown(store, pid)))
    uri = store.photo(ids[low]).uri
    write_csv(export_rows(store, uris=[uri]), tmp_path / "t.csv")
    with open(tmp_path / "t.csv", newline="", encoding="utf-8-sig") as fh:
        (row,) = csv.DictReader(fh)
    assert row["hashtags"].startswith("#") and "(low confidence)" in row["tags"]
    write_json(export_rows(store, uris=[uri]), tmp_path / "t.json")
    (item,) = json.loads((tmp_path / "t.json").read_text())
    assert item["tags"] and all(t["low_confidence"] for t in item["tags"])
