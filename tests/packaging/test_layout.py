"""What the packaging scripts compute: bundle contents, executable names and roles, metadata."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_cpu_build_leaves_the_torch_stack_out_and_gpu_keeps_it(layout):
    cpu, gpu = layout.excludes("cpu"), layout.excludes("gpu")
    for module in ("torch", "torchvision", "timm", "triton", "sympy", "core.engine.torch_backend"):
        assert module in cpu and module not in gpu
    assert "tkinter" in cpu and "tkinter" in gpu
    with pytest.raises(ValueError, match="unknown flavor"):
        layout.excludes("tpu")


def test_no_module_the_cpu_path_needs_is_excluded(layout):
    needed = {
        "core",
        "core.engine.runtime",
        "core.cli",
        "core.learning.learned",
        "scipy",
        "sklearn",
        "onnxruntime",
        "numpy",
        "PIL",
        "PySide6.QtWidgets",
        "superqt",
        "qtpy",
        "dlib",
        "face_recognition_models",
    }
    assert needed.isdisjoint(layout.excludes("cpu"))


@pytest.mark.parametrize("flavor", ["cpu", "gpu"])
def test_qtpy_can_only_find_pyside6_in_the_bundle(layout, flavor):
    """superqt's workers go through qtpy, which imports the first Qt binding it finds."""
    assert {"PyQt5", "PyQt6", "PySide2"} <= set(layout.excludes(flavor))
    assert "PySide6" not in layout.excludes(flavor)


@pytest.mark.parametrize(
    ("platform", "name"),
    [("linux", "phototagger"), ("win32", "phototagger-cli"), ("darwin", "phototagger-cli")],
)
def test_cli_name_never_collides_with_the_gui_on_case_blind_file_systems(layout, platform, name):
    assert layout.cli_exe_name(platform) == name
    if platform != "linux":
        assert name.lower() != layout.GUI_EXE.lower()


@pytest.mark.parametrize(
    ("executable", "role"),
    [
        ("/opt/PhotoTagger/PhotoTagger", "gui"),
        ("/opt/PhotoTagger/phototagger", "cli"),
        (r"C:\Apps\PhotoTagger\phototagger-cli.exe", "cli"),
        (r"C:\Apps\PhotoTagger\PhotoTagger.exe", "gui"),
        ("/usr/bin/python3", "gui"),
    ],
)
def test_entry_picks_the_app_by_executable_name(entry, executable, role):
    assert entry.role_for(executable) == role


def test_entry_names_match_the_layout(entry, layout):
    for platform in ("linux", "win32", "darwin"):
        assert entry.role_for(f"/x/{layout.cli_exe_name(platform)}") == "cli"
    assert entry.role_for(f"/x/{layout.GUI_EXE}") == "gui"


def test_version_comes_from_pyproject(layout):
    text = (ROOT / "pyproject.toml").read_text()
    declared = re.search(r'^version = "([^"]+)"', text, re.M).group(1)
    assert layout.project_version(ROOT / "pyproject.toml") == declared


def test_staged_metadata_is_what_importlib_metadata_reads(build, tmp_path):
    info = build.stage_metadata(tmp_path / "meta", "1.2.3")
    assert info.name == "phototagger-1.2.3.dist-info"
    dist = metadata.PathDistribution(info)
    assert dist.version == "1.2.3" and dist.metadata["Name"] == "phototagger"


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/plugins/platforms/libqlinuxfb.so", False),
        ("PySide6/Qt/plugins/imageformats/libqjpeg.so", True),
        ("PySide6/Qt/plugins/generic/libqtuiotouchplugin.so", False),
        (r"PySide6\Qt6\plugins\platforms\qwindows.dll", True),
        ("PySide6/Qt/translations/qtbase_de.qm", False),
        ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
        ("torch/lib/libtorch_cpu.so", False),
        ("onnxruntime/capi/libonnxruntime.so.1", True),
        ("resources/vocabulary.json", True),
        ("resources/models/efficientnet-lite0.onnx", True),
    ],
)
def test_bundle_keeps_what_the_app_loads(layout, dest, kept):
    assert layout.keep_in_bundle(dest) is kept


def test_icon_is_drawn_as_png_and_ico(build, tmp_path):
    from PIL import Image

    png = build.draw_icon(tmp_path)
    with Image.open(png) as img:
        assert img.size == (256, 256)
    assert (tmp_path / "phototagger.ico").stat().st_size > 0


def test_the_smoke_test_compares_top_tags_not_scores(smoke):
    ours = {"a.jpg": ["#dog", "#animal", "#terrier"], "b.jpg": ["#car"]}
    same = {"a.jpg": ["#dog", "#animal", "#pug"], "b.jpg": ["#car"]}
    assert smoke.top_tag_mismatches(ours, same, top=2) == []
    other = {"a.jpg": ["#cat"], "c.jpg": ["#car"]}
    problems = smoke.top_tag_mismatches(ours, other, top=2)
    assert any("a.jpg" in p for p in problems) and any("b.jpg" in p for p in problems)
