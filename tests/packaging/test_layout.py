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


# Imports every module the CPU build runs, with the build's exclusions made unimportable, as
# in the bundle: a module our dependencies import without a fallback must not be left out.
LEFT_OUT = """
import importlib.abc, importlib.util, json, sys
excluded = set(json.loads(sys.argv[1]))
class LeftOut(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in excluded or name.partition(".")[0] in excluded:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, LeftOut())
for module in sys.argv[2:]:
    if importlib.util.find_spec(module.partition(".")[0]) is not None:
        __import__(module)
"""
CPU_PATH = (
    "core.cli",
    "core.cli.engine",
    "core.cli.learning",
    "core.cli.curation",
    "core.cli.people",
    "core.engine.pipeline",
    "core.engine.runtime",
    "core.engine.faces",
    "core.engine.face_encoder",
    "core.learning.learned",
    "core.learning.learner",
    "core.learning.metrics",
    "core.export.export",
    "core.curation.curate",
    "onnxruntime",
    "PIL.Image",
    "pillow_heif",
    "dlib",
    "desktop.main_window",
    "desktop.tagging",
    "bot.runner",
    "bot.service",
)


def test_every_module_the_cpu_build_runs_imports_without_what_it_leaves_out(layout):
    """scipy's array-API layer imports numpy.testing, which imports unittest: found packaged."""
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "-c", LEFT_OUT, json.dumps(layout.excludes("cpu")), *CPU_PATH],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]


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


def test_the_smoke_test_reads_low_confidence_tags_from_the_csv(tmp_path, smoke):
    path = tmp_path / "tags.csv"
    path.write_text(
        "\ufefflocation,status,hashtags,tags,error\n"
        "/a.jpg,tagged,#tv #hometheater,tv:0.434; home theater:0.368,\n"
        "/b.jpg,tagged,#dog,dog:0.184 (low confidence),\n",
        encoding="utf-8",
    )
    hashtags, scores = smoke.read_csv_tags(path)
    assert hashtags == {"/a.jpg": ["#tv", "#hometheater"], "/b.jpg": ["#dog"]}
    assert scores == {"/a.jpg": {"tv": 0.434, "home theater": 0.368}, "/b.jpg": {"dog": 0.184}}
