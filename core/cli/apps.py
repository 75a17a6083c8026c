"""The desktop app and the Telegram bot, started from the command line."""

from __future__ import annotations

import sys

import click

from core.cli import (
    cli,
)


@cli.command(
    add_help_option=False,
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
)
@click.pass_context
def bot(ctx: click.Context) -> None:
    """Run the Telegram bot headless until Ctrl+C (options: phototagger bot --help)."""
    import subprocess

    # core must not import bot (layering), so the bot runs as its own module.
    sys.exit(subprocess.call([sys.executable, "-m", "bot", *ctx.args]))


@cli.command()
def gui() -> None:
    """Open the desktop app."""
    from desktop.app import main as gui_main

    sys.exit(gui_main([]))
