"""Curation on real photos: near-duplicates, groups, best-of that learns from picks, the CLI."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

import core.curation.quality
from core.curation.curate import (
    curation_states,
    picked_photos,
    place_photos,
    preference_labels,
    record_pick,
    record_rating,
)
from core.curation.dupes import find_duplicates
from core.curation.groups import album_groups, cluster, kmeans, name_group
from core.curation.highlights import best_of, score_photos
from core.curation.quality import jpeg_quality, measure_image, photo_qualities, technical_scores
from core.engine.pipeline import tag_photos
from core.engine.sources import collect
from core.store import Store
from tests.conftest import ROOT, shared
from tests.core.synthetic_copies import EDITS, write_copies
from tests.store_sql import sql

BACKBONE = "efficientnet-lite0"
ANIMALS = {"dog", "cat", "bird", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"}


@pytest.fixture(scope="module")
def album(tagger, tmp_path_factory):
    """All of coco-mini, plus five edited copies of six of its photos, tagged into a file store."""
    coco = shared("coco-mini")
    folder = tmp_path_factory.mktemp("album")
    photos = sorted(coco.glob("*/*.jpg"))
    copied = write_copies(photos[:6], folder / "copies")
    for path in photos[6:]:
        shutil.copy(path, folder / path.name)
    db = folder.parent / f"{folder.name}.db"
    with Store(db) as store:
        summary = tag_photos(list(collect([str(folder)])), tagger=tagger, store=store)
        assert summary.failed == 0
    tags = {}
    with open(coco / "tags.csv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            tags[Path(row["path"]).stem] = set(row["tags"].split(";"))
    return {"db": db, "folder": folder, "copies": copied, "tags": tags}


@pytest.fixture
def album_store(album, tmp_path):
    """A private copy of the album's database, so decisions in one test stay there."""
    db = tmp_path / "album.db"
    shutil.copy(album["db"], db)
    with Store(db) as store:
        yield store


def _source(uri: str) -> str:
    return Path(uri).stem.partition("__")[0]


# -- pixels ---------------------------------------------------------------------


def test_quality_measures_see_blur_noise_exposure_and_recompression(tmp_path):
    photo = Image.open(sorted(shared("coco-mini").glob("*/*.jpg"))[0]).convert("RGB")
    sharp, _, noise = measure_image(photo)
    blurred, _, _ = measure_image(photo.filter(ImageFilter.GaussianBlur(3)))
    rng = np.random.default_rng(0)
    noisy_pixels = np.asarray(photo, dtype=np.float64) + rng.normal(0, 12, (*photo.size[::-1], 3))
    noisy = Image.fromarray(np.clip(noisy_pixels, 0, 255).astype(np.uint8))
    _, _, more_noise = measure_image(noisy)
    _, washed_out, _ = measure_image(photo.point(lambda v: min(255, v * 2.5)))
    _, exposed, _ = measure_image(photo)
    assert blurred < sharp - 1
    assert more_noise > 2 * noise
    assert washed_out < exposed - 0.2
    for quality in (20, 60, 90):
        photo.save(tmp_path / f"q{quality}.jpg", quality=quality)
        assert abs(jpeg_quality(tmp_path / f"q{quality}.jpg") - quality) <= 3
    photo.save(tmp_path / "lossless.png")
    assert jpeg_quality(tmp_path / "lossless.png") == 100


def test_qualities_are_cached_per_photo_version(album_store, monkeypatch):
    ids = [p.id for p in album_store.photos()][:10]
    first = photo_qualities(album_store, ids)
    assert set(first) == set(ids)

    decoded = []
    measure = core.curation.quality.measure_photo

    def counting(path, *, photo_id):
        decoded.append(photo_id)
        return measure(path, photo_id=photo_id)

    monkeypatch.setattr(core.curation.quality, "measure_photo", counting)
    assert photo_qualities(album_store, ids) == first
    assert decoded == []
    sql(album_store, "update photos set mtime = mtime + 1 where id = ?", [ids[0]])
    assert photo_qualities(album_store, ids) == first
    assert decoded == [ids[0]]  # a changed file is measured again, and only it


# -- near-duplicates ----------------------------------------------------------------


