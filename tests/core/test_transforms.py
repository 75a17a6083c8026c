"""The torch-free preprocessing must equal timm's eval transform, or accuracy drops."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.transforms import DataConfig, to_input_array
from tests.conftest import shared

CONFIGS = {
    "lite0": {
        "input_size": (3, 224, 224),
        "interpolation": "bicubic",
        "mean": (0.5,) * 3,
        "std": (0.5,) * 3,
        "crop_pct": 0.875,
        "crop_mode": "center",
    },
    "imagenet-bilinear": {
        "input_size": (3, 224, 224),
        "interpolation": "bilinear",
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "crop_pct": 0.875,
        "crop_mode": "center",
    },
    "inception": {
        "input_size": (3, 299, 299),
        "interpolation": "bicubic",
        "mean": (0.5,) * 3,
        "std": (0.5,) * 3,
        "crop_pct": 0.8975,
        "crop_mode": "center",
    },
}


def _photos() -> list[Image.Image]:
    folder = shared("imagenet-sample")
    names = sorted(p.name for p in folder.glob("*.JPEG"))[::97]  # small, large, tall, wide, grey
    return [Image.open(folder / n).convert("RGB") for n in names]


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_matches_timm_eval_transform(name):
    from timm.data import create_transform

    cfg = CONFIGS[name]
    reference = create_transform(**cfg, is_training=False)
    ours = DataConfig.from_timm(cfg)
    photos = _photos()
    assert len(photos) >= 10
    for img in photos:
        expected = reference(img).numpy()
        got = to_input_array(img, ours)
        assert got.shape == expected.shape
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=2e-5)


def test_tiny_and_extreme_aspect_photos_still_fill_the_input():
    cfg = DataConfig.from_timm(CONFIGS["lite0"])
    for size in [(5, 3), (3000, 40), (40, 3000), (224, 224)]:
        out = to_input_array(Image.new("RGB", size, (255, 0, 0)), cfg)
        assert out.shape == (3, 224, 224)
        # red (255) normalised by mean = std = 0.5 is 1.0; blue (0) is -1.0
        assert np.allclose(out[0], 1.0, atol=1e-6)
        assert np.allclose(out[2], -1.0, atol=1e-6)
