"""Bytes to RGB pixels the way camera and phone photos need it.

EXIF orientation is applied, every Pillow mode becomes RGB (alpha composited on
white), JPEGs are draft-decoded straight to the smallest DCT scale that still
covers the size the backbone needs, and a pixel cap refuses decompression bombs
before any pixel is decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from core.errors import DecodeError

try:  # HEIC/HEIF (and AVIF on older Pillow) come from a plugin.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - the plugin is a declared dependency
    pillow_heif = None

DEFAULT_MAX_PIXELS = 150_000_000
"""Larger than any camera sensor sold today (about 100 MP), smaller than a bomb."""

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


@dataclass(frozen=True)
class DecodedPhoto:
    """A decoded photo and what was learned about the original file.

    Attributes:
        image: RGB pixels, oriented, possibly reduced by draft decoding.
        width: Width of the original, after orientation.
        height: Height of the original, after orientation.
        format: Pillow's name for the file format (JPEG, PNG, HEIF...).
    """

    image: Image.Image
    width: int
    height: int
    format: str


def decode_photo(
    source: bytes | Path,
    *,
    min_short_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DecodedPhoto:
    """Decode a photo file or its bytes to oriented RGB pixels.

    Args:
        source: A path to the file, or its bytes (for URLs and Telegram files).
        min_short_side: If given, JPEGs are decoded at the smallest DCT scale
            whose shorter side is still at least this many pixels; other
            formats are decoded whole. The caller resizes afterwards.
        max_pixels: Files whose header declares more pixels are refused.

    Raises:
        DecodeError: With a sentence that says what is wrong with the file.
    """
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes | bytearray) else open(source, "rb")  # noqa: SIM115
    except OSError as exc:
        raise DecodeError(f"cannot read the file: {exc.strerror or exc}") from exc
    with stream:
        if _is_empty(stream):
            raise DecodeError("the file is empty")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                img = Image.open(stream)
                return _decode_open_image(img, min_short_side=min_short_side, max_pixels=max_pixels)
        except DecodeError:
            raise
        except UnidentifiedImageError as exc:
            raise DecodeError("not an image file, or a format PhotoTagger cannot read") from exc
        except Image.DecompressionBombError as exc:
            raise DecodeError(f"refused: the image is too large to decode safely — {exc}") from exc
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise DecodeError(f"the image data is damaged or truncated — {exc}") from exc
        except MemoryError as exc:
            raise DecodeError("the image is too large for the memory available") from exc


def _is_empty(stream: io.IOBase) -> bool:
    head = stream.read(1)
    stream.seek(0)
    return not head


def _decode_open_image(
    img: Image.Image, *, min_short_side: int | None, max_pixels: int
) -> DecodedPhoto:
    width, height = img.size
    if width * height > max_pixels:
        raise DecodeError(
            f"refused: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
            f"over the limit of {max_pixels / 1e6:.0f}"
        )
    fmt = img.format or "unknown"
    if getattr(img, "is_animated", False):
        img.seek(0)  # first frame of GIFs and animated WebP
    orientation = img.getexif().get(0x0112, 1)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    if min_short_side and fmt == "JPEG":
        _draft_to_short_side(img, min_short_side)
    img.load()
    img = ImageOps.exif_transpose(img) if orientation != 1 else img
    return DecodedPhoto(image=to_rgb(img), width=width, height=height, format=fmt)


def _draft_to_short_side(img: ImageFile.ImageFile, min_short_side: int) -> None:
    width, height = img.size
    short = min(width, height)
    if short <= min_short_side:
        return
    # draft() picks the largest reduction (1/2, 1/4, 1/8) that keeps both sides
    # at least as large as requested, so ask for the scaled full size.
    scale = min_short_side / short
    img.draft("RGB", (int(np.ceil(width * scale)), int(np.ceil(height * scale))))


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency on white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in _SIXTEEN_BIT_MODES or mode == "F":
        return _high_depth_to_rgb(img)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _high_depth_to_rgb(img: Image.Image) -> Image.Image:
    arr = np.asarray(img, dtype=np.float64)
    if img.mode.startswith("I;16"):
        peak = 65535.0
    else:  # 32-bit ints and floats carry no nominal range: stretch what is there
        peak = float(arr.max()) if arr.size and arr.max() > 0 else 1.0
    eight = np.clip(arr * (255.0 / peak), 0, 255).astype(np.uint8)
    return Image.fromarray(eight, mode="L").convert("RGB")


def make_thumbnail(
    source: bytes | Path, *, size: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """An oriented RGB thumbnail that fits in a size x size square."""
    decoded = decode_photo(source, min_short_side=size, max_pixels=max_pixels)
    thumb = decoded.image.copy()
    thumb.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return thumb


def decode_to_fit(
    source: bytes | Path, *, width: int, height: int, max_pixels: int = DEFAULT_MAX_PIXELS
) -> DecodedPhoto:
    """Decode a photo no larger than it will be shown: it fits in ``width`` x ``height``.

    JPEGs are draft-decoded at the smallest DCT scale that still covers the box,
    so a 24 MP photo shown on a 1080p screen decodes at a quarter of its size;
    the result is then reduced to fit the box (never enlarged). ``width`` and
    ``height`` of the result are the original's, after orientation.
    """
    with Image.open(io.BytesIO(source) if isinstance(source, bytes | bytearray) else source) as img:
        w, h = img.size
        if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
            w, h = h, w
    scale = min(1.0, width / max(w, 1), height / max(h, 1))
    # A DCT scale up to 5 % short of the box is taken: a 501 px box then decodes at 1/8
    # (500 px), not 1/4, and the view's last stretch of 0.2 % cannot be seen.
    decoded = decode_photo(
        source,
        min_short_side=max(1, int(np.ceil(min(w, h) * scale * 0.95))),
        max_pixels=max_pixels,
    )
    image = decoded.image
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    if image.size[0] > target[0] or image.size[1] > target[1]:
        image = image.resize(target, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return DecodedPhoto(
        image=image, width=decoded.width, height=decoded.height, format=decoded.format
    )
