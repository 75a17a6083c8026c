"""Keywords merged into sidecars and JPEGs: nothing of the person's is ever lost."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import subprocess

import numpy as np
import pytest
from PIL import Image

import core.atomic
from core.engine.sources import file_ref
from core.engine.vocabulary import TagScore, Vocabulary
from core.export.export import export_rows, write_csv, write_keyword_files
from core.export.iptc import iptc_keywords, read_datasets, read_resources
from core.export.jpeg_segments import JpegError, split_jpeg
from core.export.metadata import KeywordChange, merge_lists, sidecar_path, write_keywords
from core.export.xmp import SUBJECT, WRITTEN, get_list, parse_xmp
from core.store import PhotoResult
from tests.conftest import shared

EXIFTOOL = shutil.which("exiftool")
CAMERA_JPEGS = (
    "exif-samples/jpg/hdr/canon_hdr_NO.jpg",
    "exif-samples/jpg/Canon_40D.jpg",
    "exif-samples/jpg/Nikon_D70.jpg",
    "exif-samples/jpg/Olympus_C8080WZ.jpg",
    "exif-samples/jpg/Pentax_K10D.jpg",
    "exif-samples/jpg/hdr/iphone_hdr_YES.jpg",
    "exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg",
    "exif-samples/jpg/gps/DSCN0010.jpg",
    "immich-test-assets/metadata/tags/picasa.jpg",
    "exif-samples/jpg/tests/45-gps_ifd.jpg",  # has an MPF index
)
# exiftool gives these as positions in the file, which move when the XMP before them grows.
_FILE_POSITIONS = ("ThumbnailOffset", "PreviewImageStart")
_OURS = (
    "System:",
    "ExifTool:",
    "XMP-",
    "File:CurrentIPTCDigest",
    "Photoshop:IPTCDigest",
    "IPTC:Keywords",
    "IPTC:CodedCharacterSet",
    "IPTC:ApplicationRecordVersion",
)
DOG = KeywordChange(("dog", "Größe"), (("animal", "dog"), ("Größe",)))


def _copy(name: str, tmp_path, to: str | None = None):
    source = shared("decode-bench", *name.split("/"))
    target = tmp_path / (to or source.name)
    shutil.copy(source, target)
    target.chmod(0o644)  # the shared data is read-only
    return target


def _photo(tmp_path, name="p.jpg"):
    path = tmp_path / name
    pixels = np.random.default_rng(3).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def _exiftool(path) -> dict:
    out = subprocess.run(
        [EXIFTOOL, "-j", "-G1", "-a", "-u", str(path)], capture_output=True, check=True
    )
    return json.loads(out.stdout)[0]


def _exiv2_exif(path) -> dict:
    import pyexiv2

    with pyexiv2.Image(str(path)) as image:
        return image.read_exif()


def _segments_other_than_ours(path) -> list[bytes]:
    jpeg = split_jpeg(path.read_bytes())
    return [raw for s, raw in jpeg.raw if not (s.is_xmp or s.is_photoshop)] + [jpeg.tail]


@pytest.mark.parametrize("name", CAMERA_JPEGS)
def test_embedding_leaves_exif_maker_notes_and_image_data_byte_identical(name, tmp_path):
    photo = _copy(name, tmp_path)
    before_segments = _segments_other_than_ours(photo)
    before = _exiftool(photo) if EXIFTOOL else _exiv2_exif(photo)
    report = write_keywords([(photo, DOG)], sidecars=False, embed=True)
    assert report.count("written") == 1, report.outcomes
    assert _segments_other_than_ours(photo) == before_segments  # EXIF, MakerNote, MPF, scan
    if not EXIFTOOL:  # exiv2's reading of EXIF and maker notes instead
        assert _exiv2_exif(photo) == before
        return
    after = _exiftool(photo)
    changed = {
        k
        for k in before.keys() | after.keys()
        if not k.startswith(_OURS) and not k.endswith(_FILE_POSITIONS)
        if before.get(k) != after.get(k)
    }
    assert not changed, {k: (before.get(k), after.get(k)) for k in changed}
    assert after["XMP-dc:Subject"][-2:] == ["dog", "Größe"]
    assert after["XMP-lr:HierarchicalSubject"] == ["animal|dog", "Größe"]
    assert "Größe" in after["IPTC:Keywords"]  # read right because the set is declared UTF-8
    assert after["IPTC:CodedCharacterSet"] == "UTF8"


def test_canon_maker_notes_read_the_same_after_embedding(tmp_path):
    photo = _copy("exif-samples/jpg/hdr/canon_hdr_NO.jpg", tmp_path)
    if not EXIFTOOL:
        pytest.skip("exiftool is not installed")
    before = {k: v for k, v in _exiftool(photo).items() if k.startswith("Canon")}
    write_keywords([(photo, DOG)], sidecars=False, embed=True)
    after = {k: v for k, v in _exiftool(photo).items() if k.startswith("Canon")}
    assert len(before) > 80 and after == before


def test_a_users_keywords_stay_and_only_rejected_ones_we_wrote_go(tmp_path):
    photo = _copy("exif-samples/jpg/Canon_40D.jpg", tmp_path)
    if EXIFTOOL:  # written the way another program would, IPTC and XMP
        subprocess.run(
            [EXIFTOOL, "-q", "-overwrite_original", "-IPTC:Keywords=holiday",
             "-XMP-dc:Subject=holiday", "-XMP-xmp:Rating=4", str(photo)],
            check=True,
        )  # fmt: skip
    else:
        write_keywords([(photo, KeywordChange(("holiday",)))], sidecars=False, embed=True)
        root = parse_xmp(split_jpeg(photo.read_bytes()).xmp())
        assert get_list(root, WRITTEN) == ["holiday"]
        pytest.skip("exiftool is not installed to write a keyword as another program would")
    first = KeywordChange(("dog", "ball"), (("animal", "dog"), ("ball",)))
    write_keywords([(photo, first)], sidecars=False, embed=True)
    # The person rejects "ball", and "holiday" too, which PhotoTagger never wrote.
    second = KeywordChange(("dog",), (("animal", "dog"),), frozenset({"ball", "holiday"}))
    assert write_keywords([(photo, second)], sidecars=False, embed=True).count("written") == 1
    after = _exiftool(photo)
    assert after["XMP-dc:Subject"] == ["holiday", "dog"]
    assert after["IPTC:Keywords"] == ["holiday", "dog"]
    assert after["XMP-lr:HierarchicalSubject"] == "animal|dog"
    assert after["XMP-xmp:Rating"] == 4


def test_an_existing_sidecar_keeps_every_field_it_had(tmp_path):
    photo = _photo(tmp_path)
    sidecar = sidecar_path(photo)
    sidecar.write_text(
        """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/"
   xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/"
   xmp:Rating="3" crs:Exposure2012="+0.35" crs:Version="15.0">
  <dc:title><rdf:Alt><rdf:li xml:lang="x-default">Beach day</rdf:li></rdf:Alt></dc:title>
  <dc:subject><rdf:Bag><rdf:li>holiday</rdf:li><rdf:li>Dog</rdf:li></rdf:Bag></dc:subject>
  <!-- darktable history lives here -->
 </rdf:Description></rdf:RDF></x:xmpmeta>""",
        encoding="utf-8",
    )
    change = KeywordChange(("dog", "beach"), (("animal", "dog"), ("beach",)))
    assert write_keywords([(photo, change)], sidecars=True, embed=False).count("written") == 1
    text = sidecar.read_text(encoding="utf-8")
    for kept in ('xmp:Rating="3"', 'crs:Exposure2012="+0.35"', "Beach day", "darktable history"):
        assert kept in text
    root = parse_xmp(sidecar.read_bytes())
    assert get_list(root, SUBJECT) == ["holiday", "Dog", "beach"]  # "dog" is there as "Dog"
    assert get_list(root, WRITTEN) == ["beach", "animal|dog", "animal/dog"]
    if EXIFTOOL:
        tags = _exiftool(sidecar)
        assert tags["XMP-xmp:Rating"] == 3 and tags["XMP-dc:Title"] == "Beach day"
        assert tags["XMP-digiKam:TagsList"] == ["animal/dog", "beach"]


def test_files_already_right_are_not_touched_and_the_next_tag_run_sees_no_change(store, tmp_path):
    photo = _photo(tmp_path)
    ref = file_ref(photo)
    run = store.start_run(backbone="b", device="cpu", runtime="x", total=1)
    result = PhotoResult(ref, embedding=np.zeros(4, np.float32),
                         suggestions=(TagScore("dog", 0.9, "imagenet"),))  # fmt: skip
    store.save_results([result], run_id=run, backbone="b")
    store.record_decision(store.photo_id(ref.uri), "dog", "accept")
    rows = lambda: export_rows(store, scope="confirmed")  # noqa: E731
    first = write_keyword_files(
        rows(), vocabulary=Vocabulary.bundled(), sidecars=True, embed=True, store=store
    )
    assert first.count("written") == 2
    assert store.pending([file_ref(photo)], backbone="b") == []  # the embedding still holds
    before = [os.stat(p) for p in (photo, sidecar_path(photo))]
    again = write_keyword_files(
        rows(), vocabulary=Vocabulary.bundled(), sidecars=True, embed=True, store=store
    )
    assert again.count("unchanged") == 2 and again.count("written") == 0
    after = [os.stat(p) for p in (photo, sidecar_path(photo))]
    assert [(s.st_ino, s.st_mtime_ns) for s in after] == [(s.st_ino, s.st_mtime_ns) for s in before]


def test_a_batch_of_ten_goes_on_past_a_read_only_and_a_corrupt_photo(tmp_path):
    photos = [_photo(tmp_path, f"p{i}.jpg") for i in range(10)]
    photos[3].chmod(0o444)
    photos[6].write_bytes(b"\xff\xd8\xff\xe1\x40\x00 cut short")
    corrupt_before = photos[6].read_bytes()
    report = write_keywords([(p, DOG) for p in photos], sidecars=False, embed=True)
    assert [(o.photo.name, o.message) for o in report.failures] == [
        ("p3.jpg", "p3.jpg is read-only; left as it is"),
        ("p6.jpg", "corrupt JPEG: a segment at byte 2 runs past the end"),
    ]
    assert report.count("written") == 8
    assert photos[6].read_bytes() == corrupt_before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in photos)


def test_a_full_disk_leaves_the_photo_whole_and_the_batch_goes_on(tmp_path, monkeypatch):
    photos = [_photo(tmp_path, f"p{i}.jpg") for i in range(3)]
    originals = [p.read_bytes() for p in photos]
    real_write = core.atomic._write_all
    calls = []

    def write_all(fd, data):
        calls.append(fd)
        if len(calls) == 2:
            os.write(fd, data[:100])  # half a file, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_write(fd, data)

    monkeypatch.setattr(core.atomic, "_write_all", write_all)
    report = write_keywords([(p, DOG) for p in photos], sidecars=False, embed=True)
    assert [(o.photo.name, o.message) for o in report.failures] == [
        ("p1.jpg", "No space left on device; left as it was")
    ]
    assert photos[1].read_bytes() == originals[1]
    assert report.count("written") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p0.jpg", "p1.jpg", "p2.jpg"]


def test_new_files_follow_the_umask_and_old_ones_keep_their_mode(store, tmp_path):
    photo = _photo(tmp_path)
    photo.chmod(0o640)
    old = os.umask(0o022)
    try:
        write_keywords([(photo, DOG)], sidecars=True, embed=True)
        write_csv([], tmp_path / "t.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(photo).st_mode) == 0o640
    assert stat.S_IMODE(os.stat(sidecar_path(photo)).st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "t.csv").st_mode) == 0o644


def test_lightroom_naming_and_other_formats_get_a_sidecar(tmp_path):
    png = tmp_path / "shot.png"
    Image.new("RGB", (8, 8)).save(png)
    before = png.read_bytes()
    report = write_keywords([(png, DOG)], sidecars=False, embed=True, naming="photo.xmp")
    assert report.outcomes[0].target == tmp_path / "shot.xmp"
    assert "PNG files are not written into" in report.outcomes[0].message
    assert png.read_bytes() == before


def test_iptc_keywords_are_utf8_and_cut_to_64_bytes_while_xmp_keeps_them_whole(tmp_path):
    photo = _photo(tmp_path)
    long = "ü" * 40  # 80 bytes in UTF-8
    write_keywords([(photo, KeywordChange(("café", long)))], sidecars=False, embed=True)
    jpeg = split_jpeg(photo.read_bytes())
    resources = read_resources(jpeg.photoshop())
    assert iptc_keywords(resources) == ["café", "ü" * 32]
    datasets = read_datasets(next(r.data for r in resources if r.id == 0x0404))
    assert (1, 90, b"\x1b%G") in datasets
    assert get_list(parse_xmp(jpeg.xmp()), SUBJECT) == ["café", long]
    assert b"<rdf:Bag>" in jpeg.xmp() and b"rdf:Seq><rdf:li>caf" not in jpeg.xmp()


def test_merge_lists_removes_only_what_it_wrote_and_was_rejected():
    lists, record = merge_lists(
        {"subject": ["holiday", "dog", "cat"]},
        {"subject": ["dog", "sea"]},
        written=["dog", "cat"],
        retract=frozenset({"cat", "holiday"}),
    )
    assert lists == {"subject": ["holiday", "dog", "sea"]}
    assert record == ["dog", "sea"]


def test_not_a_jpeg_is_a_clear_error():
    with pytest.raises(JpegError, match="not a JPEG"):
        split_jpeg(b"GIF89a")


def test_new_blocks_go_before_an_mpf_index_and_blocks_after_one_are_refused(tmp_path):
    from core.export.jpeg_segments import APP1, APP2, XMP_HEADER, Segment, join_jpeg

    photo = _photo(tmp_path)
    data = photo.read_bytes()
    mpf = Segment(APP2, b"MPF\x00" + b"\x00" * 40).encode()
    with_mpf = data[:2] + mpf + data[2:]
    joined = join_jpeg(split_jpeg(with_mpf), xmp=b"<x/>", photoshop=None)
    markers = [s.marker for s in split_jpeg(joined).segments]
    assert markers.index(APP1) < markers.index(APP2)
    late = with_mpf[:2] + mpf + Segment(APP1, XMP_HEADER + b"<x/>").encode() + data[2:]
    with pytest.raises(JpegError, match="after an MPF index"):
        join_jpeg(split_jpeg(late), xmp=b"<y/>", photoshop=None)


def test_keywords_in_only_iptc_are_kept_and_shown_in_xmp_too(tmp_path):
    from core.export.iptc import with_keywords
    from core.export.jpeg_segments import join_jpeg

    photo = _photo(tmp_path)
    jpeg = split_jpeg(photo.read_bytes())  # as an older program leaves it: IPTC, no XMP
    photo.write_bytes(join_jpeg(jpeg, xmp=None, photoshop=with_keywords([], ["holiday"])))
    write_keywords([(photo, KeywordChange(("dog",)))], sidecars=False, embed=True)
    jpeg = split_jpeg(photo.read_bytes())
    root = parse_xmp(jpeg.xmp())
    assert get_list(root, SUBJECT) == ["holiday", "dog"]
    assert get_list(root, WRITTEN) == ["dog"]
    assert iptc_keywords(read_resources(jpeg.photoshop())) == ["holiday", "dog"]


def test_an_unreadable_sidecar_is_left_as_it_was(tmp_path):
    photo = _photo(tmp_path)
    sidecar = sidecar_path(photo)
    sidecar.write_text("<x:xmpmeta not closed", encoding="utf-8")
    report = write_keywords([(photo, DOG)], sidecars=True, embed=False)
    assert report.failures[0].message.startswith("p.jpg.xmp: unreadable XMP")
    assert sidecar.read_text(encoding="utf-8") == "<x:xmpmeta not closed"
