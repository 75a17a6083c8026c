"""The packaged app's one entry script: the GUI or the CLI, by the executable's name.

PyInstaller builds two executables from this script in one folder (one
analysis, so the libraries are shipped once): ``PhotoTagger`` opens the desktop
app, ``phototagger`` (``phototagger-cli`` where file names ignore case) is the
command line. ``phototagger bot ...`` runs the Telegram bot as ``python -m bot``
would, since a frozen app has no ``-m``.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import runpy
import sys
from pathlib import Path
from typing import Literal

Role = Literal["gui", "cli"]
CLI_NAMES = ("phototagger", "phototagger-cli")
SCREENSHOT_ENV = "PHOTOTAGGER_SMOKE_SCREENSHOT"
DELAY_ENV = "PHOTOTAGGER_SMOKE_DELAY_MS"


def role_for(executable: str) -> Role:
    """Which app an executable runs, from its file name (with or without ``.exe``).

    Case matters: on Linux ``PhotoTagger`` and ``phototagger`` sit side by side.
    """
    name = re.split(r"[\\/]", executable)[-1]
    if name.lower().endswith(".exe"):
        name = name[:-4]
    return "cli" if name in CLI_NAMES else "gui"


def run_cli(args: list[str]) -> None:
    """The ``phototagger`` command, plus ``bot`` for the Telegram bot."""
    if args[:1] == ["bot"]:
        sys.argv = ["phototagger bot", *args[1:]]
        runpy.run_module("bot", run_name="__main__", alter_sys=True)
        return
    from core.cli import main as cli_main

    cli_main(args)


def run_gui(args: list[str]) -> int:
    """The desktop app; with ``PHOTOTAGGER_SMOKE_SCREENSHOT`` set, a screenshot and a clean quit."""
    from desktop.app import main as gui_main

    screenshot = os.environ.get(SCREENSHOT_ENV)
    if screenshot:
        schedule_screenshot(Path(screenshot), delay_ms=int(os.environ.get(DELAY_ENV, "3000")))
    return gui_main(args)


def schedule_screenshot(path: Path, *, delay_ms: int) -> None:
    """After ``delay_ms``, save the main window to ``path`` and close it as a person would.

    The smoke test uses this to prove the packaged GUI starts, paints and quits
    through its own close handling (workers stopped, database closed), which no
    signal from outside the process would exercise.
    """
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])

    def shoot() -> None:
        windows = [w for w in app.topLevelWidgets() if w.isVisible() and w.isWindow()]
        if windows:
            main_window = max(windows, key=lambda w: w.width() * w.height())
            main_window.grab().save(str(path))
        for window in windows:
            window.close()
        app.quit()

    QTimer.singleShot(delay_ms, shoot)


def main() -> None:
    # A frozen app re-runs its entry script in child processes; this makes them workers.
    multiprocessing.freeze_support()
    args = sys.argv[1:]
    if role_for(sys.executable) == "cli":
        run_cli(args)
    else:
        sys.exit(run_gui(args))


if __name__ == "__main__":
    main()
