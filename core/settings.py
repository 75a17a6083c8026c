"""One typed, versioned settings schema for the CLI, the desktop app and the bot.

Values come from the defaults below, then the user's ``settings.json`` in the
config dir, then ``PHOTOTAGGER_*`` environment variables. Each field carries
the label and help the GUI's settings dialog is generated from.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from core.engine.backbones import DEFAULT_BACKBONE
from core.errors import PhotoTaggerError

APP_NAME = "PhotoTagger"
SETTINGS_VERSION = 1


def _meta(label: str, help: str, *, section: str = "Tagging", **extra: Any) -> dict:
    return {"label": label, "help": help, "section": section, **extra}


@dataclass(frozen=True)
class Settings:
    """Everything a person can set. Paths left empty mean 'the platform default'."""

    backbone: str = field(
        default=DEFAULT_BACKBONE,
        metadata=_meta("Backbone", "The network that tags photos.", choices="backbones"),
    )
    device: str = field(
        default="auto",
        metadata=_meta(
            "Device",
            "Where tagging runs: auto picks CUDA, then MPS, then the CPU.",
            choices=("auto", "cpu", "cuda", "mps"),
        ),
    )
    precision: str = field(
        default="auto",
        metadata=_meta(
            "CPU precision",
            "The default backbone's graph on the CPU. auto takes int8 on CPUs with VNNI or Arm "
            "dot product, where it is faster and tags as well, and float elsewhere. int8 on "
            "other x86 CPUs tags a little less accurately.",
            choices=("auto", "float", "int8"),
        ),
    )
    threshold: float = field(
        default=0.2,
        metadata=_meta(
            "Confidence threshold",
            "Suggestions below this confidence are hidden.",
            minimum=0.0,
            maximum=1.0,
            step=0.05,
        ),
    )
    top_k: int = field(
        default=8,
        metadata=_meta(
            "Tags per photo",
            "At most this many suggestions are shown per photo.",
            minimum=1,
            maximum=50,
        ),
    )
    batch_size: int = field(
        default=16, metadata=_meta("Batch size", "Photos per forward pass.", minimum=1, maximum=256)
    )
    max_megapixels: int = field(
        default=150,
        metadata=_meta(
            "Largest photo (megapixels)",
            "Larger files are refused as unsafe to decode.",
            minimum=1,
            maximum=2000,
        ),
    )
    detect_faces: bool = field(
        default=True,
        metadata=_meta(
            "Find faces",
            "Search photos for faces, for the #people, #group and #portrait tags. "
            "Faces stay in the local database; off, none are searched or stored.",
            section="People",
        ),
    )
    recognize_faces: bool = field(
        default=True,
        metadata=_meta(
            "Recognise people",
            "Group the faces found by who they are, so groups can be named (needs the "
            "'people' extra). Faces and names stay in the local database; off, no face "
            "is compared with another.",
            section="People",
        ),
    )
    database: str = field(
        default="",
        metadata=_meta(
            "Database file", "Where tags and decisions are kept.", section="Storage", kind="file"
        ),
    )
    thumbnail_size: int = field(
        default=160,
        metadata=_meta(
            "Thumbnail size",
            "Side of the thumbnails in the grid, in pixels.",
            section="Display",
            minimum=64,
            maximum=512,
        ),
    )
    hashtag_style: str = field(
        default="joined",
        metadata=_meta(
            "Hashtag style",
            "#goldenretriever, #GoldenRetriever or #golden_retriever.",
            section="Display",
            choices=("joined", "camel", "snake"),
        ),
    )
    bot_api_url: str = field(
        default="https://api.telegram.org/bot",
        metadata=_meta(
            "Bot API URL",
            "The Telegram Bot API server, for self-hosted ones.",
            section="Telegram bot",
        ),
    )
    bot_allowed_users: str = field(
        default="",
        metadata=_meta(
            "Allowed user ids",
            "Numeric Telegram user ids, separated by commas.",
            section="Telegram bot",
        ),
    )
    bot_open_to_all: bool = field(
        default=False,
        metadata=_meta(
            "Open to everyone",
            "Answer anyone who writes to the bot, not only the allowed ids.",
            section="Telegram bot",
        ),
    )
    version: int = field(default=SETTINGS_VERSION, metadata={"hidden": True})

    def replace(self, **changes: Any) -> Settings:
        return validate(dataclasses.replace(self, **changes))


def home_dir() -> Path | None:
    """``PHOTOTAGGER_HOME``: one folder for config, data and cache (tests, portable installs)."""
    home = os.environ.get("PHOTOTAGGER_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    home = home_dir()
    return home / "config" if home else Path(platformdirs.user_config_dir(APP_NAME, False))


def data_dir() -> Path:
    home = home_dir()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, False))


def cache_dir() -> Path:
    home = home_dir()
    return home / "cache" if home else Path(platformdirs.user_cache_dir(APP_NAME, False))


def database_path(settings: Settings) -> Path:
    return (
        Path(settings.database).expanduser() if settings.database else data_dir() / "phototagger.db"
    )


def settings_path() -> Path:
    return config_dir() / "settings.json"


def _coerce(value: Any, kind: type | str, name: str) -> Any:
    kind = (
        {"str": str, "int": int, "float": float, "bool": bool}.get(kind, kind)
        if isinstance(kind, str)
        else kind
    )
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    return True
                if value.strip().lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(value)
            return bool(value)
        return kind(value)
    except (TypeError, ValueError):
        raise PhotoTaggerError(
            f"setting {name}: {value!r} is not a valid {kind.__name__}"
        ) from None


def validate(settings: Settings) -> Settings:
    """Check ranges and choices; raises PhotoTaggerError with the setting's name."""
    for f in fields(settings):
        value = getattr(settings, f.name)
        lo, hi = f.metadata.get("minimum"), f.metadata.get("maximum")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise PhotoTaggerError(f"setting {f.name}: {value} is outside {lo}..{hi}")
        choices = f.metadata.get("choices")
        if isinstance(choices, tuple) and value not in choices:
            raise PhotoTaggerError(
                f"setting {f.name}: {value!r} is not one of {', '.join(choices)}"
            )
    return settings


def load_settings(path: Path | None = None, *, environ: dict[str, str] | None = None) -> Settings:
    """Defaults, overlaid by the settings file, overlaid by ``PHOTOTAGGER_*`` variables."""
    path = path or settings_path()
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PhotoTaggerError(f"cannot read settings {path}: {exc}") from exc
        if int(stored.get("version", 1)) > SETTINGS_VERSION:
            raise PhotoTaggerError(f"settings {path} were written by a newer PhotoTagger")
        values.update(stored)
    known = {f.name: f for f in fields(Settings)}
    for name, f in known.items():
        env = environ.get(f"PHOTOTAGGER_{name.upper()}")
        if env is not None and not f.metadata.get("hidden"):
            values[name] = env
    typed = {k: _coerce(v, known[k].type, k) for k, v in values.items() if k in known}
    typed["version"] = SETTINGS_VERSION
    return validate(Settings(**typed))


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    """Write settings atomically (a crash never leaves half a file)."""
    path = path or settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(dataclasses.asdict(validate(settings)), indent=2), encoding="utf-8")
    tmp.replace(path)
    return path


def editable_fields() -> list[dataclasses.Field]:
    """The fields a settings dialog shows, in declaration order."""
    return [f for f in fields(Settings) if not f.metadata.get("hidden")]