def test_dupes_group_every_copy_with_its_original_and_nothing_else(album_store, album):
    groups = find_duplicates(album_store, backbone=BACKBONE)
    uri = {p.id: p.uri for p in album_store.photos()}
    originals = {_source(str(o)) for o in album["copies"]}
    found_pairs = {(a, b) for g in groups for a in g.photo_ids for b in g.photo_ids if a < b}
    true_pairs = {
        (a, b)
        for a in uri
        for b in uri
        if a < b and _source(uri[a]) == _source(uri[b]) and _source(uri[a]) in originals
    }
    precision = len(found_pairs & true_pairs) / len(found_pairs)
    recall = len(found_pairs & true_pairs) / len(true_pairs)
    assert precision == 1.0
    assert recall >= 0.9
    for group in groups:
        keeper = Path(uri[group.keeper]).stem.partition("__")[2]
        # A smaller or recompressed copy is never kept over its original.
        assert keeper not in ("resized", "recompressed", "cropped"), uri[group.keeper]
        assert group.similarity[0] == 1.0


def test_a_picked_photo_is_its_groups_keeper(album_store):
    groups = find_duplicates(album_store, backbone=BACKBONE)
    loser = groups[0].others[-1]
    record_pick(album_store, loser)
    assert loser in picked_photos(album_store)
    again = find_duplicates(album_store, backbone=BACKBONE)
    assert next(g for g in again if loser in g.photo_ids).keeper == loser


# -- groups ---------------------------------------------------------------------


def test_cluster_finds_the_number_of_blobs_and_recovers_them():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(6, 64))
    truth = np.repeat(np.arange(6), 50)
    points = centres[truth] + 0.25 * rng.normal(size=(300, 64))
    result = cluster(points, seed=1)
    assert result.k == 6
    for g in range(6):
        assert len(set(truth[result.labels == g])) == 1
    fixed = cluster(points, k=3)
    assert fixed.k == 3 and np.isnan(fixed.silhouette)
    labels, _ = kmeans(np.eye(4, dtype=np.float32), 10)
    assert sorted(labels) == [0, 1, 2, 3]


def test_album_groups_keep_copies_together_and_naming_adds_a_decision(album_store, album):
    groups = album_groups(album_store, backbone=BACKBONE)
    assert 2 <= len(groups) <= 40
    assert sum(len(g.photo_ids) for g in groups) == len(list(album_store.photos()))
    # Nearly every group of three or more has a name; a mixed group may have none
    # (no tag scores 0.15 on average in it) rather than a name that fits one photo.
    sizable = [g for g in groups if len(g.photo_ids) >= 3]
    assert sum(bool(g.names) for g in sizable) >= 0.9 * len(sizable)
    uri = {p.id: p.uri for p in album_store.photos()}
    group_of = {pid: g.index for g in groups for pid in g.photo_ids}
    for original in album["copies"]:
        members = [pid for pid, u in uri.items() if _source(u) == original.stem]
        # Copies look alike: at most one of the six (the reframed one, say) strays.
        assert max(Counter(group_of[m] for m in members).values()) >= len(members) - 1
    chosen = album_groups(album_store, backbone=BACKBONE, k=5)
    assert len(chosen) == 5
    assert chosen == album_groups(album_store, backbone=BACKBONE, k=5)  # repeatable
    name_group(album_store, chosen[1], "my group", origin="test")
    assert all("my group" in album_store.confirmed_tags(pid) for pid in chosen[1].photo_ids)
    assert not any("my group" in album_store.confirmed_tags(pid) for pid in chosen[0].photo_ids)


# -- best-of ------------------------------------------------------------------------


def test_best_of_skips_redundant_copies_and_spreads_over_groups(album_store):
    highlights = best_of(album_store, backbone=BACKBONE, n=12)
    assert len(highlights) == 12
    chosen = [h.photo_id for h in highlights]
    redundant = {p for g in find_duplicates(album_store, backbone=BACKBONE) for p in g.others}
    assert not set(chosen) & redundant
    assert [h.score for h in highlights] == sorted((h.score for h in highlights), reverse=True)
    # Without the spread, the best twelve by score alone are more alike than the picks.
    by_score = [h.photo_id for h in best_of(album_store, backbone=BACKBONE, n=10_000)][:12]
    assert set(by_score) != set(chosen)
    ids, matrix = album_store.embeddings(backbone=BACKBONE)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def mean_similarity(photo_ids: list[int]) -> float:
        rows = [ids.index(p) for p in photo_ids]
        return float((unit[rows] @ unit[rows].T)[np.triu_indices(len(rows), 1)].mean())

    assert mean_similarity(chosen) < mean_similarity(by_score)


def _auc(scores: np.ndarray, positive: np.ndarray) -> float:
    pos, neg = scores[positive], scores[~positive]
    return float((pos[:, None] > neg[None, :]).mean())


