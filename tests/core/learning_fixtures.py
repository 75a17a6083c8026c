"""coco-mini tagged once per session, and its tags.csv as the user's decisions."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from tests.conftest import shared


def coco_labels() -> dict[str, set[str]]:
    """Absolute path of each coco-mini photo and its COCO tags."""
    folder = shared("coco-mini")
    with open(folder / "tags.csv", newline="") as fh:
        return {
            str((folder / row["path"]).resolve()): set(row["tags"].split(";"))
            for row in csv.DictReader(fh)
        }


@pytest.fixture(scope="session")
def coco_db(tagger, tmp_path_factory) -> Path:
    """A database file with every coco-mini photo tagged by the default backbone."""
    from core.engine.pipeline import tag_photos
    from core.engine.sources import file_ref
    from core.store import Store

    path = tmp_path_factory.mktemp("coco-db") / "coco.db"
    with Store(path) as store:
        tag_photos([file_ref(Path(p)) for p in coco_labels()], tagger=tagger, store=store)
        store.checkpoint()
    return path


@pytest.fixture
def coco_store(coco_db, tmp_path):
    """A fresh copy of the tagged coco-mini database for one test."""
    from core.store import Store

    copy = tmp_path / "coco.db"
    shutil.copy(coco_db, copy)
    with Store(copy) as store:
        yield store
