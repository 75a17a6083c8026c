"""Settings: defaults, the settings file, environment variables, validation."""

from __future__ import annotations

import json

import pytest

from core.errors import PhotoTaggerError
from core.settings import Settings, database_path, editable_fields, load_settings, save_settings


def test_defaults_then_file_then_environment(tmp_path):
    path = tmp_path / "settings.json"
    assert load_settings(path, environ={}) == Settings()
    save_settings(Settings().replace(threshold=0.4, top_k=3), path)
    assert load_settings(path, environ={}).threshold == 0.4
    env = {"PHOTOTAGGER_THRESHOLD": "0.6", "PHOTOTAGGER_BOT_OPEN_TO_ALL": "yes"}
    loaded = load_settings(path, environ=env)
    assert (loaded.threshold, loaded.top_k, loaded.bot_open_to_all) == (0.6, 3, True)


@pytest.mark.parametrize(
    "env,message",
    [
        ({"PHOTOTAGGER_THRESHOLD": "high"}, "not a valid float"),
        ({"PHOTOTAGGER_THRESHOLD": "1.5"}, "outside 0.0..1.0"),
        ({"PHOTOTAGGER_DEVICE": "tpu"}, "not one of auto, cpu, cuda, mps"),
    ],
)
def test_bad_values_name_the_setting(tmp_path, env, message):
    with pytest.raises(PhotoTaggerError, match=message):
        load_settings(tmp_path / "none.json", environ=env)


def test_newer_settings_file_is_refused(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(PhotoTaggerError, match="newer PhotoTagger"):
        load_settings(path, environ={})


def test_database_lives_under_phototagger_home(isolated_home):
    assert database_path(Settings()) == isolated_home / "data" / "phototagger.db"
    assert database_path(Settings(database="/x/y.db")).as_posix() == "/x/y.db"


def test_every_editable_field_has_a_label_and_help():
    for f in editable_fields():
        assert f.metadata["label"] and f.metadata["help"] and f.metadata["section"]
