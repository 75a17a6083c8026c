"""The main window: folder sidebar, thumbnail grid, tag panel, toolbar and status bar.

The window owns the workers and wires them: folders are scanned and photos
registered by the database worker, tagging runs on the inference worker, and
every decision is a database task whose result (the photos' new tags) comes
back to the grid and the panel. Nothing here waits on I/O.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QSplitter,
    QWidget,
)

from core import settings as core_settings
from core.backbones import list_backbones
from core.settings import Settings
from core.sources import PhotoRef
from desktop import people_view, tasks
from desktop.bot_panel import BotBridge
from desktop.curation import CurationDialog
from desktop.dialogs import (
    ExportChoice,
    ExportDialog,
    SettingsDialog,
    ShortcutsDialog,
    UrlDialog,
)
from desktop.grid import PhotoGridView
from desktop.learn import LearnController
from desktop.models import PhotoFilterProxyModel, PhotoItem, ThumbnailModel
from desktop.run_bar import RunStatusBar, RunToolBar
from desktop.sidebar import SidebarWidget
from desktop.tag_panel import TagPanel, mosaic
from desktop.workers import (
    DbWorker,
    InferenceWorker,
    PhotoUpdate,
    ProgressRelay,
    ThumbnailLoader,
)

PREVIEW_SIZE = 720
MAX_RECENT = 8
UNDO_DEPTH = 200


class MainWindow(QMainWindow):
    """PhotoTagger's window. ``settings`` are the persisted defaults; the toolbar starts from them."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.setWindowTitle("PhotoTagger")
        self.setAcceptDrops(True)
        self.db_path = core_settings.database_path(settings)
        self.cache_dir = core_settings.cache_dir()
        self.ui_state = QSettings(
            str(core_settings.config_dir() / "window.ini"), QSettings.Format.IniFormat
        )
        self.folder: Path | None = None
        self.inference: InferenceWorker | None = None
        self.undo_stack: list[tuple[list[int], dict[str, int], str]] = []
        self.last_export: Path | None = None
        self._preview_uri: str | None = None
        self.bot_bridge: BotBridge | None = None  # made on first use: one bot per app
        self.learner = LearnController(self)
        self.curation: CurationDialog | None = None

        self.db = DbWorker(self.db_path, self)
        self.db.failed.connect(
            lambda message: self.show_message(f"Database: {message}", error=True)
        )
        self.loader = ThumbnailLoader(self.cache_dir / "thumbs", self)
        self.loader.loaded.connect(self._on_preview_loaded)
        self.model = ThumbnailModel(self.loader, thumb_size=settings.thumbnail_size, parent=self)
        self.proxy = PhotoFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)

        self._build_central()
        self._build_actions()
        self._build_toolbar()
        self._build_status_bar()
        self._build_menus()
        self._counts_timer = QTimer(self, singleShot=True, interval=150)
        self._counts_timer.timeout.connect(self._refresh_counts)
        self.model.itemsChanged.connect(self._counts_timer.start)
        self._restore_ui_state()
        self.db.submit(tasks.completions, self.panel.set_completions)
        self.db.submit(tasks.backbone_notes, self._show_backbone_notes)

    # -- layout ------------------------------------------------------------------

    def _build_central(self) -> None:
        self.sidebar = SidebarWidget()
        self.sidebar.folderChosen.connect(lambda path: self.open_folder(Path(path)))
        self.sidebar.stateChosen.connect(lambda state: self.proxy.set_state(state or None))  # type: ignore[arg-type]
        self.sidebar.tagChosen.connect(lambda tag: self.proxy.set_tag(tag or None))
        self.grid = PhotoGridView()
        self.grid.set_thumb_size(self.settings.thumbnail_size)
        self.grid.grid_delegate.hashtag_style = self.settings.hashtag_style
        self.grid.setModel(self.proxy)
        self.grid.selectionModel().selectionChanged.connect(self._on_selection)
        self.panel = TagPanel()
        self.panel.set_hashtag_style(self.settings.hashtag_style)
        self.panel.decisionRequested.connect(self.decide)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self.grid)
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([250, 800, 380])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def _action(
        self, text: str, keys: str | QKeySequence.StandardKey | None, slot, tip: str = ""
    ) -> QAction:
        action = QAction(text, self)
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
        action.setToolTip(
            f"{tip or text} ({action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)})"
            if keys
            else tip or text
        )
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.open_action = a("Open Folder…", "Ctrl+O", self.choose_folder)
        self.urls_action = a("Add URLs…", "Ctrl+U", self.choose_urls, "Add image URLs")
        self.tag_action = a(
            "Tag All",
            "Ctrl+T",
            lambda: self.start_tagging(selection_only=False),
            "Tag every photo in the grid",
        )
        self.tag_selection_action = a(
            "Tag Selected",
            "Ctrl+Shift+T",
            lambda: self.start_tagging(selection_only=True),
            "Tag the selected photos",
        )
        self.cancel_action = a("Cancel Run", "Esc", self.cancel_tagging, "Stop tagging")
        self.cancel_action.setEnabled(False)
        self.accept_action = a("Accept Tag", "A", self.panel.accept_current)
        self.reject_action = a("Reject Tag", "R", self.panel.reject_current)
        self.remove_action = a("Remove Tag", "Del", self.panel.remove_current)
        self.add_tag_action = a("Add Tag…", "T", self.panel.focus_add)
        self.next_action = a("Next Photo", "J", partial(self.step_photo, 1))
        self.prev_action = a("Previous Photo", "K", partial(self.step_photo, -1))
        self.undo_action = a(
            "Undo Decision", QKeySequence.StandardKey.Undo, self.undo, "Undo the last decision"
        )
        self.undo_action.setEnabled(False)
        self.export_action = a(
            "Export…", "Ctrl+E", self.choose_export, "Export tags to CSV or JSON"
        )
        self.settings_action = a("Settings…", "Ctrl+,", self.edit_settings)
        self.filter_action = a(
            "Filter by Tag", "Ctrl+F", lambda: self.sidebar.tag_search.setFocus()
        )
        self.learn_action = a(
            "Learn from My Decisions",
            "Ctrl+L",
            self.learner.start,
            "Train on your accepted, added and rejected tags, then refresh suggestions",
        )
        self.curate_action = a(
            "Curate Album…",
            "Ctrl+Shift+C",
            self.curate,
            "Near-duplicates with their keeper, and the best photos to pick",
        )
        self.people_action = a(
            "People…",
            "Ctrl+Shift+P",
            lambda: people_view.open_people_view(self),
            "Faces grouped by person: name, merge, split",
        )
        self.select_all_action = a("Select All Photos", "Ctrl+A", self.grid.selectAll)
        self.shortcuts_action = a("Keyboard Shortcuts", "F1", self.show_shortcuts)
        self.quit_action = a("Quit", "Ctrl+Q", self.close)

    def _build_toolbar(self) -> None:
        self.toolbar = RunToolBar(
            self.settings,
            sources=[self.open_action, self.urls_action],
            runs=[self.tag_action, self.tag_selection_action],
            trailing=[self.export_action, self.settings_action],
            parent=self,
        )
        self.toolbar.rankingChanged.connect(self.reload_tags)
        self.addToolBar(self.toolbar)
        # The run controls are read and set all over the window (and by tests): short names.
        self.backbone_box = self.toolbar.backbone_box
        self.device_box = self.toolbar.device_box
        self.threshold_box = self.toolbar.threshold_box
        self.top_k_box = self.toolbar.top_k_box

    def _build_status_bar(self) -> None:
        status = RunStatusBar(self)
        status.cancel_button.clicked.connect(self.cancel_tagging)
        self.setStatusBar(status)
        self.run_status = status
        self.message_label = status.message_label
        self.progress = status.progress
        self.rate_label = status.rate_label
        self.cancel_button = status.cancel_button
        self.counts_label = status.counts_label

    def _build_menus(self) -> None:
        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        for action in (
            self.open_action,
            self.urls_action,
            self.export_action,
            self.settings_action,
            self.quit_action,
        ):
            file_menu.addAction(action)
        tag_menu = menus.addMenu("&Tagging")
        for action in (self.tag_action, self.tag_selection_action, self.cancel_action):
            tag_menu.addAction(action)
        review_menu = menus.addMenu("&Review")
        for action in (
            self.accept_action,
            self.reject_action,
            self.remove_action,
            self.add_tag_action,
            self.undo_action,
            self.next_action,
            self.prev_action,
            self.select_all_action,
            self.filter_action,
        ):
            review_menu.addAction(action)
        review_menu.addSeparator()
        review_menu.addAction(self.learn_action)
        review_menu.addAction(self.curate_action)
        review_menu.addAction(self.people_action)
        menus.addMenu("&Help").addAction(self.shortcuts_action)

    def shortcut_table(self) -> list[tuple[str, str]]:
        return [
            (
                a.text().replace("&", "").rstrip("…"),
                a.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
            )
            for a in self.actions()
            if not a.shortcut().isEmpty()
        ]

    # -- messages ----------------------------------------------------------------

    def show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet("color: #e5534b;" if error else "")

    def _refresh_counts(self) -> None:
        states = self.model.state_counts()
        self.sidebar.update_counts(states, self.model.tag_counts())
        total = sum(states.values())
        done = states["suggested"] + states["reviewed"]
        text = f"{total} photos · {done} tagged · {states['reviewed']} reviewed"
        if states["failed"]:
            text += f" · {states['failed']} failed"
        self.counts_label.setText(text)

    def _show_backbone_notes(self, notes: list[tuple[str, str, str]]) -> None:
        for name, display, note in notes:
            row = self.backbone_box.findData(name)
            if row < 0:
                continue
            short = display.split(" (")[0]
            if note != "available":
                self.backbone_box.setItemText(
                    row, f"{short} — {note.split(':')[0].split('(')[0].strip()}"
                )
            self.backbone_box.setItemData(row, f"{display}: {note}", Qt.ItemDataRole.ToolTipRole)
        self.backbone_notes = notes

    # -- opening photos ----------------------------------------------------------

    def choose_folder(self) -> None:
        start = str(self.folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path) -> None:
        """Scan ``folder`` on the database thread, then show its photos at once."""
        folder = folder.expanduser().resolve()
        self.folder = folder
        self.setWindowTitle(f"{folder.name} — PhotoTagger")
        self._remember_recent(str(folder))
        self.sidebar.reveal(str(folder))
        self.show_message(f"Reading {folder}…")
        self.db.submit(partial(tasks.scan_folder, folder=folder), self._show_refs)

    def open_inputs(self, inputs: list[str]) -> None:
        """Dropped files (and folders): shown together, like a folder."""
        self.folder = None
        self.setWindowTitle("Dropped photos — PhotoTagger")
        self.db.submit(partial(tasks.scan_inputs, inputs=inputs), self._show_refs)

    def _show_refs(self, refs: list[PhotoRef]) -> None:
        self.model.set_refs(refs)
        self.panel.set_items([])
        self.show_message(f"{len(refs)} photos" + (f" in {self.folder}" if self.folder else ""))
        self._register(refs)

    def _register(self, refs: list[PhotoRef]) -> None:
        self.db.submit(
            partial(tasks.register_refs, refs=refs, threshold=self.threshold, top_k=self.top_k),
            self._apply_updates,
        )

    def choose_urls(self) -> None:
        dialog = UrlDialog(self)
        if dialog.exec():
            self.add_urls(dialog.urls())

    def add_urls(self, urls: list[str]) -> None:
        refs = [PhotoRef(uri=url, kind="url") for url in urls]
        self.model.append_refs(refs)
        self._register(refs)
        self.show_message(f"Added {len(refs)} URLs; they are fetched when tagged")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls: list[QUrl] = event.mimeData().urls()
        local = [u.toLocalFile() for u in urls if u.isLocalFile()]
        remote = [u.toString() for u in urls if u.scheme() in ("http", "https")]
        if len(local) == 1 and Path(local[0]).is_dir():
            self.open_folder(Path(local[0]))
        elif local:
            self.open_inputs(local)
        if remote:
            self.add_urls(remote)
        event.acceptProposedAction()

    def _remember_recent(self, folder: str) -> None:
        recent = [folder, *[f for f in self.recent_folders() if f != folder]][:MAX_RECENT]
        self.ui_state.setValue("recent", recent)
        self.sidebar.set_recent(recent)

    def recent_folders(self) -> list[str]:
        value = self.ui_state.value("recent", [])
        return [value] if isinstance(value, str) else list(value or [])

    # -- tagging -------------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self.threshold_box.value()

    @property
    def top_k(self) -> int:
        return self.top_k_box.value()

    def selected_items(self) -> list[PhotoItem]:
        rows = sorted(
            self.proxy.mapToSource(i).row() for i in self.grid.selectionModel().selectedIndexes()
        )
        return [self.model.item(r) for r in rows]

    def start_tagging(self, *, selection_only: bool) -> None:
        if self.inference is not None:
            return
        items = self.selected_items() if selection_only else self.model.items()
        refs = [item.ref for item in items]
        if not refs:
            self.show_message(
                "Nothing to tag: open a folder first"
                if not selection_only
                else "Select photos to tag"
            )
            return
        worker = InferenceWorker(
            refs,
            backbone=self.backbone_box.currentData(),
            device=self.device_box.currentData(),
            db_path=self.db_path,
            cache_dir=self.cache_dir,
            threshold=self.threshold,
            top_k=self.top_k,
            batch_size=self.settings.batch_size,
            max_pixels=self.settings.max_megapixels * 1_000_000,
            detect_faces=self.settings.detect_faces,
            recognize_faces=self.settings.recognize_faces,
            precision=self.settings.precision,
        )
        worker.stage.connect(self.show_message)
        worker.progressed.connect(self._on_progress)
        worker.batchTagged.connect(self._apply_updates)
        worker.failedToStart.connect(lambda message: self.show_message(message, error=True))
        worker.runFinished.connect(self._on_run_finished)
        self.inference = worker
        self._run_started = time.monotonic()
        self.run_status.run_started()
        self.tag_action.setEnabled(False)
        self.tag_selection_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        worker.start()

    def cancel_tagging(self) -> None:
        if self.inference is None:
            return
        self.inference.cancel()
        self.cancel_button.setEnabled(False)
        self.show_message("Cancelling after the batch in flight…")

    def _on_progress(self, progress) -> None:
        self.run_status.show_progress(progress)

    def _on_run_finished(self, summary) -> None:
        worker, self.inference = self.inference, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        self.run_status.run_ended()
        self.tag_action.setEnabled(True)
        self.tag_selection_action.setEnabled(True)
        self.cancel_action.setEnabled(False)
        if summary is None:
            return
        verb = "Cancelled after" if summary.cancelled else "Tagged"
        text = f"{verb} {summary.tagged} photos in {summary.elapsed:.1f} s"
        if summary.skipped:
            text += f" · {summary.skipped} already done"
        if summary.failed:
            text += f" · {summary.failed} failed (filter: Failed)"
        self.show_message(text)
        self.last_summary = summary

    def _apply_updates(self, updates: list[PhotoUpdate]) -> None:
        self.model.apply_updates(updates)
        touched = {u.uri for u in updates}
        if any(item.ref.uri in touched for item in self.panel.items):
            self._on_selection()

    def reload_tags(self) -> None:
        """Re-rank every photo's tags after the threshold or top-k changed."""
        photos = {i.ref.uri: i.photo_id for i in self.model.items() if i.photo_id is not None}
        self.db.submit(
            partial(
                tasks.load_updates, photo_ids=photos, threshold=self.threshold, top_k=self.top_k
            ),
            self._apply_updates,
        )

    # -- review ----------------------------------------------------------------------

    def _on_selection(self, *_args) -> None:
        items = self.selected_items()
        self.panel.set_items(items)
        if len(items) != 1:
            self._preview_uri = None
            thumbs = [t for t in (self.model.thumbnail(i) for i in items[:4]) if t is not None]
            if thumbs:
                self.panel.set_preview(mosaic(thumbs))
            return
        item = items[0]
        if self._preview_uri != item.ref.uri:
            self._preview_uri = item.ref.uri
            small = self.model.thumbnail(item)
            self.panel.set_preview(small)
            if item.state == "failed":
                self.panel.set_preview(None, "No preview: the file could not be read")
            else:
                self.loader.request(item.ref, PREVIEW_SIZE)

    def _on_preview_loaded(self, uri: str, size: int, image: QImage) -> None:
        if size == PREVIEW_SIZE and uri == self._preview_uri:
            self.panel.set_preview(QPixmap.fromImage(image))
            people_view.show_named_faces(self, uri, image)

    def step_photo(self, step: int) -> None:
        count = self.proxy.rowCount()
        if not count:
            return
        current = self.grid.currentIndex()
        row = min(max((current.row() if current.isValid() else -1) + step, 0), count - 1)
        self.grid.setCurrentIndex(self.proxy.index(row, 0))

    def decide(self, tag: str, action: str) -> None:
        photos = {i.ref.uri: i.photo_id for i in self.panel.items if i.photo_id is not None}
        if not photos:
            self.show_message("These photos are still being registered; try again in a moment")
            return

        def done(result: tuple[list[int], list[PhotoUpdate]]) -> None:
            decision_ids, updates = result
            self.undo_stack.append((decision_ids, photos, f"{action} {tag}"))
            del self.undo_stack[:-UNDO_DEPTH]
            self.undo_action.setEnabled(True)
            self._apply_updates(updates)
            verb = {"accept": "Accepted", "reject": "Rejected", "add": "Added", "remove": "Removed"}
            plural = "s" if len(photos) > 1 else ""
            self.show_message(f"{verb.get(action, action)} #{tag} on {len(photos)} photo{plural}")
            self.panel.set_completions(
                list(dict.fromkeys([tag, *self.panel.completer.model().stringList()]))
            )  # type: ignore[attr-defined]

        self.db.submit(
            partial(
                tasks.decide,
                photos=photos,
                tag=tag,
                action=action,
                threshold=self.threshold,
                top_k=self.top_k,
            ),
            done,
            lambda exc: self.show_message(str(exc), error=True),
        )

    def undo(self) -> None:
        if not self.undo_stack:
            return
        decision_ids, photos, label = self.undo_stack.pop()
        self.undo_action.setEnabled(bool(self.undo_stack))
        self.db.submit(
            partial(
                tasks.undo,
                decision_ids=decision_ids,
                photos=photos,
                threshold=self.threshold,
                top_k=self.top_k,
            ),
            self._apply_updates,
        )
        self.show_message(f"Undid: {label}")

    # -- export and settings -------------------------------------------------------------

    def choose_export(self) -> None:
        default = self.last_export or (self.folder or Path.home()) / "tags.csv"
        dialog = ExportDialog(
            default_path=default,
            selected=len(self.selected_items()),
            shown=self.proxy.rowCount(),
            total=self.model.rowCount(),
            min_score=max(self.threshold, 0.5),
            parent=self,
        )
        if dialog.exec():
            choice = dialog.choice()
            if choice.photos == "selected":
                items = self.selected_items()
            elif choice.photos == "shown":
                items = self.shown_items()
            else:
                items = self.model.items()
            uris = [i.ref.uri for i in items]
            if choice.into_files:
                self.export_keywords(choice, uris=uris)
            else:
                self.export_to(choice.path, fmt=choice.format, scope=choice.scope, uris=uris)

    def shown_items(self) -> list[PhotoItem]:
        """The photos the grid's filter shows, in grid order."""
        return [
            self.model.item(self.proxy.mapToSource(self.proxy.index(row, 0)).row())
            for row in range(self.proxy.rowCount())
        ]

    def export_to(self, path: Path, *, fmt: str, scope: str, uris: list[str]) -> None:
        self.last_export = path
        self.db.submit(
            partial(
                tasks.export,
                path=path,
                fmt=fmt,
                scope=scope,
                uris=uris,
                threshold=self.threshold,
                top_k=self.top_k,
                style=self.settings.hashtag_style,
            ),
            lambda count: self.show_message(f"Exported {count} photos to {path}"),
            lambda exc: self.show_message(f"Export failed: {exc}", error=True),
        )

    def export_keywords(self, choice: ExportChoice, *, uris: list[str]) -> None:
        """Merge keywords into sidecars or photos on the database thread, with progress."""
        self.progress.setRange(0, max(len(uris), 1))
        self.progress.setValue(0)
        self.progress.show()
        self.show_message(f"Writing keywords for {len(uris)} photos…")
        relay = ProgressRelay(self)
        relay.progressed.connect(lambda done, total: self.progress.setValue(done))

        def finished(report) -> None:
            self.progress.hide()
            relay.deleteLater()
            text = f"Keywords: {report.summary()}"
            if report.failures:
                first = report.failures[0]
                text += f" ({first.photo.name}: {first.message})"
            self.show_message(text, error=bool(report.failures))

        def failed(exc: Exception) -> None:
            self.progress.hide()
            relay.deleteLater()
            self.show_message(f"Export failed: {exc}", error=True)

        self.db.submit(
            partial(
                tasks.export_keywords,
                uris=uris,
                scope=choice.scope,
                min_score=choice.min_score if choice.scope == "suggested" else self.threshold,
                top_k=self.top_k,
                embed=choice.format == "embed",
                sidecar_name=choice.sidecar_name,
                progress=relay.progressed.emit,
            ),
            finished,
            failed,
        )

    def curate(self) -> CurationDialog:
        """Open the curation view on the grid's photos; it measures them off the GUI thread."""
        if self.curation is not None:
            self.curation.stop()
            self.curation.deleteLater()
        self.curation = CurationDialog(self)
        self.curation.show()
        self.curation.start()
        return self.curation

    def bot(self) -> BotBridge:
        """The app's one bot runner (behind its Qt bridge), made on first use.

        It belongs to the window, not the settings dialog, so the bot keeps
        answering after the dialog closes and stops when the app quits.
        """
        if self.bot_bridge is None:
            from bot.runner import BotRunner

            self.attach_bot_runner(BotRunner(self.settings, database=self.db_path))
        assert self.bot_bridge is not None
        return self.bot_bridge

    def attach_bot_runner(self, runner) -> BotBridge:
        """Use ``runner`` as the app's bot (tests hand in one aimed at a fake Bot API)."""
        if self.bot_bridge is not None:
            self.bot_bridge.close()
        self.bot_bridge = BotBridge(runner, self)
        return self.bot_bridge

    def settings_dialog(self) -> SettingsDialog:
        """The settings dialog, its bot panel wired to the app's bot."""
        backbones = [
            (name, f"{display} — {note}")
            for name, display, note in getattr(self, "backbone_notes", [])
        ]
        backbones = backbones or [(s.name, s.display_name) for s in list_backbones()]
        return SettingsDialog(
            self.settings, backbones=backbones, bot_bridge=self.bot(), parent=self
        )

    def edit_settings(self) -> None:
        dialog = self.settings_dialog()
        if dialog.exec():
            self.apply_settings(dialog.result_settings())
            if dialog.token_problem:
                self.show_message(dialog.token_problem, error=True)

    def apply_settings(self, settings: Settings) -> None:
        """Persist new defaults and apply what can change live (the database path needs a restart)."""
        core_settings.save_settings(settings)
        old, self.settings = self.settings, settings
        if self.bot_bridge is not None:  # the next start uses them; a running bot keeps its own
            self.bot_bridge.runner.configure(settings=settings)
        self.backbone_box.setCurrentIndex(max(0, self.backbone_box.findData(settings.backbone)))
        self.device_box.setCurrentIndex(max(0, self.device_box.findData(settings.device)))
        self.threshold_box.setValue(settings.threshold)
        self.top_k_box.setValue(settings.top_k)
        self.grid.grid_delegate.hashtag_style = settings.hashtag_style
        self.panel.set_hashtag_style(settings.hashtag_style)
        if settings.thumbnail_size != old.thumbnail_size:
            self.grid.set_thumb_size(settings.thumbnail_size)
            self.model.set_thumb_size(settings.thumbnail_size)
        self.grid.viewport().update()
        note = (
            " (the new database is used after a restart)"
            if settings.database != old.database
            else ""
        )
        self.show_message("Settings saved" + note)

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.shortcut_table(), self).exec()

    # -- window state ------------------------------------------------------------------

    def _restore_ui_state(self) -> None:
        geometry = self.ui_state.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        splitter = self.ui_state.value("splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        self.sidebar.set_recent(self.recent_folders())

    def save_ui_state(self) -> None:
        self.ui_state.setValue("geometry", self.saveGeometry())
        self.ui_state.setValue("splitter", self.splitter.saveState())
        self.ui_state.sync()

    def shutdown(self) -> None:
        """Stop the run (its batch in flight is stored), the bot, the thumbnails and the database."""
        if self.inference is not None:
            self.inference.cancel()
            self.inference.wait(30000)
        self.learner.stop()
        if self.curation is not None:
            self.curation.stop()
        if self.bot_bridge is not None:
            self.bot_bridge.close()
        self.loader.stop()
        self.db.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_ui_state()
        self.shutdown()
        super().closeEvent(event)
