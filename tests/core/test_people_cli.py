"""The faces set end to end through the command: tag, group, name, suggest, confirm, reject, re-run."""

from __future__ import annotations

import csv
import shutil
from collections import Counter

import pytest

from core.engine.face_encoder import recognition_available
from core.store import Store
from tests.conftest import shared
from tests.core.test_cli import run
from tests.store_sql import sql

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not recognition_available(), reason="face recognition is not installed"),
]


def _groups(db) -> list[int]:
    """Group numbers, largest group first, from ``phototagger people``."""
    return [int(ln.split()[0]) for ln in run("people", "--db", str(db)).stdout.splitlines()[1:]]


def _faces(db, group: int) -> list[tuple[int, str, str]]:
    """(face, source, photo) of a group, from ``phototagger people faces``."""
    rows = []
    for line in run("people", "faces", str(group), "--db", str(db)).stdout.splitlines():
        parts = line.split()
        rows.append((int(parts[0]), parts[1], parts[-1]))
    return rows


@pytest.fixture
def faces_album(tmp_path):
    root = shared("faces")
    with open(root / "labels.csv", newline="") as fh:
        labels = {row["path"]: row["people"].split(";") for row in csv.DictReader(fh)}
    album = tmp_path / "faces"
    for rel in labels:
        (album / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, album / rel)
    return album, {str(album / rel): people for rel, people in labels.items()}


def test_faces_set_end_to_end(faces_album, tmp_path):
    album, labels = faces_album
    db = tmp_path / "people.db"
    tagged = run("tag", str(album / "train"), "--db", str(db))
    assert "unnamed groups" in tagged.stderr
    # Each train group holds one person's photos; name it after them (as a person would).
    named: dict[int, str] = {}
    for group in _groups(db):
        photos = [photo for _, _, photo in _faces(db, group)]
        person = Counter(p for photo in photos for p in labels[photo]).most_common(1)[0][0]
        if person not in named.values():
            run("people", "name", str(group), person.title(), "--db", str(db))
            named[group] = person
    # obama.jpg has a second face, a stranger: his group (one face) is listed after Obama's
    # (two faces), so it stays unnamed.
    assert sorted(named.values()) == sorted({p for v in labels.values() for p in v})
    # New photos: every face of a named person gets that name suggested, the stranger none.
    run("tag", str(album / "test"), "--db", str(db))
    lines = run("people", "suggestions", "--db", str(db)).stdout.splitlines()
    suggested = [(int(ln.split()[0]), ln.split()[-1], ln) for ln in lines]
    assert len(suggested) == 7
    for _face, photo, line in suggested:
        assert any(name.title() in line for name in labels[photo]), line
    # Yes to one, no to another (it is someone else), then tag everything again.
    yes, no = suggested[0][0], suggested[-1][0]
    assert "is " in run("people", "confirm", str(yes), "--db", str(db)).stdout
    no_line = suggested[-1][2]
    no_name = next(n.title() for n in labels[suggested[-1][1]] if n.title() in no_line)
    run("people", "reject", str(no), "--db", str(db))
    run("tag", str(album), "--rescan", "--db", str(db))
    run("people", "group", "--db", str(db))
    with Store(db) as store:
        person, _source = sql(
            store, "select person_id, source from faces where id = ?", [no]
        ).fetchone()
        rejected_from = sql(store, "select id from persons where name = ?", [no_name]).fetchone()[0]
        assert person != rejected_from
        assert sql(store, "select source from faces where id = ?", [yes]).fetchone() == (
            "confirmed",
        )
        photo = sql(
            store,
            "select p.uri from faces f join photos p on p.id = f.photo_id where f.id = ?",
            [yes],
        ).fetchone()[0]
        name_tags = {t for t, a in store.tag_states(store.photo_id(photo)).items() if a == "add"}
        assert name_tags & {n.title() for n in labels[photo]}
    listing = run("people", "--db", str(db)).stdout
    assert "Barack Obama" in listing and "(unnamed)" in listing
    # Forgetting deletes every face; the command says so.
    assert "faces deleted" in run("people", "forget", "--yes", "--db", str(db)).stdout
    assert "no faces grouped yet" in run("people", "--db", str(db)).stdout
    assert run("people", "name", "1", "X", "--db", str(db), check_code=3).stderr.startswith(
        "phototagger: no group 1"
    )
