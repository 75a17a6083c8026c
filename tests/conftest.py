"""Shared fixtures: a fresh store, isolated app folders, real photos from ../shared/data."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
OUTPUT = ROOT / "test-output"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_collection_modifyitems(config, items) -> None:
    """Tests marked ``torch`` skip, with the reason, where torch is not installed (lean install)."""
    if importlib.util.find_spec("torch") is not None:
        return
    skip = pytest.mark.skip(reason="needs torch: pip install 'phototagger[torch]'")
    for item in items:
        if item.get_closest_marker("torch") is not None:
            item.add_marker(skip)


def shared(*parts: str) -> Path:
    """A path under ../shared/data; skips the test with a clear reason if it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"shared test data not found at {path} (clone with ../shared beside the project)"
        )
    return path


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own PHOTOTAGGER_HOME, so nothing touches the user's real data.

    The ONNX export cache is shared across tests (it is keyed by content) to keep the run fast.
    """
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("PHOTOTAGGER_HOME", str(home))
    cache = tmp_path_factory.getbasetemp() / "shared-cache"
    (home / "cache").parent.mkdir(parents=True, exist_ok=True)
    cache.mkdir(exist_ok=True)
    (home / "cache").symlink_to(cache, target_is_directory=True)
    for name in list(os.environ):
        if name.startswith("PHOTOTAGGER_") and name != "PHOTOTAGGER_HOME":
            monkeypatch.delenv(name)
    return home


@pytest.fixture(autouse=True)
def cpu_without_int8_dot_product(monkeypatch) -> None:
    """Every test sees a CPU without 8-bit dot products, whatever runs it: ``auto`` means float.

    Scores and parities then do not depend on the machine; tests of the int8 choice
    set the CPU's answers themselves. Processes a test starts see the real CPU.
    """
    from core.engine import cpu_features

    monkeypatch.setattr(cpu_features, "has_int8_dot_product", lambda: False)


@pytest.fixture
def store():
    from core.store import Store

    with Store(":memory:") as db:
        yield db


@pytest.fixture(scope="session")
def tagger(tmp_path_factory):
    """The default backbone's shipped float graph on ONNX Runtime (the same on every CPU)."""
    from core.engine.pipeline import Tagger

    cache = tmp_path_factory.getbasetemp() / "shared-cache" / "onnx"
    return Tagger.open("efficientnet-lite0", device="cpu", cache_dir=cache, precision="float")


@pytest.fixture
def coco_dir() -> Path:
    return shared("coco-mini")


@pytest.fixture
def output_dir(request) -> Path:
    """A folder under test-output/ for screenshots and files a person may want to look at."""
    path = OUTPUT / request.node.name
    path.mkdir(parents=True, exist_ok=True)
    return path
