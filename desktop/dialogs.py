"""Dialogs: settings (generated from :mod:`core.settings`), export, image URLs, shortcuts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core.engine.sources import is_url
from core.engine.vocabulary import hashtag
from core.errors import PhotoTaggerError
from core.settings import Settings, editable_fields, validate
from desktop.bot_panel import BotBridge, BotPanel

BOT_SECTION = "Telegram bot"


class SettingsDialog(QDialog):
    """One tab per settings section, one editor per field, built from the field metadata.

    A field with ``choices`` gets a combo box (``"backbones"`` means the
    registry), bools a check box, numbers a spin box with the field's range,
    ``kind="file"`` a path with a Browse button. The Telegram bot section's
    editors go into a :class:`~desktop.bot_panel.BotPanel`, which starts and stops
    the main window's bot through ``bot_bridge`` (None: the controls are disabled).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        backbones: list[tuple[str, str]],
        bot_bridge: BotBridge | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(520)
        self._settings = settings
        self._backbones = backbones
        self.editors: dict[str, QWidget] = {}
        self.token_problem: str | None = None
        self.tabs = QTabWidget()
        forms: dict[str, QFormLayout] = {}
        bot_editors: dict[str, QWidget] = {}
        bot_labels: dict[str, str] = {}
        for f in editable_fields():
            section = f.metadata.get("section", "General")
            editor = self._editor(f, getattr(settings, f.name))
            editor.setToolTip(f.metadata.get("help", ""))
            self.editors[f.name] = editor
            if section == BOT_SECTION:  # laid out by the bot panel, next to its controls
                bot_editors[f.name] = editor
                bot_labels[f.name] = f.metadata.get("label", f.name)
                continue
            if section not in forms:
                page = QWidget()
                forms[section] = QFormLayout(page)
                forms[section].setSpacing(8)
                forms[section].setFieldGrowthPolicy(
                    QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint
                )
                self.tabs.addTab(page, section)
            label = QLabel(f.metadata.get("label", f.name))
            label.setToolTip(f.metadata.get("help", ""))
            forms[section].addRow(label, editor)
        self.bot_panel = BotPanel(
            editors=bot_editors,
            labels=bot_labels,
            settings=self.result_settings,
            bridge=bot_bridge,
        )
        self.tabs.addTab(self.bot_panel, BOT_SECTION)
        self.error = QLabel()
        self.error.setObjectName("photoError")
        self.error.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _editor(self, f: dataclasses.Field, value: Any) -> QWidget:
        meta = f.metadata
        choices = meta.get("choices")
        if choices == "backbones":
            box = QComboBox()
            for name, label in self._backbones:
                box.addItem(label, name)
            box.setCurrentIndex(max(0, box.findData(value)))
            return box
        if isinstance(choices, tuple):
            box = QComboBox()
            for choice in choices:
                label = str(choice)
                if f.name == "hashtag_style":  # the words alone say little: show one
                    label = f"{hashtag('golden retriever', style=choice)}  ({choice})"
                box.addItem(label, choice)
            box.setCurrentIndex(max(0, box.findData(value)))
            return box
        if f.type in (bool, "bool"):
            check = QCheckBox()
            check.setChecked(bool(value))
            return check
        if f.type in (int, "int"):
            spin = QSpinBox()
            spin.setRange(int(meta.get("minimum", 0)), int(meta.get("maximum", 1_000_000)))
            spin.setValue(int(value))
            return spin
        if f.type in (float, "float"):
            dspin = QDoubleSpinBox()
            dspin.setRange(float(meta.get("minimum", 0.0)), float(meta.get("maximum", 1e9)))
            dspin.setSingleStep(float(meta.get("step", 0.1)))
            dspin.setDecimals(2)
            dspin.setValue(float(value))
            return dspin
        edit = QLineEdit(str(value))
        edit.setMinimumWidth(320)
        if meta.get("kind") != "file":
            return edit
        edit.setPlaceholderText("default location")
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit))
        layout.addWidget(browse)
        row.setProperty("lineEdit", edit)
        return row

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Database file", edit.text(), "SQLite (*.db);;All files (*)"
        )
        if path:
            edit.setText(path)

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                out[name] = editor.currentData()
            elif isinstance(editor, QCheckBox):
                out[name] = editor.isChecked()
            elif isinstance(editor, QSpinBox | QDoubleSpinBox):
                out[name] = editor.value()
            elif isinstance(editor, QLineEdit):
                out[name] = editor.text()
            else:
                out[name] = editor.property("lineEdit").text()
        return out

    def result_settings(self) -> Settings:
        """The edited settings, validated by core (raises PhotoTaggerError)."""
        return validate(dataclasses.replace(self._settings, **self.values()))

    def accept(self) -> None:
        try:
            self.result_settings()
        except PhotoTaggerError as exc:
            self.error.setText(str(exc))
            return
        self.token_problem = self.bot_panel.save_token()
        super().accept()


