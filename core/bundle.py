"""Ready ONNX exports that a packaged app ships, and where its bundled files are.

A CPU-only build of PhotoTagger leaves torch and timm out, so it cannot make
the ONNX export :mod:`core.runtime` normally caches on first use. The build
makes the export instead and ships it in a ``models`` folder with a manifest
saying which weights and architecture it came from; the runtime uses it only
when the manifest matches the backbone asked for, so a user's own weights file
never runs through the bundled graph.

The folder is found beside the frozen app (PyInstaller's ``sys._MEIPASS``) or
wherever ``PHOTOTAGGER_BUNDLED_MODELS`` points (tests, relocated installs).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.backbones import BackboneSpec

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
    """

    model: Path
    config: Path
    weights_sha256: str


def bundle_root() -> Path | None:
    """The folder a frozen app unpacked its files into, or None when run from source."""
    base = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and base:
        return Path(base)
    return None


def bundled_models_dir() -> Path | None:
    """Where bundled exports live: the environment's choice, else the frozen app's folder."""
    configured = os.environ.get(BUNDLED_MODELS_ENV)
    if configured:
        return Path(configured).expanduser()
    root = bundle_root()
    return root / MODELS_DIRNAME if root is not None else None


def manifest_entry(spec: BackboneSpec, *, weights_sha256: str, **extra: str) -> dict[str, Any]:
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
    return BundledExport(model=model, config=config, weights_sha256=digest)


def resource_path(*parts: str) -> Path:
    """A file shipped in the ``resources`` package, inside or outside a frozen app.

    Code that can should use ``importlib.resources``; this is for callers that
    need a real path (Qt's icon loaders, the packaging smoke test).
    """
    root = bundle_root()
    if root is not None:
        return root.joinpath("resources", *parts)
    return Path(__file__).resolve().parent.parent.joinpath("resources", *parts)
