"""Technical quality and a perceptual hash, measured once per photo from its pixels.

Curation needs two things the embeddings do not carry: whether a photo is
technically good (sharp, well exposed, clean, large enough) and a hash that
finds exact and resized copies even where an embedding is unsure. Both come
from one reduced-size decode (JPEG draft decoding makes it cheap) and are cached
in the ``photo_quality`` table per photo version (size, mtime), so curating an
album a second time decodes nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from core.engine.imaging import decode_photo
from core.errors import DecodeError
from core.store import Store

log = logging.getLogger(__name__)

MEASURE_SHORT_SIDE = 384
"""Sharpness and noise are measured at this short side, so they compare across resolutions."""

Progress = Callable[[int, int], None]
"""Called with (done, total) as photos are measured."""


@dataclass(frozen=True)
class Quality:
    """What the pixels say about one photo.

    Attributes:
        photo_id: The photo.
        dhash: 64-bit difference hash, 16 hex digits; empty if the photo could not be read.
        sharpness: log1p of the Laplacian variance at :data:`MEASURE_SHORT_SIDE`.
        exposure: 1 for a well exposed photo, towards 0 for clipped or very dark/bright ones.
        noise: Immerkær's noise sigma (grey levels) at :data:`MEASURE_SHORT_SIDE`.
        megapixels: Size of the original.
        jpeg_quality: The file's JPEG quality (IJG scale, estimated from its luma
            quantisation table); 100 for other formats. Low means recompressed.
    """

    photo_id: int
    dhash: str
    sharpness: float
    exposure: float
    noise: float
    megapixels: float
    jpeg_quality: float = 100.0

    @property
    def ok(self) -> bool:
        return bool(self.dhash)


def dhash(image: Image.Image, *, size: int = 8) -> int:
    """Difference hash: the sign of horizontal gradients on a (size+1) x size grey thumbnail.

    It survives resizing, recompression and colour shifts, which is what exact and
    resized copies differ by; crops and new shots are left to the embeddings.
    """
    grey = image.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.int16)
    bits = (pixels[:, 1:] > pixels[:, :-1]).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bit differences between 64-bit hashes (uint64 arrays that broadcast)."""
    x = np.bitwise_xor(a, b)
    count = np.zeros(x.shape, dtype=np.uint8)
    # Popcount byte by byte through a lookup table: numpy has no portable popcount before 2.0.
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    for shift in range(0, 64, 8):
        count += table[((x >> np.uint64(shift)) & np.uint64(0xFF)).astype(np.intp)]
    return count


def measure_image(image: Image.Image) -> tuple[float, float, float]:
    """Sharpness, exposure and noise of decoded RGB pixels (see :class:`Quality`)."""
    grey = image.convert("L")
    scale = MEASURE_SHORT_SIDE / min(grey.size)
    if scale < 1:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BILINEAR,
            reducing_gap=2.0,
        )
    g = np.asarray(grey, dtype=np.float32)
    if min(g.shape) < 3:
        return 0.0, 0.0, 0.0
    # Small photos are measured as they are: upscaled to the working size they are
    # genuinely soft, and their low resolution counts through megapixels too.
    lap = g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:] - 4 * g[1:-1, 1:-1]
    sharpness = float(np.log1p(lap.var()))
    noise = _noise_sigma(g)
    return sharpness, _exposure(g), noise


def _exposure(g: np.ndarray) -> float:
    clipped = float(np.mean((g <= 2) | (g >= 253)))
    mean = float(g.mean()) / 255.0
    # Penalise clipping strongly and a mean far from mid-grey gently (dark scenes exist).
    return float(np.clip(1.0 - 3.0 * clipped - max(0.0, abs(mean - 0.47) - 0.15), 0.0, 1.0))


def _noise_sigma(g: np.ndarray) -> float:
    """Immerkær (1996): sigma from the image convolved with a Laplacian-difference mask.

    Edges inflate it, so only the flattest half of the image (by gradient) counts.
    """
    m = (
        g[:-2, :-2]
        - 2 * g[:-2, 1:-1]
        + g[:-2, 2:]
        - 2 * g[1:-1, :-2]
        + 4 * g[1:-1, 1:-1]
        - 2 * g[1:-1, 2:]
        + g[2:, :-2]
        - 2 * g[2:, 1:-1]
        + g[2:, 2:]
    )
    grad = np.abs(g[1:-1, 2:] - g[1:-1, :-2]) + np.abs(g[2:, 1:-1] - g[:-2, 1:-1])
    flat = grad <= np.median(grad)
    if not flat.any():
        return 0.0
    return float(np.sqrt(np.pi / 2) / 6 * np.abs(m[flat]).mean())


def measure_photo(path: Path, *, photo_id: int) -> Quality:
    """Decode a local photo at reduced size and measure it.

    Raises:
        DecodeError: If the file cannot be read.
    """
    decoded = decode_photo(path, min_short_side=MEASURE_SHORT_SIDE * 2)
    sharpness, exposure, noise = measure_image(decoded.image)
    return Quality(
        photo_id=photo_id,
        dhash=f"{dhash(decoded.image):016x}",
        sharpness=sharpness,
        exposure=exposure,
        noise=noise,
        megapixels=decoded.width * decoded.height / 1e6,
        jpeg_quality=jpeg_quality(path),
    )


_IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
     14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
     92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64,
)  # fmt: skip


def jpeg_quality(path: Path) -> float:
    """The IJG quality a JPEG was saved at, inverted from its luma table; 100 if not a JPEG.

    Recompressed copies differ from their original mostly here, where pixel
    measures are fooled (blocking smooths away the noise they look for).
    """
    try:
        with Image.open(path) as img:
            tables = getattr(img, "quantization", None)
            if img.format != "JPEG" or not tables or 0 not in tables:
                return 100.0
            luma = np.asarray(tables[0], dtype=np.float64)
    except OSError:
        return 100.0
    # Tables are stored zig-zag or natural depending on the writer; the mean ratio is order-free.
    scale = 100.0 * float(np.mean(luma)) / float(np.mean(_IJG_LUMA))
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return float(np.clip(quality, 1.0, 100.0))


def photo_qualities(
    store: Store,
    photo_ids: Iterable[int],
    *,
    workers: int = 2,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict[int, Quality]:
    """Quality of each photo, measuring (in parallel) only those not cached for their version.

    Photos that are not local files or cannot be decoded get no entry; the
    failure is cached too, so a broken file is not decoded again until it changes.
    """
    ids = list(photo_ids)
    cached, todo = _cached(store, ids)
    if todo:
        total, done = len(todo), 0
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for start in range(0, total, 64):
                if cancel is not None and cancel.is_set():
                    break
                chunk = todo[start : start + 64]
                results = list(pool.map(_measure_row, chunk))
                _save(store, results)
                cached.update({q.photo_id: q for _, q in results if isinstance(q, Quality)})
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    return {pid: cached[pid] for pid in ids if pid in cached}


def _cached(store: Store, ids: list[int]) -> tuple[dict[int, Quality], list[tuple]]:
    # The cache is keyed by the photo version the store last saw; a changed file is measured again.
    wanted = set(ids)
    rows = store.quality_rows()
    cached: dict[int, Quality] = {}
    todo: list[tuple] = []
    for pid, uri, kind, size, mtime, qsize, qmtime, dh, sharp, expo, noise, mp, jq, error in rows:
        if pid not in wanted or kind != "file":
            continue
        if qsize is not None and (qsize, qmtime) == (size, mtime):
            if not error:
                cached[pid] = Quality(pid, dh, sharp, expo, noise, mp, jq)
        else:
            todo.append((pid, uri, size, mtime))
    return cached, todo


def _measure_row(row: tuple) -> tuple[tuple, Quality | str | None]:
    pid, uri, _, _ = row
    try:
        return row, measure_photo(Path(uri), photo_id=pid)
    except DecodeError as exc:
        return row, str(exc)
    except Exception as exc:  # a decoder bug must cost one photo, not the album
        log.exception("unexpected error measuring %s", uri)
        return row, f"unexpected error: {exc}"


def _save(store: Store, results: list[tuple[tuple, Quality | str]]) -> None:
    store.save_quality(_quality_row(pid, size, mtime, q) for (pid, _, size, mtime), q in results)


def _quality_row(pid: int, size: int, mtime: int, q: Quality | str) -> dict[str, object]:
    ok = isinstance(q, Quality)
    return {
        "photo_id": pid,
        "size": size,
        "mtime": mtime,
        "dhash": q.dhash if ok else None,
        "sharpness": q.sharpness if ok else None,
        "exposure": q.exposure if ok else None,
        "noise": q.noise if ok else None,
        "megapixels": q.megapixels if ok else None,
        "jpeg_quality": q.jpeg_quality if ok else None,
        "error": None if ok else q,
    }


def technical_scores(qualities: list[Quality | None]) -> np.ndarray:
    """A 0..1 "technically good" prior per photo, relative to the album.

    Sharpness and noise become percentile ranks within the album (their scale
    depends on the scene, so none is guessed); exposure is already 0..1;
    resolution saturates at 4 MP (more is not better on a screen); JPEG quality
    counts from 40 (visibly blocky) to 95. Unreadable photos score 0.
    """
    n = len(qualities)
    scores = np.zeros(n, dtype=np.float64)
    good = [i for i, q in enumerate(qualities) if q is not None and q.ok]
    if not good:
        return scores
    q = [qualities[i] for i in good]
    sharp = _rank01(np.array([x.sharpness for x in q]))
    clean = _rank01(-np.array([x.noise for x in q]))
    exposure = np.array([x.exposure for x in q])
    resolution = np.clip(np.log2(np.array([x.megapixels for x in q]) / 0.05) / np.log2(80), 0, 1)
    compression = np.clip((np.array([x.jpeg_quality for x in q]) - 40.0) / 55.0, 0, 1)
    scores[good] = (
        0.3 * sharp + 0.15 * clean + 0.2 * exposure + 0.15 * resolution + 0.2 * compression
    )
    return scores


def _rank01(values: np.ndarray) -> np.ndarray:
    if len(values) < 2:
        return np.full(len(values), 0.5)
    order = values.argsort(kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return ranks / (len(values) - 1)
