"""Load the packaging scripts by path: ``packaging/`` is not a package (see layout.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"phototagger_{name}", PACKAGING / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def layout() -> ModuleType:
    return load_script("layout")


@pytest.fixture(scope="session")
def entry() -> ModuleType:
    return load_script("entry")


@pytest.fixture(scope="session")
def build() -> ModuleType:
    return load_script("build")


@pytest.fixture(scope="session")
def smoke() -> ModuleType:
    return load_script("smoke_test")
