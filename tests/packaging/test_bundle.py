"""The bundled-export mechanism in core: found inside and outside a frozen app, used only on a match."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import core.engine.runtime as runtime
from core.engine import bundle
from core.engine.backbones import (
    BackboneState,
    availability,
    get_backbone_spec,
    with_weights_file,
)
from core.engine.bundle import (
    BUNDLED_MODELS_ENV,
    MANIFEST_FORMAT,
    MANIFEST_NAME,
    bundle_root,
    bundled_export,
    bundled_models_dir,
    manifest_entry,
    resource_path,
)
from core.errors import BackboneUnavailable

DATA_CONFIG = {
    "input_size": [3, 8, 8],
    "interpolation": "bilinear",
    "mean": [0.5, 0.5, 0.5],
    "std": [0.25, 0.25, 0.25],
    "crop_pct": 1.0,
    "crop_mode": "center",
}


def tiny_onnx(path: Path) -> None:
    """A two-output graph with the runtime's contract: pooled embedding and 1000 logits."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((3, 1000), dtype=np.float32), "w")
    nodes = [
        helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["embedding"]),
        helper.make_node("MatMul", ["embedding", "w"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", 3]),
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1000]),
        ],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def write_bundle(
    folder: Path, spec, *, digest: str = "ab" * 32, manifest: dict | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    tiny_onnx(folder / f"{spec.name}.onnx")
    (folder / f"{spec.name}.json").write_text(json.dumps(DATA_CONFIG))
    if manifest is None:
        manifest = {
            "format": MANIFEST_FORMAT,
            "exports": {spec.name: manifest_entry(spec, weights_sha256=digest)},
        }
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def spec():
    return get_backbone_spec("efficientnet-lite0")


@pytest.fixture
def frozen(monkeypatch, tmp_path) -> Path:
    """Pretend to be a PyInstaller app unpacked in ``tmp_path/app``."""
    root = tmp_path / "app"
    root.mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(root), raising=False)
    return root


def test_from_source_the_package_ships_its_models(monkeypatch):
    monkeypatch.delattr(sys, "frozen", raising=False)
    assert bundle_root() is None
    assert bundled_models_dir() == resource_path("models")


def test_frozen_app_finds_models_and_resources_in_its_folder(frozen):
    assert bundle_root() == frozen
    assert bundled_models_dir() is None  # nothing unpacked there yet
    write_bundle(frozen / "resources" / "models", get_backbone_spec("efficientnet-lite0"))
    assert bundled_models_dir() == frozen / "resources" / "models"
    assert resource_path("vocabulary.json") == frozen / "resources" / "vocabulary.json"


def test_environment_points_at_models_anywhere(monkeypatch, tmp_path, frozen):
    monkeypatch.setenv(BUNDLED_MODELS_ENV, str(tmp_path / "elsewhere"))
    assert bundled_models_dir() == tmp_path / "elsewhere"


def test_resource_path_from_source_is_the_repository_file():
    path = resource_path("vocabulary.json")
    assert path.is_file() and path.parent.name == "resources"


def test_matching_export_is_found(tmp_path, spec):
    folder = write_bundle(tmp_path / "models", spec)
    found = bundled_export(spec, models_dir=folder)
    assert found is not None
    assert found.model == folder / "efficientnet-lite0.onnx"
    assert found.weights_sha256 == "ab" * 32


def test_frozen_app_reads_its_own_manifest(frozen, spec):
    write_bundle(frozen / "resources" / "models", spec)
    assert bundled_export(spec) is not None
    assert availability(spec).note == "available (bundled export)"
    assert availability(spec).usable


@pytest.mark.parametrize(
    "breakage",
    ["other weights", "other architecture", "missing graph", "bad manifest", "old format"],
)
def test_anything_but_an_exact_match_is_ignored(tmp_path, spec, breakage):
    folder = write_bundle(tmp_path / "models", spec)
    asked = spec
    if breakage == "other weights":
        asked = with_weights_file(spec, tmp_path / "mine.pth")
    elif breakage == "other architecture":
        entry = json.loads((folder / MANIFEST_NAME).read_text())
        entry["exports"][spec.name]["architecture"] = "resnet50.a1_in1k"
        (folder / MANIFEST_NAME).write_text(json.dumps(entry))
    elif breakage == "missing graph":
        (folder / f"{spec.name}.onnx").unlink()
    elif breakage == "bad manifest":
        (folder / MANIFEST_NAME).write_text("{not json")
    else:
        entry = json.loads((folder / MANIFEST_NAME).read_text())
        entry["format"] = MANIFEST_FORMAT + 1
        (folder / MANIFEST_NAME).write_text(json.dumps(entry))
    assert bundled_export(asked, models_dir=folder) is None


