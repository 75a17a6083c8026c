"""The phototagger command: the main job, decisions, exports, errors and exit codes."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

from core.store import Store
from tests.conftest import ROOT, shared
from tests.store_sql import sql


def run(*args: str, check_code: int | None = 0) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check_code is not None:
        assert out.returncode == check_code, out.stderr
    return out


def test_help_is_quick_because_imports_are_lazy():
    script = "import sys; import core.cli; print(sorted(m for m in ('torch', 'timm', 'onnxruntime', 'numpy', 'PIL') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
    assert "tag" in run("--help").stdout


def test_tag_a_folder_to_csv_then_review_and_export(tagger, tmp_path):
    folder = tmp_path / "album"
    folder.mkdir()
    for path in sorted(shared("coco-mini", "train2017").glob("*.jpg"))[:8]:
        shutil.copy(path, folder / path.name)
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really")
    db, out_csv = tmp_path / "t.db", tmp_path / "tags.csv"
    result = run(
        "tag",
        str(folder),
        "--db",
        str(db),
        "--csv",
        str(out_csv),
        "--threshold",
        "0.1",
        check_code=1,
    )
    assert "8 tagged, 1 failed, 0 already done" in result.stderr
    assert f"failed: {folder / 'broken.jpg'}: " in result.stderr
    with open(out_csv, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 9
    good = [r for r in rows if r["status"] == "tagged"]
    assert len(good) == 8 and all(r["hashtags"].startswith("#") for r in good)
    assert next(r for r in rows if r["status"] == "failed")["error"]

    first = folder / sorted(p.name for p in folder.iterdir())[0]
    decided = run("decide", str(first), "--add", "grandma", "--add", "=SUM(A1)", "--db", str(db))
    assert "grandma" in decided.stdout
    out_json = tmp_path / "tags.json"
    run(
        "export",
        "--format",
        "json",
        "--scope",
        "confirmed",
        "--out",
        str(out_json),
        "--db",
        str(db),
    )
    data = {item["location"]: item for item in json.loads(out_json.read_text())}
    assert data[str(first)]["hashtags"] == ["#suma1", "#grandma"]
    run("export", "--out", str(out_csv), "--threshold", "0.1", "--db", str(db))
    with open(out_csv, newline="", encoding="utf-8-sig") as fh:
        row = next(r for r in csv.DictReader(fh) if r["location"] == str(first))
    assert row["tags"].startswith("'=SUM(A1); grandma; ")

    # Unchanged files are not decoded again, broken ones included.
    again = run("tag", str(folder), "--db", str(db))
    assert "0 tagged, 0 failed, 9 already done" in again.stderr


def test_errors_are_one_line_with_meaningful_codes(tmp_path):
    missing = run("tag", str(tmp_path / "nowhere"), "--db", str(tmp_path / "t.db"), check_code=3)
    assert missing.stderr.strip().count("\n") == 0 and "no such file or folder" in missing.stderr
    assert run("tag", check_code=2).returncode == 2
    bad_backbone = run("tag", str(tmp_path), "--backbone", "nope", check_code=3)
    assert "unknown backbone 'nope'" in bad_backbone.stderr
    (tmp_path / "a.jpg").write_bytes(b"")
    no_photo = run(
        "decide",
        str(tmp_path / "a.jpg"),
        "--add",
        "x",
        "--db",
        str(tmp_path / "t.db"),
        check_code=3,
    )
    assert "tag it first" in no_photo.stderr
    (tmp_path / "not.db").write_text("x" * 5000)
    corrupt = run("tag", str(tmp_path / "a.jpg"), "--db", str(tmp_path / "not.db"), check_code=3)
    assert "cannot open the database" in corrupt.stderr and "Traceback" not in corrupt.stderr


def test_backbones_lists_availability():
    out = run("backbones").stdout
    assert "efficientnet-lite0 (default)" in out and "available" in out
    assert "vgg16" in out and "timm hub" in out


def test_decide_is_recorded_with_cli_origin(tmp_path, tagger):
    photo = tmp_path / "p.jpg"
    shutil.copy(sorted(shared("coco-mini", "train2017").glob("*.jpg"))[0], photo)
    db = tmp_path / "t.db"
    run("tag", str(photo), "--db", str(db))
    run("decide", str(photo), "--reject", "dog", "--db", str(db))
    with Store(db) as store:
        assert sql(store, "select tag, action, origin from decisions").fetchall() == [
            ("dog", "reject", "cli")
        ]


def _reviewed_album(tmp_path, count: int):
    """A folder of real photos with one confirmed tag each, recorded straight in a database."""
    from core.engine.sources import file_ref

    folder = tmp_path / "album"
    folder.mkdir()
    photos = []
    for path in sorted(shared("coco-mini", "train2017").glob("*.jpg"))[:count]:
        shutil.copy(path, folder / path.name)
        (folder / path.name).chmod(0o644)
        photos.append(folder / path.name)
    db = tmp_path / "t.db"
    with Store(db) as store:
        for photo in photos:
            pid = store.ensure_photo(file_ref(photo))
            store.record_decision(pid, "Grandma", "add", origin="cli")
    return photos, db


def test_export_into_photos_goes_on_past_bad_files_and_exits_1(tmp_path):
    photos, db = _reviewed_album(tmp_path, 10)
    photos[2].chmod(0o444)
    photos[5].write_bytes(b"\xff\xd8\xff\xe1\x40\x00 cut short")
    out = run("export", "--format", "xmp", "--embed", "--db", str(db), check_code=1)
    failed = [line for line in out.stderr.splitlines() if line.startswith("failed: ")]
    assert failed == [
        f"failed: {photos[2]}: {photos[2].name} is read-only; left as it is",
        f"failed: {photos[5]}: corrupt JPEG: a segment at byte 2 runs past the end",
    ]
    assert "Traceback" not in out.stderr
    # Ten sidecars (a read-only or corrupt photo can still have one) and eight photos.
    assert "18 files written, 0 already right, 2 failed" in out.stderr
    assert len(list(photos[0].parent.glob("*.jpg.xmp"))) == 10
    again = run("export", "--format", "xmp", "--embed", "--db", str(db), check_code=1)
    assert "0 files written, 18 already right, 2 failed" in again.stderr
    embed_only = run("export", "--embed", "--db", str(db), check_code=1)
    assert "0 files written, 8 already right, 2 failed" in embed_only.stderr


def test_export_options_agree_with_their_help(tmp_path):
    from core.cli import TOP_K_MAX
    from core.settings import Settings

    top_k = next(f for f in Settings.__dataclass_fields__.values() if f.name == "top_k")
    assert top_k.metadata["maximum"] == TOP_K_MAX
    assert "1<=x<=50" in run("export", "--help").stdout
    db = str(tmp_path / "t.db")
    run("export", "--out", str(tmp_path / "a.csv"), "--top-k", "50", "--db", db)
    assert "--top-k" in run("export", "--top-k", "100", "--db", db, check_code=2).stderr
    guesses = run("export", "--format", "xmp", "--scope", "suggested", "--db", db, check_code=2)
    assert "--min-score" in guesses.stderr
    assert "--db" in run("compare", "--help").stdout


def test_import_that_matches_nothing_says_why(tmp_path):
    db = str(tmp_path / "t.db")
    table = tmp_path / "tags.csv"
    table.write_text("path,tags\ngone.jpg,dog\n", encoding="utf-8")
    positional = run("import", str(table), "--db", db, check_code=2)
    assert f"give it as --labels {table}" in positional.stderr
    nothing = run("import", "--labels", str(table), "--db", db, check_code=1)
    assert "no photo imported: the 1 photos named in" in nothing.stderr


def test_a_non_http_line_of_urls_fails_alone(tmp_path, tagger):
    photo = tmp_path / "p.jpg"
    shutil.copy(sorted(shared("coco-mini", "train2017").glob("*.jpg"))[0], photo)
    urls = tmp_path / "urls.txt"
    urls.write_text("ftp://example.org/a.jpg\n# a comment\n", encoding="utf-8")
    out = run("tag", str(photo), "--urls", str(urls), "--db", str(tmp_path / "t.db"), check_code=1)
    assert "failed: ftp://example.org/a.jpg: only http and https URLs" in out.stderr
    assert "1 tagged, 1 failed" in out.stderr


def test_a_photo_written_into_is_not_tagged_again(tmp_path, tagger):
    photo = tmp_path / "p.jpg"
    shutil.copy(sorted(shared("coco-mini", "train2017").glob("*.jpg"))[0], photo)
    photo.chmod(0o644)  # the shared data is read-only
    db = str(tmp_path / "t.db")
    run("tag", str(photo), "--db", db)
    run("decide", str(photo), "--add", "Grandma", "--db", db)
    before = photo.stat()
    assert "1 file written, 0 already right" in run("export", "--embed", "--db", db).stderr
    assert photo.stat().st_mtime_ns != before.st_mtime_ns
    assert "0 tagged, 0 failed, 1 already done" in run("tag", str(photo), "--db", db).stderr
