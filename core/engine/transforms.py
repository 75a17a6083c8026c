"""Pillow + numpy preprocessing: timm's eval transform, and the whole-photo view tagging uses.

timm builds ``Resize(floor(size / crop_pct))`` on the shorter side, then
``CenterCrop(size)``, ``ToTensor`` and ``Normalize(mean, std)``, with
torchvision calling Pillow's resize underneath. ``view="crop"`` does exactly
that (a test holds it to timm's own transform), without torch.

Backbones are shown ``view="whole"`` (centre-only variants aside, see
``BackboneSpec.view``): the same resize of the shorter side, but no crop, so the
backbone sees the whole photo, its edges included. A person's tags describe the
whole photo, and what the crop cuts off (the person at the edge, the table in the
foreground) is what learning from those tags needs: on coco-mini the learned
suggestions go from 0.616 to 0.665 held-out mAP, while
ImageNet top-1 stays where the crop has it (0.881 against 0.883 on the 1000-photo
sample; see ADR 0003). Both sides are rounded to a multiple of 32, the backbones'
total stride, so photos of the same shape batch together, every feature cell
covers whole pixels, and an exported graph's padding is right for every size;
panoramas are cut to 2:1 around their centre so one photo cannot cost ten.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image

_INTERPOLATION = {
    "bicubic": Image.Resampling.BICUBIC,
    "bilinear": Image.Resampling.BILINEAR,
    "nearest": Image.Resampling.NEAREST,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


View = Literal["whole", "crop"]

VIEWS_VERSION = "views-1"
"""Names how backbones are shown photos (each backbone's view, as above). Stored with
every analysis and head: when this changes, photos are analysed again and heads
trained on what was stored before are set aside. Rows from before it existed (every
backbone then saw the centre crop) have none."""
STRIDE = 32
"""Both sides of a whole-photo input are multiples of this."""
MAX_ASPECT = 2.0
"""Longer photos are cut to this aspect around their centre first."""


@dataclass(frozen=True)
class DataConfig:
    """A backbone's input contract, as timm's ``resolve_data_config`` gives it."""

    input_size: tuple[int, int, int]
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_pct: float
    crop_mode: str = "center"

    @classmethod
    def from_timm(cls, cfg: dict) -> DataConfig:
        """Build from the dict timm's ``resolve_data_config`` returns (or its JSON form)."""
        return cls(
            input_size=tuple(int(v) for v in cfg["input_size"]),
            interpolation=str(cfg["interpolation"]),
            mean=tuple(float(v) for v in cfg["mean"]),
            std=tuple(float(v) for v in cfg["std"]),
            crop_pct=float(cfg["crop_pct"]),
            crop_mode=str(cfg.get("crop_mode", "center")),
        )

    def as_dict(self) -> dict:
        return {
            "input_size": list(self.input_size),
            "interpolation": self.interpolation,
            "mean": list(self.mean),
            "std": list(self.std),
            "crop_pct": self.crop_pct,
            "crop_mode": self.crop_mode,
        }

    @property
    def crop_size(self) -> tuple[int, int]:
        """(height, width) of the network input."""
        return self.input_size[1], self.input_size[2]

    @property
    def resize_short_side(self) -> int:
        """The shorter side the photo is resized to before the centre crop."""
        return math.floor(min(self.crop_size) / self.crop_pct)


def resize_and_crop(img: Image.Image, cfg: DataConfig) -> Image.Image:
    """Resize the shorter side and centre-crop, as torchvision does for PIL images."""
    if cfg.crop_mode != "center":
        raise ValueError(f"crop mode {cfg.crop_mode!r} is not supported")
    height, width = cfg.crop_size
    if height != width:
        raise ValueError("non-square inputs are not supported")
    scale = cfg.resize_short_side
    w, h = img.size
    if w <= h:
        new_w, new_h = scale, int(scale * h / w)
    else:
        new_w, new_h = int(scale * w / h), scale
    if (new_w, new_h) != (w, h):
        img = img.resize((new_w, new_h), _INTERPOLATION[cfg.interpolation])
    top = round((new_h - height) / 2.0)
    left = round((new_w - width) / 2.0)
    return img.crop((left, top, left + width, top + height))


def whole_short_side(cfg: DataConfig) -> int:
    """The shorter side of whole-photo inputs: timm's resize, to the nearest multiple of the stride."""
    return max(STRIDE, round(cfg.resize_short_side / STRIDE) * STRIDE)


def input_short_side(cfg: DataConfig, view: View) -> int:
    """How short a photo's shorter side may be decoded for ``view`` (no upscaling needed)."""
    return whole_short_side(cfg) if view == "whole" else cfg.resize_short_side


def whole_photo_size(width: int, height: int, cfg: DataConfig) -> tuple[int, int]:
    """(width, height) of a photo's whole-photo input: the short side scaled, the aspect kept."""
    short = whole_short_side(cfg)
    aspect = min(max(width, height) / max(min(width, height), 1), MAX_ASPECT)
    long = max(short, round(short * aspect / STRIDE) * STRIDE)
    return (long, short) if width >= height else (short, long)


def resize_whole(img: Image.Image, cfg: DataConfig) -> Image.Image:
    """The whole photo at the backbone's scale (panoramas first cut to 2:1 around the centre)."""
    w, h = img.size
    if max(w, h) > MAX_ASPECT * min(w, h):
        keep = math.floor(MAX_ASPECT * min(w, h))
        if w > h:
            left = (w - keep) // 2
            img = img.crop((left, 0, left + keep, h))
        else:
            top = (h - keep) // 2
            img = img.crop((0, top, w, top + keep))
    size = whole_photo_size(*img.size, cfg)
    if size != img.size:
        img = img.resize(size, _INTERPOLATION[cfg.interpolation])
    return img


def to_input_array(img: Image.Image, cfg: DataConfig, *, view: View = "whole") -> np.ndarray:
    """An RGB photo to a normalised float32 CHW array ready for the backbone.

    ``view="whole"`` is tagging's input (height and width vary with the photo's
    shape); ``view="crop"`` is timm's square centre crop.
    """
    shaped = resize_whole(img, cfg) if view == "whole" else resize_and_crop(img, cfg)
    pixels = np.asarray(shaped, dtype=np.float32)
    std = np.asarray(cfg.std, dtype=np.float32)
    mean = np.asarray(cfg.mean, dtype=np.float32)
    normalised = (pixels / np.float32(255.0) - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))