def test_runtime_opens_the_bundled_export_without_weights(monkeypatch, tmp_path, spec):
    folder = write_bundle(tmp_path / "models", spec)
    monkeypatch.setenv(BUNDLED_MODELS_ENV, str(folder))
    monkeypatch.setattr(runtime, "local_weights_file", lambda _spec: None)
    monkeypatch.setattr(runtime, "_export", pytest.fail)
    opened = runtime.open_runtime(spec, device="cpu", cache_dir=tmp_path / "cache", threads=1)
    assert opened.data_config.input_size == (3, 8, 8)
    embedding, logits = opened.run(np.full((2, 3, 8, 8), 2.0, dtype=np.float32))
    assert embedding.shape == (2, 3) and logits.shape == (2, 1000)
    assert np.allclose(logits, 6.0)


def test_runtime_uses_the_bundle_when_the_weights_digest_matches(monkeypatch, tmp_path, spec):
    weights = tmp_path / "lite0.pth"
    weights.write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    folder = write_bundle(tmp_path / "models", spec, digest=digest)
    monkeypatch.setenv(BUNDLED_MODELS_ENV, str(folder))
    monkeypatch.setattr(runtime, "local_weights_file", lambda _spec: weights)
    monkeypatch.setattr(runtime, "_export", pytest.fail)
    opened = runtime.open_runtime(spec, device="cpu", cache_dir=tmp_path / "cache", threads=1)
    assert opened.name == "onnxruntime-cpu"


@pytest.mark.torch
def test_runtime_exports_afresh_when_the_weights_differ(monkeypatch, tmp_path, spec):
    weights = tmp_path / "lite0.pth"
    weights.write_bytes(b"retrained weights")
    folder = write_bundle(tmp_path / "models", spec, digest="0" * 64)
    monkeypatch.setenv(BUNDLED_MODELS_ENV, str(folder))
    monkeypatch.setattr(runtime, "local_weights_file", lambda _spec: weights)
    exported = []

    def fake_export(_spec, paths):
        exported.append(paths)
        raise RuntimeError("export reached")

    monkeypatch.setattr(runtime, "_export", fake_export)
    with pytest.raises(RuntimeError, match="export reached"):
        runtime.open_runtime(spec, device="cpu", cache_dir=tmp_path / "cache", threads=1)
    assert exported


def hide_torch(monkeypatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "torch" else real(name, *args),
    )


def test_without_torch_or_a_bundle_the_reason_is_one_line(monkeypatch, tmp_path, spec):
    hide_torch(monkeypatch)
    monkeypatch.setattr(bundle, "bundled_models_dir", lambda: None)
    weights = tmp_path / "lite0.pth"
    weights.write_bytes(b"weights")
    monkeypatch.setattr(runtime, "local_weights_file", lambda _spec: weights)
    with pytest.raises(
        BackboneUnavailable,
        match=r"^EfficientNet-Lite0 \(offline\): converting its weights to ONNX \(once\) needs "
        r"torch: pip install 'phototagger\[torch\]'$",
    ):
        runtime.open_runtime(spec, device="cpu", cache_dir=tmp_path / "cache")
    assert availability(get_backbone_spec("vgg16")).state is BackboneState.NEEDS_TORCH
    assert availability(get_backbone_spec("vgg16")).note == (
        "needs torch to convert its weights (pip install 'phototagger[torch]')"
    )


def test_packaged_app_without_torch_says_not_in_this_build(monkeypatch, frozen):
    hide_torch(monkeypatch)
    found = availability(get_backbone_spec("vgg16"))
    assert found.note.startswith("not in this build")
    assert found.state is BackboneState.NOT_IN_BUILD and not found.usable


def test_a_gpu_without_torch_is_one_line(monkeypatch):
    monkeypatch.setitem(
        sys.modules, "core.engine.torch_backend", None
    )  # import fails as without torch
    assert runtime.resolve_device("auto") == "cpu"
    with pytest.raises(
        BackboneUnavailable,
        match=r"^running on cuda needs torch: pip install 'phototagger\[torch\]'$",
    ):
        runtime.resolve_device("cuda")


def test_shipped_tables_load_where_resources_are_a_multiplexed_path(monkeypatch):
    """A frozen app's ``resources`` package is a MultiplexedPath, whose joinpath takes one part.

    Found by the packaged app's smoke test: tagging stopped at the people model.
    """
    from importlib import resources
    from importlib.readers import MultiplexedPath

    from core.engine import faces, people_tags, vocabulary

    folder = resource_path()
    real_files = resources.files
    monkeypatch.setattr(
        resources,
        "files",
        lambda package: (
            MultiplexedPath(str(folder)) if package == "resources" else real_files(package)
        ),
    )
    vocabulary._bundled.cache_clear()
    try:
        assert len(vocabulary.Vocabulary.bundled().tags) > 100
    finally:
        vocabulary._bundled.cache_clear()
    model = people_tags.PeopleModel.bundled()
    assert model.class_indices and model.with_faces is not None
    assert faces._models_dir().is_dir()
