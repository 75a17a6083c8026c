"""The torch-free preprocessing: timm's eval transform exactly, and the whole-photo view."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.engine.transforms import DataConfig, to_input_array
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


@pytest.mark.torch
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
        got = to_input_array(img, ours, view="crop")
        assert got.shape == expected.shape
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, expected, atol=2e-5)


def test_tiny_and_extreme_aspect_photos_still_fill_the_crop():
    cfg = DataConfig.from_timm(CONFIGS["lite0"])
    for size in [(5, 3), (3000, 40), (40, 3000), (224, 224)]:
        out = to_input_array(Image.new("RGB", size, (255, 0, 0)), cfg, view="crop")
        assert out.shape == (3, 224, 224)
        # red (255) normalised by mean = std = 0.5 is 1.0; blue (0) is -1.0
        assert np.allclose(out[0], 1.0, atol=1e-6)
        assert np.allclose(out[2], -1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("size", "shape"),
    [
        ((4000, 3000), (256, 352)),  # 4:3 camera photo, landscape
        ((3000, 4000), (352, 256)),  # portrait
        ((6000, 4000), (256, 384)),  # 3:2
        ((1920, 1080), (256, 448)),  # 16:9
        ((500, 500), (256, 256)),
        ((5, 3), (256, 416)),  # tiny: scaled up like the crop is
        ((9000, 1000), (256, 512)),  # panorama: cut to 2:1 first
        ((1000, 9000), (512, 256)),
    ],
)
def test_whole_photo_view_keeps_the_shape_on_the_stride(size, shape):
    cfg = DataConfig.from_timm(CONFIGS["lite0"])
    out = to_input_array(Image.new("RGB", size, (255, 0, 0)), cfg)
    assert out.shape == (3, *shape)
    assert out.shape[1] % 32 == 0 and out.shape[2] % 32 == 0
    assert np.allclose(out[0], 1.0, atol=1e-6)
    assert np.allclose(out[2], -1.0, atol=1e-6)


def test_whole_photo_view_keeps_what_the_crop_cuts_off():
    # A 4:3 photo with a blue band at each short edge: the crop loses both bands,
    # the whole-photo view keeps them, and the panorama cut keeps the centre.
    cfg = DataConfig.from_timm(CONFIGS["lite0"])
    img = Image.new("RGB", (400, 300), (255, 255, 255))
    img.paste((0, 0, 255), (0, 0, 30, 300))
    img.paste((0, 0, 255), (370, 0, 400, 300))
    crop = to_input_array(img, cfg, view="crop")
    whole = to_input_array(img, cfg)
    assert (crop[0] < 0).mean() == 0.0
    left_columns = whole[0][:, :10]
    right_columns = whole[0][:, -10:]
    assert (left_columns < 0).all() and (right_columns < 0).all()
    assert whole[0][:, whole.shape[2] // 2].min() > 0.99

    pano = Image.new("RGB", (1200, 300), (255, 255, 255))
    pano.paste((0, 0, 255), (0, 0, 300, 300))  # the outer quarters are cut away
    pano.paste((0, 0, 255), (900, 0, 1200, 300))
    out = to_input_array(pano, cfg)
    assert out.shape == (3, 256, 512)
    assert out[0].min() > 0.99


def test_other_backbones_short_side_rounds_to_the_stride():
    cfg = DataConfig.from_timm(CONFIGS["inception"])  # floor(299 / 0.8975) = 333
    out = to_input_array(Image.new("RGB", (400, 300)), cfg)
    assert out.shape == (3, 320, 416)
