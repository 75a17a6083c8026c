"""Build the one-folder app ``dist/PhotoTagger/`` with PyInstaller.

Run from the repository root with the project's dependencies and PyInstaller
installed (``pip install -e '.[packaging]'``)::

    python packaging/build.py            # the CPU build: ONNX Runtime, no torch
    python packaging/build.py --smoke    # and then packaging/smoke_test.py

Before PyInstaller runs, this makes sure the default backbone's ONNX export
that the pip package ships (``resources/models/``) is there and intact, through
``resources/build_backbone_export.py``, the one script that makes it (so the app
runs the very graph a pip install runs), and stages under ``build/packaging/``
a ``dist-info`` folder so ``--version`` works, and the icon. It prints one JSON object: how long the
build took and how big the result is.
"""

from __future__ import annotations

import argparse
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


def ensure_exports() -> dict[str, dict]:
    """The shipped exports' manifest table, made by the project's export script if missing.

    Returns:
        The manifest's ``exports`` table.
    """
    sys.path.insert(0, str(ROOT))
    from resources.build_backbone_export import ensure_shipped

    return ensure_shipped()


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
    args = parser.parse_args(argv)
    layout = load_layout()
    started = time.monotonic()

    version = layout.project_version(ROOT / "pyproject.toml")
    ensure_exports()
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
