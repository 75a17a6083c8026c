"""Pillow + numpy preprocessing that reproduces timm's eval transform exactly.

timm builds ``Resize(floor(size / crop_pct))`` on the shorter side, then
``CenterCrop(size)``, ``ToTensor`` and ``Normalize(mean, std)``, with
torchvision calling Pillow's resize underneath. Doing the same steps here keeps
the CPU path free of torch; ``bench/accuracy.py`` is what proves they match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def to_input_array(img: Image.Image, cfg: DataConfig) -> np.ndarray:
    """An RGB photo to a normalised float32 CHW array ready for the backbone."""
    pixels = np.asarray(resize_and_crop(img, cfg), dtype=np.float32)
    std = np.asarray(cfg.std, dtype=np.float32)
    mean = np.asarray(cfg.mean, dtype=np.float32)
    normalised = (pixels / np.float32(255.0) - mean) / std
    return np.ascontiguousarray(normalised.transpose(2, 0, 1))
