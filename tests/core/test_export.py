"""CSV, JSON, XMP sidecars and embedded keywords."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from core.engine.sources import PhotoRef
from core.engine.vocabulary import TagScore, Vocabulary
from core.export.export import (
    export_rows,
    read_embedded_keywords,
    write_csv,
    write_json,
    write_keyword_files,
)
from core.export.metadata import KeywordChange, write_keywords
from core.export.tables import safe_cell
from core.store import PhotoResult


def _tagged(store, uri: str, tags) -> int:
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=1)
    store.save_results(
        [
            PhotoResult(
                PhotoRef(uri),
                embedding=np.zeros(4, np.float32),
                suggestions=tuple(TagScore(t, s, "imagenet") for t, s in tags),
            )
        ],
        run_id=run,
        backbone="b",
    )
    return store.photo_id(uri)


def test_csv_reads_back_with_decisions_and_neutralised_formulas(store, tmp_path):
    a = _tagged(store, "/photos/a.jpg", [("golden retriever", 0.9), ("dog", 0.95), ("cat", 0.05)])
    b = _tagged(store, '/photos/b,"odd".jpg', [("pizza", 0.6)])
    store.record_decision(a, "golden retriever", "reject")
    store.record_decision(a, '=HYPERLINK("http://evil")', "add")
    store.record_decision(b, "café", "add")
    out = tmp_path / "tags.csv"
    assert write_csv(export_rows(store, threshold=0.2, top_k=5), out) == 2
    with open(out, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    by_loc = {r["location"]: r for r in rows}
    row_a = by_loc["/photos/a.jpg"]
    assert row_a["tags"].startswith("'=HYPERLINK")  # added tag first, neutralised
    assert "golden retriever" not in row_a["tags"] and "cat" not in row_a["tags"]
    assert "dog:0.950" in row_a["tags"]
    assert row_a["hashtags"] == "#hyperlinkhttpevil #dog"
    assert by_loc['/photos/b,"odd".jpg']["hashtags"] == "#café #pizza"


def test_confirmed_scope_leaves_suggestions_out(store, tmp_path):
    a = _tagged(store, "/photos/a.jpg", [("dog", 0.95), ("ball", 0.5)])
    store.record_decision(a, "dog", "accept")
    rows = list(export_rows(store, scope="confirmed", threshold=0.2, top_k=5))
    assert [t.tag for t in rows[0].tags] == ["dog"]
    out = tmp_path / "t.json"
    write_json(rows, out)
    data = json.loads(out.read_text())
    assert data[0]["hashtags"] == ["#dog"] and data[0]["tags"][0]["state"] == "accepted"


def _statements(store, fn) -> int:
    """How many SQL statements ``fn()`` issues on the store's connection."""
    seen = []
    store._db.conn.set_trace_callback(seen.append)
    try:
        fn()
    finally:
        store._db.conn.set_trace_callback(None)
    return len(seen)


def test_export_reads_in_batches_not_per_photo(store, tmp_path):
    def export(**kwargs):
        return _statements(
            store, lambda: write_csv(export_rows(store, **kwargs), tmp_path / "t.csv")
        )

    uris = [f"/photos/{i:03d}.jpg" for i in range(60)]
    for uri in uris[:3]:
        store.record_decision(_tagged(store, uri, [("dog", 0.9)]), "cat", "add")
    few, few_by_uri = export(), export(uris=uris[:3])
    for uri in uris[3:]:
        store.record_decision(_tagged(store, uri, [("dog", 0.9)]), "cat", "add")
    assert export() == few and export(uris=uris) == few_by_uri
    assert few <= 10 and few_by_uri <= 10


def test_export_of_given_uris_keeps_their_order_and_skips_unknown_ones(store):
    for name in ("a", "b", "c"):
        _tagged(store, f"/photos/{name}.jpg", [("dog", 0.9)])
    rows = export_rows(store, uris=["/photos/c.jpg", "/photos/gone.jpg", "/photos/a.jpg"])
    assert [r.location for r in rows] == ["/photos/c.jpg", "/photos/a.jpg"]


def test_safe_cell():
    assert [safe_cell(v) for v in ("=1+1", "+x", "-x", "@x", "plain", "")] == [
        "'=1+1",
        "'+x",
        "'-x",
        "'@x",
        "plain",
        "",
    ]


def test_failed_write_keeps_the_old_file(store, tmp_path):
    _tagged(store, "/photos/a.jpg", [("dog", 0.9)])
    out = tmp_path / "tags.csv"
    out.write_text("previous export")

    def rows():
        yield from export_rows(store)
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_csv(rows(), out)
    assert out.read_text() == "previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["tags.csv"]


def _photo(tmp_path, name="p.jpg"):
    path = tmp_path / name
    Image.fromarray(np.random.default_rng(3).integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(
        path, quality=90
    )
    return path


def test_xmp_sidecar_has_keywords_and_hierarchy(store, tmp_path):
    photo = _photo(tmp_path)
    pid = _tagged(store, str(photo), [("golden retriever", 0.9)])
    store.record_decision(pid, "Grandma", "add")
    report = write_keyword_files(
        export_rows(store), vocabulary=Vocabulary.bundled(), sidecars=True, embed=False
    )
    assert report.count("written") == 1
    root = ET.parse(tmp_path / "p.jpg.xmp").getroot()
    ns = {
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "dc": "http://purl.org/dc/elements/1.1/",
        "lr": "http://ns.adobe.com/lightroom/1.0/",
    }
    subjects = [li.text for li in root.findall(".//dc:subject/rdf:Bag/rdf:li", ns)]
    paths = [li.text for li in root.findall(".//lr:hierarchicalSubject/rdf:Bag/rdf:li", ns)]
    assert subjects == ["Grandma", "golden retriever"]
    assert "animal|pet|dog|golden retriever" in paths and "Grandma" in paths


def test_embedded_keywords_leave_the_image_data_alone(tmp_path):
    photo = _photo(tmp_path)
    before = np.asarray(Image.open(photo)).copy()
    scan_before = _jpeg_scan(photo.read_bytes())
    change = KeywordChange(("dog", "Grandma"), (("animal", "dog"),))
    assert write_keywords([(photo, change)], sidecars=False, embed=True).count("written") == 1
    assert read_embedded_keywords(photo) == ["dog", "Grandma"]
    assert _jpeg_scan(photo.read_bytes()) == scan_before
    assert np.array_equal(np.asarray(Image.open(photo)), before)
    assert [p.name for p in tmp_path.iterdir()] == ["p.jpg"]


def _jpeg_scan(data: bytes) -> str:
    """Hash of the entropy-coded image data (from start-of-scan on), which metadata must not touch."""
    return hashlib.sha256(data[data.index(b"\xff\xda") :]).hexdigest()


def test_csv_opens_in_a_spreadsheet_program_shape(store, tmp_path):
    _tagged(store, "/photos/a.jpg", [("dog", 0.9)])
    out = tmp_path / "tags.csv"
    write_csv(export_rows(store), out)
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # BOM for Excel, RFC 4180 line ends
    assert next(csv.reader(io.StringIO(raw.decode("utf-8-sig")))) == [
        "location",
        "status",
        "hashtags",
        "tags",
        "error",
    ]
