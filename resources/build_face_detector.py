"""Export MTCNN's three networks from ``facenet-pytorch`` to ONNX in ``resources/faces/``.

Run from the project root once facenet-pytorch is installed
(``pip install --no-deps facenet-pytorch``: it pins an old torch and numpy that
PhotoTagger does not need)::

    python resources/build_face_detector.py

The exports and ``manifest.json`` are committed, so detecting faces needs only
onnxruntime, numpy and Pillow (:mod:`core.engine.faces`). Only the networks'
definitions and weight files are taken from the package; its ``__init__``
imports ``requests`` and the FaceNet embedding model, which are not needed.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.machinery
import importlib.util
import json
import sys
import types
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "faces"
MANIFEST_NAME = "manifest.json"
SOURCE_PACKAGE = "facenet-pytorch"
OPSET = 17

# (file stem, facenet-pytorch class, example input size, output names)
NETS: tuple[tuple[str, str, tuple[int, int], tuple[str, ...]], ...] = (
    ("pnet", "PNet", (48, 64), ("regression", "probability")),
    ("rnet", "RNet", (24, 24), ("regression", "probability")),
    ("onet", "ONet", (48, 48), ("regression", "landmarks", "probability")),
)

LICENCE = (
    "MIT. The networks and weights come from facenet-pytorch (MIT, Copyright (c) 2019 "
    "Timothy Esler, https://github.com/timesler/facenet-pytorch), which ported them from "
    "David Sandberg's facenet (MIT, https://github.com/davidsandberg/facenet, "
    "src/align/det1.npy..det3.npy), itself a conversion of the MTCNN models of K. Zhang, "
    "Z. Zhang, Z. Li and Y. Qiao, 'Joint Face Detection and Alignment Using Multitask "
    "Cascaded Convolutional Networks', IEEE Signal Processing Letters, 2016 "
    "(https://github.com/kpzhang93/MTCNN_face_detection_alignment)."
)


def facenet_package_dir() -> Path | None:
    """Where facenet-pytorch is installed, found without importing it."""
    spec = _facenet_spec()
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _facenet_spec() -> importlib.machinery.ModuleSpec | None:
    loaded = sys.modules.get("facenet_pytorch")
    if loaded is not None:
        return loaded.__spec__
    return importlib.util.find_spec("facenet_pytorch")


def load_facenet_mtcnn() -> types.ModuleType:
    """facenet-pytorch's ``models.mtcnn`` module, without running the package's ``__init__``.

    Raises:
        ImportError: If facenet-pytorch (or torch/torchvision) is not installed.
    """
    package_dir = facenet_package_dir()
    if package_dir is None:
        raise ImportError(
            "facenet-pytorch is not installed (pip install --no-deps facenet-pytorch)"
        )
    if "facenet_pytorch" not in sys.modules:
        stub = types.ModuleType("facenet_pytorch")
        stub.__path__ = [str(package_dir)]
        stub.__spec__ = importlib.util.find_spec("facenet_pytorch")
        sys.modules["facenet_pytorch"] = stub
    import facenet_pytorch.models.mtcnn as mtcnn  # the stub's path makes this the package's file

    return mtcnn


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_net(mtcnn: types.ModuleType, name: str, out_path: Path) -> None:
    """Export one of the three networks to ``out_path`` (atomically)."""
    import torch

    stem, cls_name, (height, width), outputs = next(n for n in NETS if n[0] == name)
    net = getattr(mtcnn, cls_name)(pretrained=True).eval()
    example = torch.zeros((2, 3, height, width), dtype=torch.float32)
    axes: dict[str, dict[int, str]] = {"pixels": {0: "batch"}}
    if stem == "pnet":  # fully convolutional: one pass per pyramid level, any size
        axes["pixels"].update({2: "height", 3: "width"})
        axes.update({out: {0: "batch", 2: "rows", 3: "cols"} for out in outputs})
    else:
        axes.update({out: {0: "batch"} for out in outputs})
    tmp = out_path.with_suffix(".onnx.partial")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            net,
            (example,),
            str(tmp),
            input_names=["pixels"],
            output_names=list(outputs),
            dynamic_axes=axes,
            opset_version=OPSET,
            dynamo=False,
        )
    tmp.replace(out_path)


def build(out_dir: Path = OUT_DIR) -> dict[str, Any]:
    """Export the three networks and write the manifest; returns the manifest."""
    mtcnn = load_facenet_mtcnn()
    package_dir = facenet_package_dir()
    assert package_dir is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    nets: dict[str, Any] = {}
    for stem, cls_name, _, outputs in NETS:
        weights = package_dir / "data" / f"{stem}.pt"
        onnx_path = out_dir / f"{stem}.onnx"
        export_net(mtcnn, stem, onnx_path)
        nets[stem] = {
            "file": onnx_path.name,
            "sha256": sha256_of(onnx_path),
            "source_class": f"facenet_pytorch.models.mtcnn.{cls_name}",
            "source_weights": f"facenet_pytorch/data/{weights.name}",
            "source_sha256": sha256_of(weights),
            "inputs": ["pixels"],
            "outputs": list(outputs),
        }
    manifest = {
        "detector": "mtcnn",
        "source": {"package": SOURCE_PACKAGE, "version": metadata.version(SOURCE_PACKAGE)},
        "exported_with": {
            "torch": metadata.version("torch"),
            "onnx_opset": OPSET,
        },
        "nets": nets,
        "licence": LICENCE,
    }
    (out_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the exports")
    args = parser.parse_args(argv)
    manifest = build(args.out)
    for stem, net in manifest["nets"].items():
        print(f"{stem}: {args.out / net['file']} sha256 {net['sha256'][:16]}")


if __name__ == "__main__":
    main()
