"""Finding photos in folders and fetching them from URLs."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from core.engine.sources import collect, fetch_url, iter_folder, read_url_list
from core.errors import FetchError
from tests.core.http_server import serve


def _jpeg(color=(200, 30, 30), size=(64, 48)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def test_folder_walk_finds_photos_by_extension_and_by_content(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.JPG").write_bytes(_jpeg())
    (tmp_path / "a" / "two.heic").write_bytes(
        b"whatever"
    )  # extension decides; decoding judges later
    (tmp_path / "noext").write_bytes(_jpeg())
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "README").write_text("no extension, not a photo")
    (tmp_path / ".hidden.jpg").write_bytes(_jpeg())
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "inside.jpg").write_bytes(_jpeg())
    names = sorted(os.path.relpath(r.uri, tmp_path) for r in iter_folder(tmp_path))
    assert names == ["a/one.JPG", "a/two.heic", "noext"]


def test_symlink_loops_and_dangling_links_do_no_harm(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "p.jpg").write_bytes(_jpeg())
    (tmp_path / "photos" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "photos" / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    refs = list(iter_folder(tmp_path))
    assert [os.path.basename(r.uri) for r in refs] == ["p.jpg"]


def test_refs_carry_size_and_mtime_and_absolute_paths(tmp_path, monkeypatch):
    (tmp_path / "p.jpg").write_bytes(_jpeg())
    monkeypatch.chdir(tmp_path)
    (ref,) = list(collect(["p.jpg"]))
    assert ref.uri == str(tmp_path / "p.jpg")
    assert ref.size == (tmp_path / "p.jpg").stat().st_size and ref.mtime > 0


def test_collect_refuses_missing_paths_and_accepts_urls(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        list(collect([tmp_path / "nope"]))
    (url,) = list(collect(["https://example.org/cat.jpg"]))
    assert url.kind == "url" and url.name == "cat.jpg"


def test_url_list_file(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("# my photos\nhttp://a/1.jpg\n\n  https://b/2.png  \n")
    assert read_url_list(path) == ["http://a/1.jpg", "https://b/2.png"]


@pytest.fixture(scope="module")
def server():
    routes = {
        "/photo.jpg": (200, "image/jpeg", _jpeg()),
        "/lying.bin": (200, "application/octet-stream", _jpeg()),
        "/page.jpg": (200, "image/jpeg", b"<html>not really</html>"),
        "/big.jpg": (200, "image/jpeg", b"\xff\xd8\xff" + b"\0" * 300_000),
        "/broken": (500, "text/plain", b"oops"),
    }
    with serve(routes, slow_seconds=3.0) as base:
        yield base


def test_fetches_an_image_into_memory(server):
    data = fetch_url(f"{server}/photo.jpg")
    assert Image.open(io.BytesIO(data)).size == (64, 48)


def test_content_is_sniffed_not_trusted(server):
    assert fetch_url(f"{server}/lying.bin").startswith(b"\xff\xd8")
    with pytest.raises(FetchError, match="did not return an image"):
        fetch_url(f"{server}/page.jpg")


def test_redirects_are_followed_but_capped(server):
    assert fetch_url(f"{server}/redirect").startswith(b"\xff\xd8")
    with pytest.raises(FetchError, match="too many redirects"):
        fetch_url(f"{server}/loop", max_redirects=3)


@pytest.mark.parametrize(
    "path,kwargs,message",
    [
        ("/missing.jpg", {}, "404"),
        ("/broken", {}, "500"),
        ("/slow", {"timeout": 0.5}, "did not answer"),
        ("/big.jpg", {"max_bytes": 100_000}, "over the 0 MB limit"),
        ("/stream-huge", {"max_bytes": 1_000_000}, "passed the 1 MB limit"),
    ],
)
def test_failures_are_one_clear_sentence(server, path, kwargs, message):
    with pytest.raises(FetchError, match=message) as info:
        fetch_url(server + path, **kwargs)
    assert "\n" not in str(info.value)


def test_only_http_and_unreachable_hosts(tmp_path):
    with pytest.raises(FetchError, match="only http and https"):
        fetch_url(f"file://{tmp_path}/x.jpg")
    with pytest.raises(FetchError, match="cannot reach"):
        fetch_url("http://127.0.0.1:9/photo.jpg", timeout=2)
