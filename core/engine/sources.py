"""What to tag: folders, files and http(s) URLs, as :class:`PhotoRef` values.

Folders are walked recursively without following a symlinked folder twice (so
loops do no harm), hidden files and folders are skipped, and files are picked by
extension or, when they have none, by their first bytes. URLs are fetched into
memory, never written to disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from core.errors import FetchError

PHOTO_EXTENSIONS = frozenset(
    [
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".png",
        ".webp",
        ".tif",
        ".tiff",
        ".bmp",
        ".gif",
        ".heic",
        ".heif",
        ".hif",
        ".avif",
    ]
)
DEFAULT_MAX_DOWNLOAD = 50 * 1024 * 1024
DEFAULT_TIMEOUT = 15.0
DEFAULT_MAX_REDIRECTS = 5

# Leading bytes of the formats above, for files with no extension and for URLs.
_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"\xff\xd8\xff"),  # JPEG
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (0, b"BM"),
    (0, b"II*\x00"),  # TIFF little-endian
    (0, b"MM\x00*"),  # TIFF big-endian
    (8, b"WEBP"),
    (4, b"ftypheic"),
    (4, b"ftypheix"),
    (4, b"ftyphevc"),
    (4, b"ftypmif1"),
    (4, b"ftypmsf1"),
    (4, b"ftypavif"),
)


@dataclass(frozen=True)
class PhotoRef:
    """One photo to tag.

    Attributes:
        uri: Its identity in the store: an absolute path, or the URL.
        kind: ``file`` or ``url`` (or ``telegram`` for the bot's photos).
        size: File size in bytes (0 for URLs until fetched).
        mtime: Modification time in nanoseconds (0 for URLs).
    """

    uri: str
    kind: str = "file"
    size: int = 0
    mtime: int = 0

    @property
    def path(self) -> Path | None:
        return Path(self.uri) if self.kind == "file" else None

    @property
    def name(self) -> str:
        """A short name for lists and progress lines."""
        if self.kind == "file":
            return Path(self.uri).name
        return urlsplit(self.uri).path.rsplit("/", 1)[-1] or self.uri


def looks_like_image(head: bytes) -> bool:
    """Whether the first bytes of a file match a photo format PhotoTagger reads."""
    return any(head[offset : offset + len(sig)] == sig for offset, sig in _SIGNATURES)


def is_url(text: str) -> bool:
    return urlsplit(text).scheme.lower() in ("http", "https")


def file_ref(path: Path) -> PhotoRef:
    """A ref for one file, with the size and mtime that tell whether it changed."""
    stat = path.stat()
    return PhotoRef(
        uri=os.path.abspath(path), kind="file", size=stat.st_size, mtime=stat.st_mtime_ns
    )


def iter_folder(root: Path, *, include_hidden: bool = False) -> Iterator[PhotoRef]:
    """Photos under ``root``, depth first, in a stable (sorted) order."""
    seen_dirs: set[tuple[int, int]] = set()
    stack = [Path(os.path.abspath(root))]
    while stack:
        folder = stack.pop()
        try:
            stat = folder.stat()
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) in seen_dirs:
            continue  # a symlink loop, or a second link to a folder already walked
        seen_dirs.add((stat.st_dev, stat.st_ino))
        try:
            with os.scandir(folder) as entries:
                listing = sorted(entries, key=lambda e: e.name)
        except OSError:
            continue  # unreadable folder: skip it, keep walking
        subfolders = []
        for entry in listing:
            if not include_hidden and entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    subfolders.append(Path(entry.path))
                elif entry.is_file() and _is_photo_file(entry):
                    st = entry.stat()
                    yield PhotoRef(entry.path, "file", st.st_size, st.st_mtime_ns)
            except OSError:
                continue  # dangling symlink or a file removed while walking
        stack.extend(reversed(subfolders))


def _is_photo_file(entry: os.DirEntry) -> bool:
    suffix = os.path.splitext(entry.name)[1].lower()
    if suffix in PHOTO_EXTENSIONS:
        return True
    if suffix:
        return False
    try:
        with open(entry.path, "rb") as fh:
            return looks_like_image(fh.read(16))
    except OSError:
        return False


def collect(inputs: Iterable[str | Path]) -> Iterator[PhotoRef]:
    """Refs for a mix of folders, files and URLs, as typed on the command line.

    Raises:
        FileNotFoundError: For a path that does not exist.
    """
    for item in inputs:
        text = str(item)
        if is_url(text):
            yield PhotoRef(uri=text, kind="url")
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            yield from iter_folder(path)
        elif path.exists():
            yield file_ref(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {text}")


def read_url_list(path: Path) -> list[str]:
    """URLs from a text file: one a line, blank lines and ``#`` comments ignored."""
    urls = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            urls.append(line)
    return urls


def fetch_url(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_DOWNLOAD,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
) -> bytes:
    """Fetch an image URL into memory.

    Only http and https are allowed, redirects are capped, the body is read in
    chunks up to ``max_bytes``, and the bytes must look like a photo whatever
    the server's Content-Type says.

    Raises:
        FetchError: With the reason, in words.
    """
    import httpx

    if not is_url(url):
        raise FetchError(f"only http and https URLs can be fetched: {url}")
    try:
        with (
            httpx.Client(
                timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                follow_redirects=True,
                max_redirects=max_redirects,
                headers={"User-Agent": "PhotoTagger/0.1"},
            ) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise FetchError(
                    f"the server answered {response.status_code} {response.reason_phrase}"
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    f"the image is {int(declared) / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit"
                )
            chunks, total = [], 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"the download passed the {max_bytes / 1e6:.0f} MB limit")
                chunks.append(chunk)
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"too many redirects (more than {max_redirects})") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"the server did not answer within {timeout:.0f} s") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot reach the server ({exc.__class__.__name__}: {exc})") from exc
    data = b"".join(chunks)
    if not looks_like_image(data[:16]):
        kind = response.headers.get("content-type", "unknown type")
        raise FetchError(f"the URL did not return an image (got {kind}, {len(data)} bytes)")
    return data
