"""Start the desktop app: ``phototagger gui`` or ``phototagger-gui``.

Only Qt and the light parts of the engine load here; the backbone (and with it
onnxruntime, or torch on a GPU) loads on the inference thread when the first
tagging run starts, so the window is up in well under a second.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from core.errors import PhotoTaggerError
from core.settings import APP_NAME, Settings, load_settings
from desktop.main_window import MainWindow
from desktop.theme import apply_theme


def create_app(argv: list[str]) -> QApplication:
    """The QApplication (the existing one under tests), themed."""
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else APP_NAME, *argv])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    apply_theme(app)  # type: ignore[arg-type]
    return app  # type: ignore[return-value]


def load_settings_or_defaults() -> tuple[Settings, str | None]:
    """The user's settings, or the defaults with the reason a broken file was ignored."""
    try:
        return load_settings(), None
    except PhotoTaggerError as exc:
        return Settings(), str(exc)


def main(argv: list[str] | None = None) -> int:
    """Open the main window; ``argv`` may name a folder to open at once."""
    parser = argparse.ArgumentParser(prog="phototagger-gui", description="PhotoTagger desktop app")
    parser.add_argument("folder", nargs="?", help="a folder of photos to open")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = create_app([])
    settings, problem = load_settings_or_defaults()
    window = MainWindow(settings)
    window.show()
    if problem:
        QMessageBox.warning(window, "Settings ignored", f"{problem}\nUsing the defaults.")
    if args.folder:
        QTimer.singleShot(0, lambda: window.open_folder(Path(args.folder)))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
