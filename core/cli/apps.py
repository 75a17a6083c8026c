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
    """Run the Telegram bot headless until Ctrl+C or SIGTERM (options: phototagger bot --help)."""
    import os

    # core must not import bot (layering), so this process becomes ``python -m bot``:
    # exec keeps the process id, so SIGTERM from systemd, Docker or kill reaches the bot.
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "bot", *ctx.args]
    if sys.platform == "win32":  # no exec there: run it and pass on its exit status
        import subprocess

        sys.exit(subprocess.call(argv))
    os.execv(sys.executable, argv)


@cli.command()
def gui() -> None:
    """Open the desktop app."""
    from desktop.app import main as gui_main

    sys.exit(gui_main([]))