@dataclass(frozen=True)
class ExportChoice:
    """What the export dialog asked for.

    Attributes:
        path: The CSV or JSON file (unused for keywords, which go beside or into the photos).
        format: ``csv``, ``json``, ``xmp`` (sidecars) or ``embed`` (into JPEGs, sidecars for others).
        scope: ``confirmed``, or ``suggested`` with suggestions of at least ``min_score``.
        photos: ``all``, ``shown`` (what the grid's filter shows) or ``selected``.
        min_score: Lowest confidence of a suggestion that is exported.
        sidecar_name: ``photo.jpg.xmp`` (digiKam, darktable) or ``photo.xmp`` (Lightroom).
    """

    path: Path
    format: str
    scope: str
    photos: str = "all"
    min_score: float = 0.5
    sidecar_name: str = "photo.jpg.xmp"

    @property
    def into_files(self) -> bool:
        return self.format in ("xmp", "embed")


class ExportDialog(QDialog):
    """Where to export: a CSV or JSON file, XMP sidecars, or keywords inside the photos.

    Keywords are merged with what the files already hold; confirmed tags are
    the default, suggestions go in only with a minimum confidence.
    """

    FORMATS = (
        ("csv", "CSV — opens in any spreadsheet"),
        ("json", "JSON — with scores and states"),
        ("xmp", "XMP sidecars — for digiKam, Lightroom, darktable"),
        ("embed", "Keywords inside the photos — JPEG; others get a sidecar"),
    )

    def __init__(
        self,
        *,
        default_path: Path,
        selected: int,
        shown: int | None = None,
        total: int | None = None,
        min_score: float = 0.5,
        filter_text: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export tags")
        self.setMinimumWidth(600)
        self.format_radios: dict[str, QRadioButton] = {}
        formats = QButtonGroup(self)
        format_box = QVBoxLayout()
        for key, label in self.FORMATS:
            radio = QRadioButton(label)
            formats.addButton(radio)
            format_box.addWidget(radio)
            radio.toggled.connect(self._sync)
            self.format_radios[key] = radio
        self.csv_radio, self.json_radio = self.format_radios["csv"], self.format_radios["json"]
        self.xmp_radio, self.embed_radio = self.format_radios["xmp"], self.format_radios["embed"]
        self.confirmed_radio = QRadioButton("Confirmed tags only (accepted and added)")
        self.suggested_radio = QRadioButton("Confirmed tags plus suggestions of at least")
        self.min_score_box = QDoubleSpinBox()
        self.min_score_box.setRange(0.0, 1.0)
        self.min_score_box.setSingleStep(0.05)
        self.min_score_box.setValue(min_score)
        self.confirmed_radio.setChecked(True)
        scopes = QButtonGroup(self)
        scopes.addButton(self.confirmed_radio)
        scopes.addButton(self.suggested_radio)
        self.suggested_radio.toggled.connect(self._sync)
        self.sidecar_box = QComboBox()
        self.sidecar_box.addItem("photo.jpg.xmp (digiKam, darktable)", "photo.jpg.xmp")
        self.sidecar_box.addItem("photo.xmp (Lightroom)", "photo.xmp")
        self.all_radio = QRadioButton("All photos" + (f" ({total})" if total is not None else ""))
        self.shown_radio = QRadioButton(
            f"What the filter shows: {filter_text}"
            if filter_text
            else "Only the photos the grid's filter shows"
            + (f" ({shown})" if shown is not None else "")
        )
        self.selection_radio = QRadioButton(
            "Only the selected photo" if selected == 1 else f"Only the {selected} selected photos"
        )
        self.selection_radio.setEnabled(selected > 0)
        self.shown_radio.setEnabled(shown is None or shown > 0)
        # A filter on screen is what the person is looking at: export that, unless told otherwise.
        (self.shown_radio if filter_text and shown else self.all_radio).setChecked(True)
        photo_group = QButtonGroup(self)
        for radio in (self.all_radio, self.shown_radio, self.selection_radio):
            photo_group.addButton(radio)
        self.path_edit = QLineEdit(str(default_path))
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        self.note = QLabel(
            "Keywords are merged: what the files already hold is kept, and only keywords "
            "PhotoTagger wrote that you rejected since are taken out."
        )
        self.note.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Format", format_box)
        scope_box = QVBoxLayout()
        scope_box.addWidget(self.confirmed_radio)
        suggested_row = QHBoxLayout()
        suggested_row.addWidget(self.suggested_radio)
        suggested_row.addWidget(self.min_score_box)
        suggested_row.addStretch(1)
        scope_box.addLayout(suggested_row)
        form.addRow("Tags", scope_box)
        photos_box = QVBoxLayout()
        for radio in (self.all_radio, self.shown_radio, self.selection_radio):
            photos_box.addWidget(radio)
        form.addRow("Photos", photos_box)
        form.addRow("Sidecar name", self.sidecar_box)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        form.addRow("Save to", path_row)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("Export")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self.csv_radio.setChecked(True)
        self._sync()

    def _format(self) -> str:
        return next((k for k, r in self.format_radios.items() if r.isChecked()), "csv")

    def _sync(self) -> None:
        fmt = self._format()
        table = fmt in ("csv", "json")
        self.path_edit.setEnabled(table)
        self.browse_button.setEnabled(table)
        self.sidecar_box.setEnabled(not table)
        self.note.setVisible(not table)
        self.min_score_box.setEnabled(self.suggested_radio.isChecked())
        if table:
            path = Path(self.path_edit.text())
            self.path_edit.setText(str(path.with_suffix("." + fmt)))

    def _browse(self) -> None:
        kind = "CSV (*.csv)" if self.csv_radio.isChecked() else "JSON (*.json)"
        path, _ = QFileDialog.getSaveFileName(self, "Export tags", self.path_edit.text(), kind)
        if path:
            self.path_edit.setText(path)

    def choice(self) -> ExportChoice:
        photos = (
            "selected"
            if self.selection_radio.isChecked()
            else "shown"
            if self.shown_radio.isChecked()
            else "all"
        )
        return ExportChoice(
            path=Path(self.path_edit.text()).expanduser(),
            format=self._format(),
            scope="confirmed" if self.confirmed_radio.isChecked() else "suggested",
            photos=photos,
            min_score=self.min_score_box.value(),
            sidecar_name=self.sidecar_box.currentData(),
        )


class UrlDialog(QDialog):
    """A list of image URLs, one a line; they are fetched into memory when tagged."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add image URLs")
        self.setMinimumSize(560, 320)
        hint = QLabel("Paste http(s) image URLs, one a line. They are fetched into memory only.")
        hint.setWordWrap(True)
        self.edit = QPlainTextEdit()
        self.edit.setPlaceholderText("https://example.org/photo.jpg")
        self.problem = QLabel()
        self.problem.setObjectName("photoError")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.problem)
        layout.addWidget(buttons)

    def urls(self) -> list[str]:
        lines = [line.strip() for line in self.edit.toPlainText().splitlines()]
        return [line for line in lines if line and not line.startswith("#")]

    def accept(self) -> None:
        bad = [u for u in self.urls() if not is_url(u)]
        if bad:
            self.problem.setText(f"Not an http(s) URL: {bad[0]}")
            return
        super().accept()


class ShortcutsDialog(QDialog):
    """Every action with its keys, read from the window's actions so it never goes stale."""

    def __init__(self, shortcuts: list[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setMinimumSize(460, 480)
        table = QTableWidget(len(shortcuts), 2)
        table.setHorizontalHeaderLabels(["Action", "Keys"])
        table.verticalHeader().hide()
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.horizontalHeader().setStretchLastSection(True)
        for row, (label, keys) in enumerate(shortcuts):
            table.setItem(row, 0, QTableWidgetItem(label))
            table.setItem(row, 1, QTableWidgetItem(keys))
        table.resizeColumnToContents(0)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
