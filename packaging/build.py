"""Build the one-folder app ``dist/PhotoTagger/`` with PyInstaller.

Run from the repository root with the project's dependencies and PyInstaller
installed (``pip install -e '.[packaging]'``)::

    python packaging/build.py            # the CPU build: ONNX Runtime, no torch
    python packaging/build.py --smoke    # and then packaging/smoke_test.py

Before PyInstaller runs, this stages what the spec ships besides code under
``build/packaging/``: the default backbone's ONNX export with its manifest
(made here with torch, once, through the same cache the installed app uses, so
the bundle runs the very graph a source install runs), a ``dist-info`` folder
so ``--version`` works, and the icon. It prints one JSON object: how long the
build took and how big the result is.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
STAGE = ROOT / "build" / "packaging"
DIST = ROOT / "dist"


def load_layout() -> ModuleType:
    """``packaging/layout.py`` by path (the folder is deliberately not a package)."""
    spec = importlib.util.spec_from_file_location(
        "phototagger_layout", Path(__file__).with_name("layout.py")
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stage_exports(names: list[str], dest: Path, *, cache: Path) -> dict[str, dict]:
    """Export each backbone to ONNX (or reuse the cached export) into ``dest`` with a manifest.

    Returns:
        The manifest's ``exports`` table.
    """
    sys.path.insert(0, str(ROOT))
    from importlib import metadata

    from core.backbones import get_backbone_spec, local_weights_file
    from core.bundle import BUNDLED_MODELS_ENV, MANIFEST_FORMAT, MANIFEST_NAME, manifest_entry
    from core.runtime import _EXPORT_FORMAT, export_paths, open_runtime

    os.environ.pop(BUNDLED_MODELS_ENV, None)  # export from the weights, never from a bundle
    dest.mkdir(parents=True, exist_ok=True)
    exports: dict[str, dict] = {}
    for name in names:
        spec = get_backbone_spec(name)
        weights = local_weights_file(spec)
        if weights is None:
            raise SystemExit(f"build: the weights for {name} are not installed here")
        open_runtime(spec, device="cpu", cache_dir=cache)  # exports once, if not cached
        paths = export_paths(spec, weights, cache)
        shutil.copyfile(paths.model, dest / f"{spec.name}.onnx")
        shutil.copyfile(paths.config, dest / f"{spec.name}.json")
        exports[spec.name] = manifest_entry(
            spec,
            weights_sha256=sha256_file(weights),
            export_format=_EXPORT_FORMAT,
            torch=metadata.version("torch"),
            timm=metadata.version("timm"),
        )
    manifest = {"format": MANIFEST_FORMAT, "exports": exports}
    (dest / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return exports


def stage_metadata(dest: Path, version: str) -> Path:
    """A ``dist-info`` folder, so ``importlib.metadata`` (and ``--version``) knows the app."""
    layout = load_layout()
    if dest.exists():
        shutil.rmtree(dest)
    info = dest / layout.dist_info_name(version)
    info.mkdir(parents=True)
    (info / "METADATA").write_text(layout.metadata_text(version), encoding="utf-8")
    return info


def draw_icon(dest: Path) -> Path:
    """The app icon, drawn with Pillow: a tag shape with a hash sign (PNG and ICO)."""
    from PIL import Image, ImageDraw

    size = 256
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((8, 8, size - 8, size - 8), radius=48, fill=(37, 99, 235, 255))
    draw.polygon([(60, 70), (150, 70), (205, 128), (150, 186), (60, 186)], fill=(255, 255, 255))
    draw.ellipse((74, 116, 98, 140), fill=(37, 99, 235, 255))
    for x in (122, 146):
        draw.line((x + 6, 96, x - 6, 160), fill=(37, 99, 235, 255), width=8)
    for y in (116, 140):
        draw.line((108, y, 172, y), fill=(37, 99, 235, 255), width=8)
    dest.mkdir(parents=True, exist_ok=True)
    png = dest / "phototagger.png"
    img.save(png)
    img.save(dest / "phototagger.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (256, 256)])
    return png


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def largest_parts(app: Path, count: int = 8) -> list[tuple[str, int]]:
    """The biggest top-level entries under ``_internal``: where the megabytes go."""
    internal = app / "_internal"
    sizes = []
    for entry in internal.iterdir():
        size = folder_size(entry) if entry.is_dir() else entry.stat().st_size
        sizes.append((entry.name, size))
    return sorted(sizes, key=lambda item: -item[1])[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavor", choices=["cpu"], default="cpu", help="What to build.")
    parser.add_argument("--smoke", action="store_true", help="Run the smoke test afterwards.")
    parser.add_argument(
        "--export-cache",
        type=Path,
        help="Where ONNX exports are cached (default: PhotoTagger's user cache, as the app uses).",
    )
    args = parser.parse_args(argv)
    layout = load_layout()
    started = time.monotonic()

    sys.path.insert(0, str(ROOT))
    from core.backbones import DEFAULT_BACKBONE
    from core.settings import cache_dir

    version = layout.project_version(ROOT / "pyproject.toml")
    stage_exports(
        [DEFAULT_BACKBONE], STAGE / "models", cache=args.export_cache or cache_dir() / "onnx"
    )
    stage_metadata(STAGE / "meta", version)
    draw_icon(STAGE / "icon")
    staged = time.monotonic()

    env = {
        **os.environ,
        "PHOTOTAGGER_BUILD_STAGE": str(STAGE),
        "PHOTOTAGGER_BUILD_FLAVOR": args.flavor,
    }
    command = [
        sys.executable,
        "-m",
        "PyInstaller",
        str(ROOT / "packaging" / "phototagger.spec"),
        "--noconfirm",
        "--clean",
        "--log-level=WARN",
        f"--distpath={DIST}",
        f"--workpath={ROOT / 'build' / 'pyinstaller'}",
    ]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    app = DIST / layout.APP_NAME
    report = {
        "flavor": args.flavor,
        "version": version,
        "app": str(app),
        "stage_s": round(staged - started, 1),
        "pyinstaller_s": round(time.monotonic() - staged, 1),
        "size_mb": round(folder_size(app) / 1e6, 1),
        "files": sum(1 for p in app.rglob("*") if p.is_file()),
        "largest_mb": {name: round(size / 1e6, 1) for name, size in largest_parts(app)},
    }
    print(json.dumps(report, indent=1))
    if args.smoke:
        return subprocess.run(
            [sys.executable, str(ROOT / "packaging" / "smoke_test.py"), str(app)]
        ).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
