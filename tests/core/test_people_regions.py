"""Named faces in metadata: People|Name keywords and MWG face regions, read back by exiftool."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from core.engine.faces import Face
from core.engine.sources import PhotoRef
from core.engine.vocabulary import Vocabulary
from core.export.export import export_rows, write_keyword_files
from core.export.xmp import FaceRegion, get_regions, parse_xmp, set_regions, xmp_bytes
from core.people.groups import group_faces
from core.people.naming import name_group, reject_face
from core.store import PhotoResult
from tests.conftest import shared
from tests.store_sql import sql

THEIRS = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/"
 xmlns:stArea="http://ns.adobe.com/xmp/sType/Area#" xmlns:stDim="http://ns.adobe.com/xap/1.0/sType/Dimensions#"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:subject><rdf:Bag><rdf:li>holiday</rdf:li></rdf:Bag></dc:subject>
<mwg-rs:Regions rdf:parseType="Resource">
 <mwg-rs:AppliedToDimensions stDim:w="640" stDim:h="480" stDim:unit="pixel"/>
 <mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description mwg-rs:Name="Bob" mwg-rs:Type="Face">
  <mwg-rs:Area stArea:x="0.8" stArea:y="0.3" stArea:w="0.1" stArea:h="0.12" stArea:unit="normalized"/>
 </rdf:Description></rdf:li></rdf:Bag></mwg-rs:RegionList>
</mwg-rs:Regions>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_regions_merge_keeps_others_and_replaces_ours():
    root = parse_xmp(THEIRS)
    anna = FaceRegion.from_box("Anna", (0.2, 0.1, 0.4, 0.5))
    assert (anna.x, anna.y, anna.w, anna.h) == (0.3, 0.3, 0.2, 0.4)
    assert set_regions(root, [anna], size=(640, 480))
    assert not set_regions(root, [anna], size=(640, 480))  # already right
    again = parse_xmp(xmp_bytes(root))
    found = {r.name: r for r in get_regions(again)}
    assert set(found) == {"Bob", "Anna"}
    assert found["Anna"].ours and not found["Bob"].ours
    assert set_regions(again, [], size=None)  # Anna was moved out: only ours goes
    assert [r.name for r in get_regions(again)] == ["Bob"]
    # a name the file already gives to someone else's region is left to theirs
    assert not set_regions(again, [FaceRegion.from_box("bob", (0.1, 0.1, 0.2, 0.2))], size=None)


def _exiftool(path) -> dict:
    if shutil.which("exiftool") is None:
        pytest.skip("exiftool is not installed")
    out = subprocess.run(
        ["exiftool", "-j", "-struct", "-XMP:all", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)[0]


def _photo_with_faces(store, path, vectors) -> int:
    faces = tuple(
        Face((0.1 + 0.3 * i, 0.2, 0.3 + 0.3 * i, 0.5), 0.99, (), embedding=v)
        for i, v in enumerate(vectors)
    )
    stat = path.stat()
    ref = PhotoRef(uri=str(path), kind="file", size=stat.st_size, mtime=stat.st_mtime_ns)
    run = store.start_run(backbone="b", device="cpu", runtime="onnx", total=1)
    store.save_results(
        [PhotoResult(ref, 640, 480, "JPEG", faces=faces, face_detector="d", face_encoder="e")],
        run_id=run,
        backbone="b",
    )
    return store.photo_id(ref.uri)


def test_named_faces_reach_the_sidecar_as_regions_and_people_keywords(store, tmp_path):
    photo = tmp_path / "two.jpg"
    shutil.copy(shared("faces", "test", "obama_and_biden.jpg"), photo)
    (tmp_path / "two.jpg.xmp").write_bytes(THEIRS)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 128)).astype(np.float32) * 0.1
    pid = _photo_with_faces(store, photo, [a, b])
    group_faces(store)
    faces = sql(
        store, "select id, person_id from faces where photo_id = ? order by id", [pid]
    ).fetchall()
    name_group(store, faces[0][1], "Barack Obama")
    name_group(store, faces[1][1], "Joe Biden")

    def export():
        rows = export_rows(store, scope="confirmed", uris=[str(photo)])
        return write_keyword_files(
            rows, vocabulary=Vocabulary.bundled(), sidecars=True, embed=False, store=store
        )

    assert export().summary().startswith("1 file written")
    meta = _exiftool(tmp_path / "two.jpg.xmp")
    regions = meta["RegionInfo"]["RegionList"]
    by_name = {r["Name"]: r for r in regions}
    assert set(by_name) == {"Bob", "Barack Obama", "Joe Biden"}
    obama = by_name["Barack Obama"]
    assert obama["Type"] == "Face"
    assert obama["Area"]["Unit"] == "normalized"
    assert (obama["Area"]["X"], obama["Area"]["Y"]) == pytest.approx((0.2, 0.35))
    assert (obama["Area"]["W"], obama["Area"]["H"]) == pytest.approx((0.2, 0.3))
    assert meta["RegionInfo"]["AppliedToDimensions"]["W"] == 640
    assert {"People|Barack Obama", "People|Joe Biden"} <= set(meta["HierarchicalSubject"])
    assert {"holiday", "Barack Obama", "Joe Biden"} <= set(meta["Subject"])
    assert export().summary().startswith("0 files written, 1 already right")
    # "not Joe Biden": his keyword and region go; Bob's region and the user's keyword stay
    reject_face(store, faces[1][0])
    export()
    meta = _exiftool(tmp_path / "two.jpg.xmp")
    assert {r["Name"] for r in meta["RegionInfo"]["RegionList"]} == {"Bob", "Barack Obama"}
    assert "Joe Biden" not in meta["Subject"] and "holiday" in meta["Subject"]
    assert meta["HierarchicalSubject"] == "People|Barack Obama" or meta["HierarchicalSubject"] == [
        "People|Barack Obama"
    ]
