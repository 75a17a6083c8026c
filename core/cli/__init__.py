"""The ``phototagger`` command: a thin adapter over the engine.

Heavy modules are imported inside the commands, so ``phototagger --help``
answers at once. Errors are one line on stderr; exit codes: 0 done, 1 done but
some photos failed, 2 bad usage, 3 could not run, 130 interrupted.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

EXIT_PARTIAL = 1
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130
TOP_K_MAX = 50  # core.settings.Settings.top_k's maximum; a test keeps the two the same


def _fail(message: str, code: int = EXIT_ERROR) -> None:
    click.echo(f"phototagger: {message}", err=True)
    sys.exit(code)


def handle_errors(func: Callable) -> Callable:
    """Turn the engine's errors into one line and an exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from core.errors import PhotoTaggerError

        try:
            return func(*args, **kwargs)
        except PhotoTaggerError as exc:
            _fail(str(exc))
        except FileNotFoundError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))

    return wrapper


def db_option(func: Callable) -> Callable:
    return click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Database file (default: PhotoTagger's data folder; PHOTOTAGGER_HOME moves it).",
    )(func)


def _settings(**overrides: Any):
    from core.settings import load_settings

    settings = load_settings()
    changes = {k: v for k, v in overrides.items() if v is not None}
    return settings.replace(**changes) if changes else settings


def _location_prefix(text: str | None) -> str | None:
    """``--under``'s value as stored locations start: URLs as typed, paths made absolute."""
    from core.engine.sources import is_url

    if not text or is_url(text):
        return text
    return os.path.abspath(text)


def _open_store(settings, db_path: Path | None):
    from core.settings import database_path
    from core.store import Store

    return Store(db_path or database_path(settings))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phototagger", prog_name="phototagger")
@click.option("-v", "--verbose", count=True, help="Say more (-vv for debug output).")
def cli(verbose: int) -> None:
    """Tag photos with hashtags from a local deep-learning backbone, offline."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="phototagger")


# Each module registers its commands on ``cli``; imported last, as they import ``cli`` from here.
from core.cli import apps, curation, engine, learning, people  # noqa: E402, F401