def test_picks_move_the_ranking_towards_what_the_user_likes_on_held_out_photos(album_store, album):
    """A user who picks animal photos and passes over the rest, on half the album."""
    ids, matrix = album_store.embeddings(backbone=BACKBONE)
    uri = {p.id: p.uri for p in album_store.photos()}
    likes = np.array([bool(album["tags"].get(_source(uri[p]), set()) & ANIMALS) for p in ids])
    technical = technical_scores([photo_qualities(album_store, ids).get(p) for p in ids])
    rng = np.random.default_rng(0)
    order = rng.permutation(len(ids))
    judged, held_out = order[: len(ids) // 2], order[len(ids) // 2 :]
    for row in judged:
        record_pick(album_store, ids[row], picked=bool(likes[row]), origin="test")
    before = score_photos(ids, matrix, technical=technical, labels={})
    after = score_photos(ids, matrix, technical=technical, labels=preference_labels(album_store))
    auc_before = _auc(before.score[held_out], likes[held_out])
    auc_after = _auc(after.score[held_out], likes[held_out])
    assert auc_after >= 0.75
    assert auc_after >= auc_before + 0.15


def test_ratings_and_picks_are_marks_apart_from_tags(album_store):
    pid = next(album_store.photos()).id
    record_pick(album_store, pid)
    record_rating(album_store, pid, stars=2)
    assert curation_states(album_store)[pid] == (True, 2)
    assert preference_labels(album_store)[pid] == pytest.approx((1.0 + 0.25) / 2)
    last = record_pick(album_store, pid, picked=False)
    assert curation_states(album_store)[pid] == (False, 2)
    album_store.undo_marks([last])
    assert curation_states(album_store)[pid] == (True, 2)
    assert album_store.confirmed_tags(pid) == []
    assert "★" not in dict(album_store.user_tags())
    assert album_store.tag_states(pid) == {}
    with pytest.raises(Exception, match="0 to 5"):
        record_rating(album_store, pid, stars=6)


def test_placing_highlights_never_overwrites_or_touches_originals(album_store, tmp_path):
    ids = [p.id for p in album_store.photos()][:3]
    first = Path(album_store.photo(ids[0]).uri)
    before = first.read_bytes()
    out = tmp_path / "best"
    out.mkdir()
    taken = out / f"1-{first.name}"
    taken.write_bytes(b"mine")
    copies = place_photos(album_store, ids, out)
    links = place_photos(album_store, ids, out, mode="link")
    assert taken.read_bytes() == b"mine"
    assert copies[0].target.name == f"1-{first.stem}-2{first.suffix}"
    assert copies[0].target.read_bytes() == before == first.read_bytes()
    assert all(p.target.is_symlink() and p.target.resolve() == p.source.resolve() for p in links)
    assert len({p.target for p in copies + links}) == 6


# -- the command line --------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out


def test_cli_dupes_groups_best_and_rate(album, tmp_path):
    db = tmp_path / "cli.db"
    shutil.copy(album["db"], db)
    dupes_json = tmp_path / "dupes.json"
    _cli("dupes", "--db", str(db), "--backbone", BACKBONE, "--json", str(dupes_json))
    rows = json.loads(dupes_json.read_text(encoding="utf-8"))
    assert {r["role"] for r in rows} == {"keeper", "duplicate"}
    assert len({r["group"] for r in rows}) == len(album["copies"])
    assert len(rows) == len(album["copies"]) * (1 + len(EDITS))

    groups_csv = tmp_path / "groups.csv"
    out = _cli(
        "groups", "--db", str(db), "--backbone", BACKBONE, "--k", "4",
        "--name", "2=second", "--csv", str(groups_csv),
    )  # fmt: skip
    assert len(out.stdout.strip().splitlines()) == 4
    with open(groups_csv, encoding="utf-8-sig", newline="") as fh:
        group_rows = list(csv.DictReader(fh))
    second = [r["location"] for r in group_rows if r["group"] == "2"]
    _cli("rate", "--db", str(db), second[0], "--pick", "--stars", "5")
    with Store(db) as store:
        assert "second" in store.confirmed_tags(store.find_photo(second[-1]).id)
        assert curation_states(store)[store.find_photo(second[0]).id] == (True, 5)

    best_dir, best_csv = tmp_path / "best", tmp_path / "best.csv"
    out = _cli(
        "best", "--db", str(db), "--backbone", BACKBONE, "--n", "5",
        "--copy-to", str(best_dir), "--csv", str(best_csv),
    )  # fmt: skip
    assert "copied 5 highlights" in out.stderr
    assert len(list(best_dir.iterdir())) == 5
    with open(best_csv, encoding="utf-8-sig", newline="") as fh:
        best_rows = list(csv.DictReader(fh))
    assert [r["rank"] for r in best_rows] == ["1", "2", "3", "4", "5"]
    assert second[0] in [r["location"] for r in best_rows]  # the five-star pick
