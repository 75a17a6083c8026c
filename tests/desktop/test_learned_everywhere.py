# ruff: noqa: F811  (pytest fixtures imported from tests.core.learning_fixtures)
"""After learning, the CLI, the app's tagging job and the bot give one photo the same suggestions."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.engine.sources import file_ref
from core.learning.learned import apply_learned, learn_from_store
from tests.core.learning_fixtures import coco_db, coco_labels, coco_store  # noqa: F401

BACKBONE = "efficientnet-lite0"


def _suggestions(store, path: Path) -> dict[tuple[str, str], float]:
    pid = store.photo_id(file_ref(path).uri)
    assert pid is not None, path
    return {(s.tag, s.source): s.score for s in store.suggestions(pid, backbone=BACKBONE)}


def test_cli_app_and_bot_apply_the_same_learned_suggestions(
    coco_store, tagger, tmp_path, tmp_path_factory
):
    from bot.config import BotConfig, ChatPrefs
    from bot.credentials import Secret
    from bot.service import PhotoService
    from core.cli import cli
    from desktop.tagging import tag_in_background

    labels = coco_labels()
    for uri in sorted(u for u in labels if "/train2017/" in u):
        for tag in sorted(labels[uri]):
            coco_store.record_decision(coco_store.photo_id(uri), tag, "add", origin="test")
    version = learn_from_store(coco_store, backbone=BACKBONE)
    assert "person" in version.kept_tags
    apply_learned(coco_store, backbone=BACKBONE)
    photo = next(
        Path(u)
        for u in sorted(labels)
        if "/val2017/" in u
        and any(s.source == "head" for s in coco_store.suggestions(coco_store.photo_id(u)))
    )
    copies = {}
    for where in ("cli", "app"):
        (tmp_path / where).mkdir()
        copies[where] = shutil.copy(photo, tmp_path / where / photo.name)
    db = Path(coco_store.path)

    result = CliRunner().invoke(cli, ["tag", str(tmp_path / "cli"), "--db", str(db)])
    assert result.exit_code == 0, result.output

    steps = tag_in_background(
        [file_ref(Path(copies["app"]))],
        backbone=BACKBONE,
        device="cpu",
        db_path=db,
        cache_dir=tmp_path_factory.getbasetemp() / "shared-cache",
        threshold=0.2,
        top_k=8,
        cancel=threading.Event(),
    )
    for _step in steps:  # the tagging job itself, on this thread
        pass

    service = PhotoService(
        BotConfig(token=Secret("1:test"), database=db), tagger_factory=lambda config: tagger
    )
    try:
        tagged = service._infer(photo.read_bytes(), "same-photo")
        prefs = ChatPrefs(top_k=8, threshold=0.2, hashtag_style="joined")
        # The bot's store belongs to its one database thread.
        service._store_pool.submit(service._save, tagged, prefs).result(timeout=60)
    finally:
        service.close()

    cli_s = _suggestions(coco_store, Path(copies["cli"]))
    app_s = _suggestions(coco_store, Path(copies["app"]))
    pid = coco_store.photo_id("telegram:same-photo")
    bot_s = {(s.tag, s.source): s.score for s in coco_store.suggestions(pid, backbone=BACKBONE)}
    assert any(source == "head" for _, source in cli_s), cli_s
    assert app_s == cli_s
    # The bot decodes Telegram's bytes at the tagger's own size: the same tags, near scores.
    learned = {k for k in cli_s if k[1] == "head"}
    assert {k for k in bot_s if k[1] == "head"} == learned
    for key in learned:
        assert bot_s[key] == pytest.approx(cli_s[key], abs=0.05)
