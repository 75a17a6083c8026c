"""The main window: folder sidebar, thumbnail grid, tag panel, toolbar and status bar.

The window owns the workers and wires them: folders are scanned and photos
registered by the database worker, tagging runs as a background job, and
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
    QApplication,
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core import settings as core_settings
from core.engine.backbones import Availability, list_backbones
from core.engine.sources import PhotoRef
from core.settings import Settings
from core.store import Decision, PhotoState
from desktop import people_view, tasks
from desktop.arrange import GROUPS, SORTS, GridArranger, describe_info
from desktop.bot_panel import BotBridge
from desktop.curation import CurationDialog
from desktop.dialogs import (
    ExportChoice,
    ExportDialog,
    SettingsDialog,
    ShortcutsDialog,
    UrlDialog,
)
from desktop.filter_bar import EmptyGridPage, FilterBar, filter_summary, plural
from desktop.grid import PhotoGridView
from desktop.jobs import Job, run_in_background
from desktop.keyboard import KeyboardRouter
from desktop.learn import LearnController
from desktop.models import PhotoFilterProxyModel, PhotoItem, ThumbnailModel
from desktop.run_bar import RunStatusBar, RunToolBar
from desktop.sidebar import SidebarWidget
from desktop.tag_panel import TagPanel, mosaic
from desktop.tag_review import TagReviewBar, open_tag_counts
from desktop.tagging import PhotoUpdate, TaggingStep, tag_in_background
from desktop.viewer import PhotoViewer
from desktop.workers import DbWorker, ProgressRelay, ThumbnailLoader

PREVIEW_SIZE = 720
MAX_RECENT = 8
UNDO_DEPTH = 200


_DONE = {
    Decision.ACCEPT: "Accepted",
    Decision.REJECT: "Rejected",
    Decision.ADD: "Added",
    Decision.REMOVE: "Removed",
}


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
        self._scanned = False  # whether the open folder's scan has come back
        self.inference: Job | None = None  # the tagging run under way
        self.undo_stack: list[tuple[list[int], dict[str, int], str]] = []
        self.last_export: Path | None = None
        self._preview_uri: str | None = None
        self._preview_version: tuple[int, int, bool] | None = None  # size, mtime, failed
        self.bot_bridge: BotBridge | None = None  # made on first use: one bot per app
        self.curation: CurationDialog | None = None
        self._review_total = 0  # photos the review by tag under way started with
        self._review_row = 0  # where the next photo to review shows

        self.db = DbWorker(self.db_path, self)
        self.db.failed.connect(
            lambda message: self.show_message(f"Database: {message}", error=True)
        )
        self.loader = ThumbnailLoader(
            self.cache_dir / "thumbs", self, preview_dir=self.cache_dir / "previews"
        )
        self.loader.loaded.connect(self._on_preview_loaded)
        self.model = ThumbnailModel(self.loader, thumb_size=settings.thumbnail_size, parent=self)
        self.proxy = PhotoFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)

        self._build_central()
        self.arranger = GridArranger(
            self.model, base_folder=lambda: self.folder, show_message=self.show_message, parent=self
        )
        self.arranger.infoRead.connect(self._show_details)
        self._build_status_bar()
        self.learner = LearnController(
            status=self.run_status,
            db=self.db,
            db_path=self.db_path,
            run_choice=lambda: (self.backbone, self.threshold),
            tagging=lambda: self.inference is not None,
            refreshed=self.reload_tags,
            parent=self,
        )
        self._build_actions()
        self._build_toolbar()
        self._build_menus()
        self._counts_timer = QTimer(self, singleShot=True, interval=150)
        self._counts_timer.timeout.connect(self._refresh_counts)
        self.model.itemsChanged.connect(self._counts_timer.start)
        self.model.itemsChanged.connect(self._update_review_bar)
        self._restore_ui_state()
        self.keyboard = KeyboardRouter(self)
        self._update_grid_page()
        self.grid.setFocus(Qt.FocusReason.OtherFocusReason)  # keys work from the first moment
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
        self.grid.selectionModel().currentChanged.connect(self._on_current)
        self.grid.openRequested.connect(self.open_viewer)
        self.panel = TagPanel()
        self.panel.set_hashtag_style(self.settings.hashtag_style)
        self.panel.decisionRequested.connect(self.decide)
        # After the completer's popup has closed (it gives focus back to the field as it goes).
        for field in (self.panel.add_edit, self.sidebar.tag_search):
            field.returnPressed.connect(lambda: QTimer.singleShot(0, self.focus_home))
        self.panel.failure.retryRequested.connect(self.retry_failed)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(self._build_center())
        self.splitter.addWidget(self.panel)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

    def _build_center(self) -> QWidget:
        """The middle column: the filter bar over the grid (or the empty page), or the viewer."""
        self.filter_bar = FilterBar()
        self.filter_bar.clearRequested.connect(self.clear_filters)
        self.review_bar = TagReviewBar()
        self.review_bar.acceptAll.connect(lambda: self.decide_reviewed(Decision.ACCEPT, every=True))
        self.review_bar.rejectAll.connect(lambda: self.decide_reviewed(Decision.REJECT, every=True))
        self.review_bar.finished.connect(self.end_tag_review)
        self.empty_page = EmptyGridPage()
        self.empty_page.openRequested.connect(self.choose_folder)
        self.empty_page.clearRequested.connect(self.clear_filters)
        self.grid_stack = QStackedWidget()
        self.grid_stack.addWidget(self.grid)
        self.grid_stack.addWidget(self.empty_page)
        grid_page = QWidget()
        layout = QVBoxLayout(grid_page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.filter_bar)
        layout.addWidget(self.review_bar)
        layout.addWidget(self.grid_stack, 1)
        self.viewer = PhotoViewer()
        self.viewer.decoder.preview_dir = self.cache_dir / "previews"
        self.viewer.closeRequested.connect(self.close_viewer)
        self.center = QStackedWidget()
        self.center.addWidget(grid_page)
        self.center.addWidget(self.viewer)
        for signal in (
            self.proxy.rowsInserted,
            self.proxy.rowsRemoved,
            self.proxy.modelReset,
            self.proxy.layoutChanged,
        ):
            signal.connect(self._update_grid_page)
        return self.center

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
        self.cancel_action = a("Cancel Run", None, self.cancel_tagging, "Stop tagging (Esc)")
        self.cancel_action.setEnabled(False)
        self.escape_action = a(
            "Back to the Grid / Cancel Run",
            "Esc",
            self.escape,
            "Leave a text field or the viewer; in the grid, stop tagging",
        )
        self.view_action = a("View Full Size", "Space", self.open_viewer, "Show the photo large")
        self.view_action.setShortcuts([QKeySequence("Space"), QKeySequence("Return")])
        # Only from the grid: Space and Enter keep their meaning in fields and buttons.
        self.view_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.grid.addAction(self.view_action)
        self.accept_action = a("Accept Tag", "A", lambda: self.review_key(Decision.ACCEPT))
        self.reject_action = a("Reject Tag", "R", lambda: self.review_key(Decision.REJECT))
        self.review_tag_action = a(
            "Review by Tag…",
            "Ctrl+Shift+R",
            self.choose_tag_review,
            "Every photo suggested one tag: accept or reject each, or all at once",
        )
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
        self.rejects_action = a(
            "Show Rejects",
            "Ctrl+Shift+X",
            lambda: self.proxy.set_rejects_only(self.rejects_action.isChecked()),
            "Only the photos marked as rejects in curation (nothing was deleted)",
        )
        self.rejects_action.setCheckable(True)
        self.select_all_action = a("Select All Photos", "Ctrl+A", self.grid.selectAll)
        self.panels_action = a(
            "Show/Hide Side Panels", "Tab", self.toggle_side_panels, "Give the grid the whole width"
        )
        self.sidebar_action = a(
            "Show/Hide Folders and Filters", "F7", lambda: self.toggle_panel(self.sidebar)
        )
        self.panel_action = a("Show/Hide Tag Panel", "F8", lambda: self.toggle_panel(self.panel))
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
        self.learner.action = self.learn_action

    def _build_status_bar(self) -> None:
        status = RunStatusBar(self)
        status.cancel_button.clicked.connect(lambda: self.cancel_tagging())
        self.setStatusBar(status)
        self.run_status = status

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
            self.review_tag_action,
            self.rejects_action,
        ):
            review_menu.addAction(action)
        review_menu.addSeparator()
        review_menu.addAction(self.learn_action)
        review_menu.addAction(self.curate_action)
        review_menu.addAction(self.people_action)
        view_menu = menus.addMenu("&View")
        for action in (
            self.view_action,
            self.panels_action,
            self.sidebar_action,
            self.panel_action,
        ):
            view_menu.addAction(action)
        view_menu.addSeparator()
        self.arranger.build_menus(view_menu)
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
        self.run_status.show_message(text, error=error)

    def _refresh_counts(self) -> None:
        states = self.model.state_counts()
        self.sidebar.update_counts(states, self.model.tag_counts())
        self._update_grid_page()
        total = sum(states.values())
        reviewed, failed = states[PhotoState.REVIEWED], states[PhotoState.FAILED]
        done = states[PhotoState.SUGGESTED] + reviewed
        text = f"{plural(total, 'photo')} · {done:,} tagged · {reviewed:,} reviewed"
        if failed:
            text += f" · {failed} failed"
        self.run_status.counts_label.setText(text)

    def _show_backbone_notes(self, notes: list[tuple[str, str, Availability]]) -> None:
        for name, display, found in notes:
            row = self.toolbar.backbone_box.findData(name)
            if row < 0:
                continue
            short = display.split(" (")[0]
            if not found.usable:
                self.toolbar.backbone_box.setItemText(row, f"{short} — {found.label}")
            self.toolbar.backbone_box.setItemData(
                row, f"{display}: {found.note}", Qt.ItemDataRole.ToolTipRole
            )
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
        self.sidebar.clear_filters()  # a filter chosen for the last folder means nothing here
        if self.viewer_open():
            self.close_viewer()
        self._scanned = False
        self.show_message(f"Reading {folder}…")
        self.db.submit(partial(tasks.scan_folder, folder=folder), self._show_refs)

    def open_inputs(self, inputs: list[str]) -> None:
        """Dropped files (and folders): shown together, like a folder."""
        self.folder = None
        self.setWindowTitle("Dropped photos — PhotoTagger")
        self.db.submit(partial(tasks.scan_inputs, inputs=inputs), self._show_refs)

    def _show_refs(self, refs: list[PhotoRef]) -> None:
        self._scanned = True
        self.model.set_refs(refs)
        self.panel.set_items([])
        self.show_message(
            plural(len(refs), "photo") + (f" in {self.folder}" if self.folder else "")
        )
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
        return self.toolbar.threshold_box.value()

    @property
    def top_k(self) -> int:
        return self.toolbar.top_k_box.value()

    @property
    def backbone(self) -> str:
        return self.toolbar.backbone_box.currentData()

    @property
    def device(self) -> str:
        return self.toolbar.device_box.currentData()

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
        self._start_run(refs)

    def retry_failed(self) -> None:
        """Tag the selected failed photos again, whether or not their file changed."""
        refs = [i.ref for i in self.panel.items if i.state == PhotoState.FAILED]
        if not refs:
            return
        if self.inference is not None:
            self.show_message("Retry after the tagging run has finished", error=True)
            return
        self.show_message(f"Trying {len(refs)} photo{'s' if len(refs) > 1 else ''} again…")
        self._start_run(refs, rescan=True)

    def _start_run(self, refs: list[PhotoRef], *, rescan: bool = False) -> None:
        self.inference = run_in_background(
            tag_in_background,
            refs,
            backbone=self.backbone,
            device=self.device,
            db_path=self.db_path,
            cache_dir=self.cache_dir,
            threshold=self.threshold,
            top_k=self.top_k,
            batch_size=self.settings.batch_size,
            max_pixels=self.settings.max_megapixels * 1_000_000,
            detect_faces=self.settings.detect_faces,
            recognize_faces=self.settings.recognize_faces,
            precision=self.settings.precision,
            rescan=rescan,
            on_progress=self._on_tagging_step,
            on_done=self._on_run_done,
            on_error=lambda exc: self.show_message(str(exc), error=True),
            on_end=self._on_run_ended,
            parent=self,
        )
        self._run_started = time.monotonic()
        self.run_status.run_started()
        self.tag_action.setEnabled(False)
        self.tag_selection_action.setEnabled(False)
        self.cancel_action.setEnabled(True)

    def cancel_tagging(self) -> None:
        if self.inference is None:
            return
        self.inference.cancel()
        self.run_status.cancel_button.setEnabled(False)
        self.show_message("Cancelling after the batch in flight…")

    def _on_tagging_step(self, step: TaggingStep) -> None:
        if step.stage:
            self.show_message(step.stage)
        if step.progress is not None:
            self.run_status.show_run_progress(step.progress)
        if step.updates:
            self._apply_updates(list(step.updates))

    def _on_run_done(self, summary) -> None:
        if summary is None:  # cancelled while the backbone loaded
            return
        verb = "Cancelled after" if summary.cancelled else "Tagged"
        text = f"{verb} {plural(summary.tagged, 'photo')} in {summary.elapsed:.1f} s"
        if summary.skipped:
            text += f" · {summary.skipped} already done"
        if summary.failed:
            text += f" · {summary.failed} failed (filter: Failed)"
        self.show_message(text)
        self.last_summary = summary

    def _on_run_ended(self) -> None:
        self.inference = None
        self.run_status.run_ended()
        self.tag_action.setEnabled(True)
        self.tag_selection_action.setEnabled(True)
        self.cancel_action.setEnabled(False)

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
        self._show_details()
        # Same photo, yet a fixed file now tagged (or a new version): the preview is made again.
        version = (item.ref.size, item.ref.mtime, item.state == PhotoState.FAILED)
        if self._preview_uri != item.ref.uri or self._preview_version != version:
            self._preview_uri, self._preview_version = item.ref.uri, version
            small = self.model.thumbnail(item)
            self.panel.set_preview(small)
            if item.state == PhotoState.FAILED:
                self.panel.set_preview(None, "No preview: the file could not be read")
            else:
                self.loader.request(item.ref, PREVIEW_SIZE)

    def _show_details(self) -> None:
        """Date taken, camera and size of the one selected photo, read off the thread if new."""
        if len(self.panel.items) != 1:
            return
        item = self.panel.items[0]
        if item.info is None and item.ref.kind == "file":
            self.arranger.reader.read_one(item.ref)
        self.panel.set_details(describe_info(item.info))

    def _on_preview_loaded(self, uri: str, size: int, image: QImage) -> None:
        if size == PREVIEW_SIZE and uri == self._preview_uri:
            self.panel.set_preview(QPixmap.fromImage(image))
            people_view.show_named_faces(self, uri, image)

    # -- viewer and focus ------------------------------------------------------------

    def current_item(self) -> PhotoItem | None:
        index = self.grid.currentIndex()
        if not index.isValid():
            return None
        return self.model.item(self.proxy.mapToSource(index).row())

    def viewer_open(self) -> bool:
        return self.center.currentWidget() is self.viewer

    def open_viewer(self) -> None:
        """Show the current photo full size (Space, Enter, double-click)."""
        if not self.grid.currentIndex().isValid():
            if not self.proxy.rowCount():
                return
            self.grid.setCurrentIndex(self.proxy.index(0, 0))
        self.center.setCurrentWidget(self.viewer)
        self.panel.preview.hide()  # the photo is large beside the panel: give the tags the room
        self._show_current_in_viewer()
        self.viewer.setFocus(Qt.FocusReason.OtherFocusReason)

    def close_viewer(self) -> None:
        self.center.setCurrentIndex(0)
        self.panel.preview.show()
        self.viewer.show_item(None)
        self.focus_home()
        self.grid.scrollTo(self.grid.currentIndex())

    def _on_current(self, *_args) -> None:
        if self.viewer_open():
            self._show_current_in_viewer()

    def _show_current_in_viewer(self) -> None:
        index = self.grid.currentIndex()
        item = self.current_item()
        ahead = None
        if index.isValid() and index.row() + 1 < self.proxy.rowCount():
            ahead = self.model.item(
                self.proxy.mapToSource(self.proxy.index(index.row() + 1, 0)).row()
            )
        thumb = self.model.thumbnail(item) if item is not None else None
        self.viewer.show_item(item, thumb, ahead=ahead)
        if item is not None:
            people_view.show_named_faces_in_viewer(self, item.ref.uri)

    def home_widget(self) -> QWidget:
        """Where focus belongs when nothing is being typed: the viewer if open, else the grid."""
        return self.viewer if self.viewer_open() else self.grid

    def focus_home(self) -> None:
        if not self.isActiveWindow():  # a closing completer popup may have kept the activation
            self.activateWindow()
        self.home_widget().setFocus(Qt.FocusReason.ShortcutFocusReason)

    def escape(self) -> None:
        """Esc: leave a field (its half-typed tag is dropped), then the viewer, then stop a run."""
        focus = QApplication.focusWidget()
        home = self.home_widget()
        if focus is not None and focus is not home and not home.isAncestorOf(focus):
            if focus is self.panel.add_edit:
                self.panel.add_edit.clear()
            self.focus_home()
        elif self.viewer_open():
            self.close_viewer()
        elif self.inference is not None:
            self.cancel_tagging()
        else:
            self.focus_home()

    def toggle_side_panels(self) -> None:
        """Tab, as in Lightroom: hide both side columns, or show both again."""
        show = self.sidebar.isHidden() and self.panel.isHidden()
        self.sidebar.setVisible(show)
        self.panel.setVisible(show)
        self._keep_focus_visible()

    def toggle_panel(self, panel: QWidget) -> None:
        panel.setVisible(panel.isHidden())
        self._keep_focus_visible()

    def _keep_focus_visible(self) -> None:
        focus = QApplication.focusWidget()
        if focus is None or not focus.isVisible():
            self.focus_home()

    # -- filters -------------------------------------------------------------------

    def clear_filters(self) -> None:
        self.sidebar.clear_filters()
        self.focus_home()

    def _update_grid_page(self, *_args) -> None:
        """The filter bar's line, and the empty page when the grid would be blank."""
        total, shown = self.model.rowCount(), self.proxy.rowCount()
        state, tag = self.proxy.state, self.proxy.tag
        style = self.settings.hashtag_style
        self.filter_bar.show_filter(state=state, tag=tag, shown=shown, total=total, style=style)
        if shown:
            self.grid_stack.setCurrentWidget(self.grid)
            return
        if total:
            summary = filter_summary(state=state, tag=tag, shown=0, total=total, style=style)
            self.empty_page.show_no_match(summary)
        elif self.folder is not None and self._scanned:
            self.empty_page.show_no_photos(str(self.folder))
        else:
            self.empty_page.show_start()
        self.grid_stack.setCurrentWidget(self.empty_page)

    def step_photo(self, step: int) -> None:
        count = self.proxy.rowCount()
        if not count:
            return
        current = self.grid.currentIndex()
        row = min(max((current.row() if current.isValid() else -1) + step, 0), count - 1)
        self.grid.setCurrentIndex(self.proxy.index(row, 0))

    def decide(self, tag: str, action: Decision, items: list[PhotoItem] | None = None) -> None:
        """Record one decision on ``items`` (default: the selected photos), undoable."""
        chosen = self.panel.items if items is None else items
        photos = {i.ref.uri: i.photo_id for i in chosen if i.photo_id is not None}
        if not photos:
            self.show_message("These photos are still being registered; try again in a moment")
            return

        def done(result: tuple[list[int], list[PhotoUpdate]]) -> None:
            decision_ids, updates = result
            self.undo_stack.append((decision_ids, photos, f"{action} {tag}"))
            del self.undo_stack[:-UNDO_DEPTH]
            self.undo_action.setEnabled(True)
            self._apply_updates(updates)
            self.show_message(f"{_DONE[Decision(action)]} #{tag} on {plural(len(photos), 'photo')}")
            if self.proxy.review_tag is not None:
                self._after_review_decision()
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

    # -- review by tag -----------------------------------------------------------------

    def review_key(self, action: Decision) -> None:
        """A or R: the tag under review on the selected photos, else the panel's current tag."""
        if self.proxy.review_tag is not None:
            self.decide_reviewed(action)
        elif action == Decision.ACCEPT:
            self.panel.accept_current()
        else:
            self.panel.reject_current()

    def choose_tag_review(self) -> None:
        """Review the tag filtered on, else the panel's current tag, else one picked from a list."""
        counts = open_tag_counts(self.model.items())
        open_tags = dict(counts)
        for tag in (self.proxy.tag, self.panel.current_tag()):
            if tag and tag in open_tags:
                self.start_tag_review(tag)
                return
        if not counts:
            self.show_message("No suggestion is left to review")
            return
        labels = [f"#{tag}  ·  {n}" for tag, n in counts]
        label, ok = QInputDialog.getItem(
            self, "Review by tag", "Tag to review (photos suggested it):", labels, 0, False
        )
        if ok and label:
            self.start_tag_review(counts[labels.index(label)][0])

    def start_tag_review(self, tag: str) -> None:
        """Show only the photos where ``tag`` is an open suggestion, with the bar above the grid."""
        self.proxy.set_review_tag(tag)
        self._review_total = self.proxy.rowCount()
        self.review_bar.show()
        self._update_review_bar()
        if self.proxy.rowCount():
            self.grid.setCurrentIndex(self.proxy.index(0, 0))
        self.grid.setFocus()

    def end_tag_review(self) -> None:
        self.proxy.set_review_tag(None)
        self.review_bar.hide()
        self.grid.setFocus()

    def decide_reviewed(self, action: Decision, *, every: bool = False) -> None:
        """Decide the tag under review on the selected photos, or on every photo shown."""
        tag = self.proxy.review_tag
        if tag is None:
            return
        items = self.shown_items() if every else self.selected_items()
        if not items:
            self.show_message("Select the photos to decide on, or use Accept all")
            return
        self._review_row = min(
            self.proxy.mapFromSource(self.model.index(self.model.row_of(i))).row() for i in items
        )
        self.decide(tag, action, items)

    def _after_review_decision(self) -> None:
        """The decided photos left the grid: select the one that took their place."""
        self._update_review_bar()
        count = self.proxy.rowCount()
        if count:
            row = min(max(self._review_row, 0), count - 1)
            index = self.proxy.index(row, 0)
            self.grid.setCurrentIndex(index)
            self.grid.selectionModel().select(
                index, self.grid.selectionModel().SelectionFlag.ClearAndSelect
            )

    def _update_review_bar(self) -> None:
        tag = self.proxy.review_tag
        if tag is not None:
            self.review_bar.show_counts(
                tag,
                left=self.proxy.rowCount(),
                decided=max(self._review_total - self.proxy.rowCount(), 0),
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
            filter_text=self.filter_bar.label.text(),
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
            lambda count: self.show_message(f"Exported {plural(count, 'photo')} to {path}"),
            lambda exc: self.show_message(f"Export failed: {exc}", error=True),
        )

    def export_keywords(self, choice: ExportChoice, *, uris: list[str]) -> None:
        """Merge keywords into sidecars or photos on the database thread, with progress."""
        status = self.run_status
        status.show_progress(0, max(len(uris), 1))
        self.show_message(f"Writing keywords for {plural(len(uris), 'photo')}…")
        relay = ProgressRelay(self)
        relay.progressed.connect(lambda done, total: status.show_progress(done, max(total, 1)))

        def finished(report) -> None:
            status.hide_progress()
            relay.deleteLater()
            text = f"Keywords: {report.summary()}"
            if report.failures:
                first = report.failures[0]
                text += f" ({first.photo.name}: {first.message})"
            self.show_message(text, error=bool(report.failures))

        def failed(exc: Exception) -> None:
            status.hide_progress()
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
        self.curation = CurationDialog(
            items=self.model.items(),
            loader=self.loader,
            db=self.db,
            db_path=self.db_path,
            backbone=self.backbone,
            tags_changed=self.reload_tags,
            parent=self,
        )
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
            (name, f"{display} — {found.note}")
            for name, display, found in getattr(self, "backbone_notes", [])
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
        self.toolbar.backbone_box.setCurrentIndex(
            max(0, self.toolbar.backbone_box.findData(settings.backbone))
        )
        self.toolbar.device_box.setCurrentIndex(
            max(0, self.toolbar.device_box.findData(settings.device))
        )
        self.toolbar.threshold_box.setValue(settings.threshold)
        self.toolbar.top_k_box.setValue(settings.top_k)
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
        else:  # 1440x900, or the screen's free area where it is smaller (a 1280x800 laptop)
            screen = self.screen().availableGeometry() if self.screen() else None
            width, height = 1440, 900
            if screen is not None and not screen.isEmpty():
                width, height = min(width, screen.width()), min(height, screen.height())
            self.resize(width, height)
        splitter = self.ui_state.value("splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        else:  # at 1280 px the side columns take less than 40 %, the grid the rest
            self.splitter.setSizes([210, 760, 310])
        for name, panel in (("sidebar_hidden", self.sidebar), ("panel_hidden", self.panel)):
            panel.setHidden(self.ui_state.value(name, False, type=bool))
        sort, group = self.ui_state.value("sort", "folder"), self.ui_state.value("group", "none")
        if sort in SORTS and sort != "folder":
            self.arranger.set_sort(str(sort))
        if group in GROUPS and group != "none":
            self.arranger.set_group(str(group))
        self.sidebar.set_recent(self.recent_folders())

    def save_ui_state(self) -> None:
        self.ui_state.setValue("geometry", self.saveGeometry())
        self.ui_state.setValue("splitter", self.splitter.saveState())
        self.ui_state.setValue("sidebar_hidden", self.sidebar.isHidden())
        self.ui_state.setValue("panel_hidden", self.panel.isHidden())
        self.ui_state.setValue("sort", self.arranger.sort)
        self.ui_state.setValue("group", self.arranger.group)
        self.ui_state.sync()

    def shutdown(self) -> None:
        """Stop the run (its batch in flight is stored), the bot, the thumbnails and the database."""
        if self.inference is not None:
            self.inference.cancel()
            self.inference.wait(30)
        self.learner.stop()
        if self.curation is not None:
            self.curation.stop()
        if self.bot_bridge is not None:
            self.bot_bridge.close()
        self.loader.stop()
        self.viewer.decoder.stop()
        self.arranger.reader.stop()
        self.db.stop()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_ui_state()
        self.shutdown()
        super().closeEvent(event)
