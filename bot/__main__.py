"""``python -m bot`` (and ``phototagger bot``): the Telegram bot without the desktop app.

Runs until Ctrl+C, SIGINT or SIGTERM, then stops cleanly and exits 0 (3 when the
bot could not run: no token, a wrong Bot API URL, another copy already running).
``phototagger bot`` replaces itself with this process, so a service manager's
signals reach it. The token comes from the keyring or ``PHOTOTAGGER_BOT_TOKEN``;
it is never printed.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

EXIT_ERROR = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="phototagger bot", description="Answer Telegram photos with their hashtags."
    )
    parser.add_argument("--db", type=Path, help="Database file (default: the app's).")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="Say more.")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO - 10 * min(args.verbose, 1),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per poll is noise

    from bot.credentials import load_token
    from bot.runner import BotRunner, RunnerStatus
    from core.errors import PhotoTaggerError
    from core.settings import load_settings

    try:
        settings = load_settings()
    except PhotoTaggerError as exc:
        print(f"phototagger bot: {exc}", file=sys.stderr)
        return EXIT_ERROR
    token = load_token()
    if token is None:
        print(
            "phototagger bot: no bot token; store it from the app's settings, "
            "or set PHOTOTAGGER_BOT_TOKEN",
            file=sys.stderr,
        )
        return EXIT_ERROR
    runner = BotRunner(settings, token=token, database=args.db)
    finished = threading.Event()

    def on_status(status: RunnerStatus) -> None:
        print(f"bot: {status.state} {status.message}".rstrip(), file=sys.stderr)
        if status.state in ("stopped", "error"):
            finished.set()

    runner.add_listener(on_status)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: runner.stop())
    runner.start()
    while not finished.wait(0.2):
        pass
    runner.close(timeout=10)
    return EXIT_ERROR if runner.state == "error" else 0


if __name__ == "__main__":
    sys.exit(main())
