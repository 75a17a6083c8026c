"""Ready ONNX exports shipped with PhotoTagger, and where its bundled files are.

Tagging on the CPU needs no torch: the default backbone's ONNX export ships
inside the package, in ``resources/models/`` (made by
``resources/build_backbone_export.py``), with a manifest saying which weights
and architecture it came from. The runtime uses a shipped export only when the
manifest matches the backbone asked for, so a user's own weights file never
runs through it. Other backbones need torch once, to make their export.

The folder is ``resources/models`` in the installed package or beside the
frozen app (PyInstaller's ``sys._MEIPASS``), or wherever
``PHOTOTAGGER_BUNDLED_MODELS`` points (tests, relocated installs).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.engine.backbones import BackboneSpec

BUNDLED_MODELS_ENV = "PHOTOTAGGER_BUNDLED_MODELS"
MODELS_DIRNAME = "models"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = 1


@dataclass(frozen=True)
class BundledExport:
    """An ONNX export shipped with the app, and what it was made from.

    Attributes:
        model: The ``<backbone>.onnx`` graph.
        config: The ``<backbone>.json`` timm data config the graph expects.
        weights_sha256: Digest of the weights file the export was made from.
        variants: Other graphs of the same network, by name (``int8``: statically
            quantized), each taking the same inputs and giving the same outputs.
    """

    model: Path
    config: Path
    weights_sha256: str
    variants: dict[str, Path] = field(default_factory=dict)


def bundle_root() -> Path | None:
    """The folder a frozen app unpacked its files into, or None when run from source."""
    base = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and base:
        return Path(base)
    return None


def bundled_models_dir() -> Path | None:
    """Where shipped exports live: the environment's choice, else ``resources/models``.

    None when neither holds a manifest (a source checkout whose exports were removed).
    """
    configured = os.environ.get(BUNDLED_MODELS_ENV)
    if configured:
        return Path(configured).expanduser()
    shipped = resource_path(MODELS_DIRNAME)
    return shipped if (shipped / MANIFEST_NAME).is_file() else None


def manifest_entry(spec: BackboneSpec, *, weights_sha256: str, **extra: Any) -> dict[str, Any]:
    """The manifest record for ``spec``; the build writes it and :func:`bundled_export` reads it."""
    return {
        "architecture": spec.architecture,
        "weights_ref": spec.weights.ref,
        "weights_sha256": weights_sha256,
        "model": f"{spec.export_name}.onnx",
        "config": f"{spec.export_name}.json",
        **extra,
    }


def read_manifest(models_dir: Path) -> dict[str, dict[str, Any]]:
    """The exports listed in ``models_dir``'s manifest; empty if it is absent or unreadable."""
    try:
        manifest = json.loads((models_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return {}
    exports = manifest.get("exports")
    return exports if isinstance(exports, dict) else {}


def bundled_export(spec: BackboneSpec, *, models_dir: Path | None = None) -> BundledExport | None:
    """The shipped export for ``spec``, or None if there is none that matches it.

    An export matches only the registered weights it was made from (same
    architecture and weights reference), so ``--weights FILE`` never gets the
    bundled graph.
    """
    folder = models_dir if models_dir is not None else bundled_models_dir()
    if folder is None:
        return None
    entry = read_manifest(folder).get(spec.export_name)
    if not isinstance(entry, dict):
        return None
    if (
        entry.get("architecture") != spec.architecture
        or entry.get("weights_ref") != spec.weights.ref
    ):
        return None
    model = folder / str(entry.get("model", f"{spec.export_name}.onnx"))
    config = folder / str(entry.get("config", f"{spec.export_name}.json"))
    digest = entry.get("weights_sha256")
    if not (model.is_file() and config.is_file() and isinstance(digest, str) and digest):
        return None
    variants = {}
    listed = entry.get("variants")
    for name, variant in (listed if isinstance(listed, dict) else {}).items():
        path = folder / str(variant.get("model", "")) if isinstance(variant, dict) else None
        if path is not None and path.is_file():
            variants[name] = path
    return BundledExport(model=model, config=config, weights_sha256=digest, variants=variants)


def resource_path(*parts: str) -> Path:
    """A file shipped in the ``resources`` package, inside or outside a frozen app.

    Code that can should use ``importlib.resources``; this is for callers that
    need a real path (Qt's icon loaders, the packaging smoke test).
    """
    root = bundle_root()
    if root is not None:
        return root.joinpath("resources", *parts)
    return Path(__file__).resolve().parents[2].joinpath("resources", *parts)
