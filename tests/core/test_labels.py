"""Importing earlier work: a path,tags CSV and keywords already in photos become decisions."""

from __future__ import annotations

import shutil

from core.engine.sources import collect
from core.export.metadata import KeywordChange, write_keywords
from core.learning.labels import import_csv, import_keywords, parse_tags, read_labels_csv
from tests.store_sql import sql


def test_parse_tags_tidies_cells():
    assert parse_tags(" #Grandma; paris2024 ,dog|dog ;; ") == ["Grandma", "paris2024", "dog"]


def test_import_csv_records_adds_keeps_decisions_and_lists_missing(store, coco_dir, tmp_path):
    photos = sorted((coco_dir / "val2017").glob("*.jpg"))[:2]
    local = tmp_path / "album" / "a.jpg"
    local.parent.mkdir()
    shutil.copy(photos[1], local)
    csv_path = tmp_path / "album" / "labels.csv"
    csv_path.write_text(
        f'path,tags\n"{photos[0]}","#grandma;paris2024;dog"\na.jpg,"beach, sunset"\ngone.jpg,cat\n',
        encoding="utf-8",
    )
    assert [p for p, _ in read_labels_csv(csv_path)][1] == local
    first = store.ensure_photo(next(collect([photos[0]])))
    store.record_decision(first, "dog", "reject", origin="gui")
    summary = import_csv(store, csv_path)
    assert (summary.photos, summary.decisions, summary.skipped_tags) == (2, 4, 1)
    assert summary.missing == (str(tmp_path / "album" / "gone.jpg"),)
    assert store.tag_states(first) == {"dog": "reject", "grandma": "add", "paris2024": "add"}
    second = store.photo_id(str(local))
    assert store.confirmed_tags(second) == ["beach", "sunset"]
    origins = {r[0] for r in sql(store, "select origin from decisions where action = 'add'")}
    assert origins == {"import-csv"}


def test_import_keywords_from_xmp_and_iptc(store, coco_dir, tmp_path):
    photo = tmp_path / "kw.jpg"
    shutil.copy(sorted((coco_dir / "val2017").glob("*.jpg"))[0], photo)
    shutil.copy(sorted((coco_dir / "val2017").glob("*.jpg"))[1], tmp_path / "plain.jpg")
    photo.chmod(0o644)
    change = KeywordChange(("grandma", "paris 2024"), (("people", "grandma"),))
    write_keywords([(photo, change)], sidecars=False, embed=True)
    summary = import_keywords(store, collect([tmp_path]))
    assert (summary.photos, summary.decisions) == (1, 2)
    pid = store.photo_id(str(photo))
    assert store.confirmed_tags(pid) == ["grandma", "paris 2024"]
    assert store.photo_id(str(tmp_path / "plain.jpg")) is None


def test_import_reads_hierarchies_and_sidecars_and_says_why_when_nothing(store, coco_dir, tmp_path):
    from core.export.xmp import HIERARCHY, TAGS_LIST, parse_xmp, set_list, xmp_bytes

    photo = tmp_path / "a.jpg"
    shutil.copy(sorted((coco_dir / "val2017").glob("*.jpg"))[0], photo)
    root = parse_xmp(None)
    set_list(root, HIERARCHY, ["places|Paris"])
    set_list(root, TAGS_LIST, ["people/Grandma"])
    (tmp_path / "a.xmp").write_bytes(xmp_bytes(root))
    summary = import_keywords(store, collect([photo]))
    assert summary.why_nothing("x") is None
    assert store.confirmed_tags(store.photo_id(str(photo))) == ["Grandma", "Paris"]
    plain = tmp_path / "plain"
    plain.mkdir()
    shutil.copy(sorted((coco_dir / "val2017").glob("*.jpg"))[1], plain / "b.jpg")
    nothing = import_keywords(store, collect([plain]))
    assert "none of the 1 photos has keywords" in nothing.why_nothing(str(plain))
