"""How a backbone runs: ONNX Runtime on the CPU, torch on CUDA or MPS.

The CPU path runs the default backbone's export shipped in the package (float,
or int8 where the CPU multiplies int8 fast), and for other backbones an ONNX
export made once per weights file with torch and cached under a key derived
from the weights' content, the architecture and the library versions. Opening
a CPU runtime imports neither torch nor timm: the export's data config travels
beside it as JSON.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np

from core.engine.backbones import BackboneSpec, local_weights_file, torch_missing_hint
from core.engine.bundle import bundled_export
from core.engine.transforms import DataConfig
from core.errors import BackboneUnavailable

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "float", "int8")
"""CPU graph: ``float``, ``int8`` (statically quantized, where shipped: the graph for this
CPU, see :func:`int8_graph`), or ``auto`` (the setting's default): int8 where the CPU has
8-bit dot-product instructions, float elsewhere. On other x86 CPUs the int8 graph must
use 7-bit weights and loses too much tag quality to be chosen for the user (ADR 0007)."""
INT8_ARITHMETIC_ENV = "PHOTOTAGGER_INT8_ARITHMETIC"
"""``exact`` runs the full 8-bit int8 graph unfused (dequantize, float kernel, quantize):
the arithmetic a CPU with 8-bit dot-product instructions does, on any CPU, slowly. It is
for measuring that graph's quality on a machine without those instructions."""
_EXPORT_FORMAT = "3"  # bump when the exported graph's inputs or outputs change


class Runtime(Protocol):
    """One forward pass per batch: pooled embeddings and ImageNet logits."""

    name: str
    data_config: DataConfig

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class ExportPaths:
    model: Path
    config: Path


class OnnxCpuRuntime:
    """ONNX Runtime on the CPU, with every core for intra-op parallelism."""

    def __init__(
        self,
        model_path: Path,
        data_config: DataConfig,
        *,
        threads: int | None = None,
        precision: str = "float",
        graph: str | None = None,
        fused: bool = True,
    ):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = (
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            if fused
            else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        )
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # Spinning worker threads would steal the cores the decoders need between batches.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Inputs change shape with the photos' (whole-photo view): a memory plan cached
        # per shape only piles up.
        options.enable_mem_pattern = False
        self._session = ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        graph = graph or precision
        self.name = "onnxruntime-cpu" if graph == "float" else f"onnxruntime-cpu-{graph}"
        if not fused:
            self.name += "-exact"
        self.precision = precision
        self.data_config = data_config

    def run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        embedding, logits = self._session.run(None, {"pixels": batch})
        return embedding, logits


def resolve_device(device: str) -> str:
    """Turn ``auto`` into ``cuda``, ``mps`` or ``cpu`` without importing torch when it cannot help.

    Raises:
        BackboneUnavailable: If a named accelerator is not present.
    """
    if device not in DEVICES and not device.startswith("cuda:"):
        raise BackboneUnavailable(f"unknown device {device!r}; use one of {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu"
    if device == "auto" and not _may_have_accelerator():
        return "cpu"
    try:
        from core.engine.torch_backend import cuda_or_mps
    except ImportError:
        if device == "auto":
            return "cpu"
        raise BackboneUnavailable(torch_missing_hint(f"running on {device}")) from None
    found = cuda_or_mps()
    if device == "auto":
        return found or "cpu"
    if found is None or not device.startswith(found):
        raise BackboneUnavailable(f"device {device!r} is not available on this machine")
    return device


def offered_devices() -> tuple[str, ...]:
    """The devices worth offering in a menu, found without importing torch."""
    if not _may_have_accelerator() or importlib.util.find_spec("torch") is None:
        return ("auto", "cpu")
    return ("auto", "cpu", "mps") if sys.platform == "darwin" else ("auto", "cpu", "cuda")


def _may_have_accelerator() -> bool:
    """A cheap look for a GPU, so CPU-only machines never import torch to find out."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    if sys.platform.startswith("win"):
        return Path(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32", "nvcuda.dll").exists()
    return Path("/dev/nvidiactl").exists() or Path("/dev/dxg").exists()


def resolve_precision(precision: str) -> str:
    """Turn ``auto`` into ``int8`` or ``float`` by this CPU's instructions.

    Raises:
        BackboneUnavailable: If ``precision`` is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise BackboneUnavailable(
            f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}"
        )
    if precision != "auto":
        return precision
    from core.engine.cpu_features import has_int8_dot_product

    return "int8" if has_int8_dot_product() else "float"


def int8_graph(variants: Mapping[str, object]) -> str | None:
    """Which shipped int8 graph suits this CPU, of ``variants``; None if none is shipped.

    ``int8`` has full 8-bit weights; ``int8-avx2`` gives pointwise weights 7 bits, for
    x86 CPUs without VNNI, whose 16-bit sums of products would overflow (ADR 0007).
    :data:`INT8_ARITHMETIC_ENV` set to ``exact`` always takes ``int8``.
    """
    from core.engine.cpu_features import int8_multiply_saturates

    wanted = "int8-avx2" if int8_multiply_saturates() and not _exact_int8() else "int8"
    return wanted if wanted in variants else None


def _exact_int8() -> bool:
    return os.environ.get(INT8_ARITHMETIC_ENV, "") == "exact"


def export_paths(spec: BackboneSpec, weights: Path, cache_dir: Path) -> ExportPaths:
    """Where the ONNX export for these weights lives."""
    key = hashlib.sha256()
    key.update(_weights_digest(weights, cache_dir).encode())
    for part in (spec.architecture, _version("timm"), _version("torch"), _EXPORT_FORMAT):
        key.update(b"\0" + part.encode())
    stem = f"{spec.export_name}-{key.hexdigest()[:16]}"
    return ExportPaths(cache_dir / f"{stem}.onnx", cache_dir / f"{stem}.json")


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def _weights_digest(weights: Path, cache_dir: Path) -> str:
    """sha256 of the weights file, remembered per (path, size, mtime) so a re-run skips hashing."""
    stat = weights.stat()
    memo_path = cache_dir / "weights-digests.json"
    memo_key = f"{weights.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    if memo_key in memo:
        return memo[memo_key]
    digest = hashlib.sha256()
    with open(weights, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    memo[memo_key] = digest.hexdigest()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = memo_path.with_suffix(".partial")
    tmp.write_text(json.dumps(memo, indent=1))
    tmp.replace(memo_path)
    return memo[memo_key]


def open_runtime(
    spec: BackboneSpec,
    *,
    device: str = "auto",
    cache_dir: Path,
    threads: int | None = None,
    precision: str = "float",
) -> Runtime:
    """Open the fastest runtime for ``spec`` on ``device``.

    On the CPU the shipped export (see :mod:`core.engine.bundle`) is used as it is when
    it was made from these weights, or when the weights are not installed (the
    default install has no torch and no weights). Its int8 graph runs where
    ``precision`` resolves to ``int8`` and one is shipped. Other backbones are
    exported to ONNX on first use (needs torch once) and later opened from the
    cache, in float.

    Raises:
        BackboneUnavailable: If the weights are missing or the device is absent.
    """
    resolved = resolve_device(device)
    chosen = resolve_precision(precision)
    if resolved != "cpu":
        from core.engine.torch_backend import TorchRuntime, load_torch_backbone

        return TorchRuntime(load_torch_backbone(spec, device=resolved))
    weights = local_weights_file(spec)
    shipped = bundled_export(spec)
    if shipped is not None and (
        weights is None or _weights_digest(weights, cache_dir) == shipped.weights_sha256
    ):
        config = DataConfig.from_timm(json.loads(shipped.config.read_text()))
        variant = int8_graph(shipped.variants) if chosen == "int8" else None
        if variant is not None:
            return OnnxCpuRuntime(
                shipped.variants[variant],
                config,
                threads=threads,
                precision=chosen,
                graph=variant,
                fused=not _exact_int8(),
            )
        return OnnxCpuRuntime(shipped.model, config, threads=threads)
    if weights is None:
        if spec.weights.kind != "hub":
            raise BackboneUnavailable(
                f"{spec.display_name}: weights not found ({spec.weights.describe()})"
            )
        _require_torch(spec)
        from core.engine.torch_backend import load_torch_backbone

        load_torch_backbone(spec)  # fetches into timm's cache, or says why it cannot
        weights = local_weights_file(spec)
        if weights is None:
            raise BackboneUnavailable(
                f"{spec.display_name}: weights were not cached after download"
            )
    paths = export_paths(spec, weights, cache_dir)
    if not (paths.model.exists() and paths.config.exists()):
        _require_torch(spec)
        _export(spec, paths)
    config = DataConfig.from_timm(json.loads(paths.config.read_text()))
    return OnnxCpuRuntime(paths.model, config, threads=threads)


def _require_torch(spec: BackboneSpec) -> None:
    """Say in one line that torch is missing, instead of an ImportError from deep inside.

    A CPU-only package leaves torch out and ships ready exports instead; any
    other backbone needs torch once, to fetch or convert its weights.
    """
    if importlib.util.find_spec("torch") is None:
        raise BackboneUnavailable(
            f"{spec.display_name}: " + torch_missing_hint("converting its weights to ONNX (once)")
        )


def _export(spec: BackboneSpec, paths: ExportPaths) -> None:
    from core.engine.torch_backend import export_onnx, load_torch_backbone

    log.info("exporting %s to ONNX (once per weights file)", spec.name)
    loaded = load_torch_backbone(spec)
    paths.model.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(loaded, paths.model)
    tmp = paths.config.with_suffix(".partial")
    tmp.write_text(json.dumps(loaded.data_config.as_dict()))
    tmp.replace(paths.config)
