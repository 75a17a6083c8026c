"""People: clustering, suggestions, naming, merging, rejections that last, forgetting."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from core.engine.faces import Face
from core.engine.sources import PhotoRef
from core.people.groups import (
    MATCH_DISTANCE,
    cluster_embeddings,
    group_faces,
    pairwise_distances,
    suggestion_confidence,
)
from core.people.naming import (
    FACE_ORIGIN,
    clean_name,
    confirm_face,
    forget_people,
    groups,
    merge_groups,
    name_group,
    reject_face,
    suggestions,
)
from core.store import PeopleError, PhotoResult
from tests.store_sql import sql


def synthetic_people(
    people: int, per_person: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings like dlib's: one person's faces about 0.4 apart, two people about 0.88."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=0.78 / np.sqrt(2 * 128), size=(people, 128))
    noise = rng.normal(scale=0.4 / np.sqrt(2 * 128), size=(people * per_person, 128))
    labels = np.repeat(np.arange(people), per_person)
    order = rng.permutation(len(labels))  # faces arrive in no particular order
    return (centres[labels] + noise)[order].astype(np.float32), labels[order]


def test_synthetic_people_are_as_far_apart_as_real_ones():
    x, y = synthetic_people(20, 10)
    d = pairwise_distances(x, x)
    same = d[(y[:, None] == y[None, :]) & ~np.eye(len(y), dtype=bool)]
    other = d[y[:, None] != y[None, :]]
    assert 0.35 < np.median(same) < 0.45
    assert 0.8 < np.median(other) < 0.9


def test_clustering_finds_the_people():
    x, y = synthetic_people(40, 12, seed=1)
    labels = cluster_embeddings(x)
    assert adjusted_rand_score(y, labels) > 0.99
    assert labels[0] == 0 and set(labels) == set(range(labels.max() + 1))


def test_clustering_ten_thousand_faces_takes_under_two_seconds():
    x, y = synthetic_people(500, 20, seed=2)
    start = time.process_time()
    labels = cluster_embeddings(x)
    elapsed = time.process_time() - start
    assert adjusted_rand_score(y, labels) > 0.99
    assert elapsed < 2.0, f"{elapsed:.2f} s of CPU"


def test_clustering_nothing_and_one_face():
    assert len(cluster_embeddings(np.zeros((0, 128)))) == 0
    assert cluster_embeddings(np.ones((1, 128))).tolist() == [0]


def test_confidence_is_high_close_by_and_a_half_at_the_threshold():
    assert suggestion_confidence(0.3) > 0.99
    assert suggestion_confidence(MATCH_DISTANCE) == pytest.approx(0.5)
    assert suggestion_confidence(0.6) < 0.1


def test_names_are_cleaned_and_checked():
    assert clean_name("  #Anna   Maria ") == "Anna Maria"
    for bad in ("", "  ", "a|b", "x/y"):
        with pytest.raises(PeopleError):
            clean_name(bad)


# -- a store with faces whose embeddings are known ---------------------------------------------


def _add_photo(store, name: str, vectors: list[np.ndarray]) -> int:
    faces = tuple(
        Face((0.1 * i, 0.1, 0.1 * i + 0.08, 0.2), 0.99, (), embedding=v)
        for i, v in enumerate(vectors)
    )
    ref = PhotoRef(uri=f"/photos/{name}.jpg", kind="file", size=100, mtime=1)
    run = store.start_run(backbone="b", device="cpu", runtime="onnx", total=1)
    store.save_results(
        [PhotoResult(ref, 10, 10, "JPEG", faces=faces, face_detector="d", face_encoder="e")],
        run_id=run,
        backbone="b",
    )
    return store.photo_id(ref.uri)


@pytest.fixture
def album(store):
    """Three people (a, b, c), each in three photos; photo 'ab' shows a and b."""
    x, y = synthetic_people(3, 4, seed=3)
    by_person = {p: list(x[y == p]) for p in range(3)}
    ids = {}
    for person, letter in enumerate("abc"):
        for i in range(3):
            ids[f"{letter}{i}"] = _add_photo(store, f"{letter}{i}", [by_person[person][i]])
    ids["ab"] = _add_photo(store, "ab", [by_person[0][3], by_person[1][3]])
    ids["c_new"] = by_person[2][3]
    return ids


def _face_of(store, photo_id: int, index: int = 0) -> int:
    rows = sql(store, "select id from faces where photo_id = ? order by id", [photo_id]).fetchall()
    return rows[index][0]


def _person_of(store, face_id: int) -> tuple[int | None, str | None]:
    row = sql(store, "select person_id, source from faces where id = ?", [face_id]).fetchone()
    return row[0], row[1]


def test_unnamed_faces_fall_into_one_group_per_person(store, album):
    summary = group_faces(store)
    assert (summary.faces, summary.suggested, summary.grouped, summary.groups) == (11, 0, 11, 3)
    found = groups(store)
    assert sorted(g.faces for g in found) == [3, 4, 4]
    assert all(g.name is None for g in found)
    # a second run changes nothing, and the groups keep their numbers
    before = {g.id: g.faces for g in found}
    group_faces(store)
    assert {g.id: g.faces for g in groups(store)} == before


def test_naming_a_group_tags_its_photos_and_new_faces_get_it_suggested(store, album):
    group_faces(store)
    a_group = _person_of(store, _face_of(store, album["a0"]))[0]
    name_group(store, a_group, "Anna")
    for key in ("a0", "a1", "a2", "ab"):
        assert store.tag_states(album[key]).get("Anna") == "add"
    assert "Anna" not in store.tag_states(album["b0"])
    origin = sql(store, "select distinct origin from decisions where tag = 'Anna'").fetchall()
    assert origin == [(FACE_ORIGIN,)]
    # name b, then a new photo of c stays unnamed, and another of a is suggested as Anna
    b_group = _person_of(store, _face_of(store, album["b0"]))[0]
    name_group(store, b_group, "Ben")
    x, y = synthetic_people(3, 6, seed=3)
    new_a = _add_photo(store, "a_new", [x[y == 0][5]])
    group_faces(store)
    face = _face_of(store, new_a)
    assert _person_of(store, face) == (a_group, "suggested")
    found = suggestions(store)
    assert [(s.face_id, s.name) for s in found] == [(face, "Anna")]
    assert 0.5 < found[0].confidence <= 1.0
    assert "Anna" not in store.tag_states(new_a)  # a suggestion is not a decision
    confirm_face(store, face)
    assert _person_of(store, face) == (a_group, "confirmed")
    assert store.tag_states(new_a)["Anna"] == "add"


def test_a_rejected_face_never_comes_back(store, album):
    group_faces(store)
    a_group = _person_of(store, _face_of(store, album["a0"]))[0]
    name_group(store, a_group, "Anna")
    face = _face_of(store, album["a1"])
    reject_face(store, face)
    assert _person_of(store, face) == (None, None)
    assert store.tag_states(album["a1"])["Anna"] == "remove"
    for _ in range(2):  # grouping again, as every tagging run does
        group_faces(store)
        person, _ = _person_of(store, face)
        assert person != a_group
    # the same face found again by a later tagging run keeps its id and its rejection
    x, y = synthetic_people(3, 4, seed=3)
    _add_photo(store, "a1", [x[y == 0][1]])
    assert _face_of(store, album["a1"]) == face
    group_faces(store)
    assert _person_of(store, face)[0] != a_group
    assert store.tag_states(album["a1"])["Anna"] == "remove"


def test_a_photo_keeps_a_name_one_of_its_faces_still_has(store, album):
    group_faces(store)
    first = _face_of(store, album["ab"], 0)
    second = _face_of(store, album["ab"], 1)
    a_group = _person_of(store, first)[0]
    name_group(store, a_group, "Anna")
    confirm_face(store, second, a_group)  # wrongly, then taken back
    reject_face(store, second, a_group)
    assert store.tag_states(album["ab"])["Anna"] == "add"


def test_merging_and_naming_with_a_name_in_use(store, album):
    group_faces(store)
    a_group = _person_of(store, _face_of(store, album["a0"]))[0]
    b_group = _person_of(store, _face_of(store, album["b0"]))[0]
    c_group = _person_of(store, _face_of(store, album["c0"]))[0]
    name_group(store, a_group, "Anna")
    name_group(store, b_group, "Bea")
    # b was Anna all along: Bea's photos become Anna's
    merge_groups(store, b_group, a_group)
    assert store.tag_states(album["b0"]) == {"Bea": "remove", "Anna": "add"}
    assert {g.name for g in groups(store)} == {"Anna", None}
    # naming c "anna" (any case) merges it into Anna too
    assert name_group(store, c_group, "anna") == a_group
    assert store.tag_states(album["c0"])["Anna"] == "add"
    assert [g.name for g in groups(store)] == ["Anna"]
    with pytest.raises(PeopleError):
        merge_groups(store, a_group, a_group)
    with pytest.raises(PeopleError):
        name_group(store, 9999, "Nobody")


def test_renaming_moves_the_tag(store, album):
    group_faces(store)
    a_group = _person_of(store, _face_of(store, album["a0"]))[0]
    name_group(store, a_group, "Ana")
    name_group(store, a_group, "Anna")
    assert store.tag_states(album["a0"]) == {"Ana": "remove", "Anna": "add"}


def test_forget_deletes_every_face_and_group(store, album):
    group_faces(store)
    name_group(store, _person_of(store, _face_of(store, album["a0"]))[0], "Anna")
    assert forget_people(store) == 11
    for table in ("faces", "face_scans", "persons", "face_rejections"):
        assert sql(store, f"select count(*) from {table}").fetchone()[0] == 0
    assert groups(store) == []
    assert store.tag_states(album["a0"])["Anna"] == "add"  # the user's tag stays


def test_faces_without_embeddings_are_not_grouped(store):
    ref = PhotoRef(uri="/p/x.jpg", kind="file", size=1, mtime=1)
    run = store.start_run(backbone="b", device="cpu", runtime="onnx", total=1)
    face = Face((0.1, 0.1, 0.3, 0.3), 0.99, ())
    store.save_results(
        [PhotoResult(ref, 10, 10, "JPEG", faces=(face,), face_detector="d")],
        run_id=run,
        backbone="b",
    )
    assert group_faces(store).faces == 0
    assert store.people.faces()[0].embedding is None


def test_recognition_is_a_setting_and_the_bot_never_recognises(monkeypatch):
    import inspect

    from bot import service
    from core.engine.pipeline import Tagger
    from core.settings import load_settings

    assert load_settings().recognize_faces is True
    monkeypatch.setenv("PHOTOTAGGER_RECOGNIZE_FACES", "0")
    assert load_settings().recognize_faces is False
    # The bot's tagger computes no embeddings: nothing it stores can be grouped or named.
    assert inspect.signature(Tagger.open).parameters["recognize"].default is False
    assert "recognize" not in inspect.getsource(service.open_default_tagger)


def test_renaming_or_merging_leaves_suggestions_waiting(store, album):
    group_faces(store)
    a_group = _person_of(store, _face_of(store, album["a0"]))[0]
    name_group(store, a_group, "Anna")
    x, y = synthetic_people(3, 6, seed=3)
    new_a = _add_photo(store, "a_new", [x[y == 0][5]])
    group_faces(store)
    face = _face_of(store, new_a)
    name_group(store, a_group, "Anna Maria")
    assert _person_of(store, face) == (a_group, "suggested")
    assert "Anna Maria" not in store.tag_states(new_a)
    c_group = _person_of(store, _face_of(store, album["c0"]))[0]
    merge_groups(store, a_group, c_group)
    assert _person_of(store, face) == (c_group, "suggested")
    assert "Anna Maria" not in store.tag_states(new_a)
