"""The left column: the disk's folder tree, recent folders, and the grid's filters.

Filters are by state (untagged, suggested, reviewed, failed) and by tag, each
with how many photos of the open folder it would show.
"""

from __future__ import annotations

from PySide6.QtCore import QDir, QModelIndex, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileSystemModel,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from core.engine.vocabulary import hashtag

_STATE_LABELS = {
    None: "All photos",
    "untagged": "Untagged",
    "suggested": "Suggested",
    "reviewed": "Reviewed",
    "failed": "Failed",
}


def photos_home() -> str:
    """Where the folder tree starts: the user's Pictures folder where there is one, else home."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return pictures if pictures and QDir(pictures).exists() else QDir.homePath()


def _inside(folder: str, parent: str) -> bool:
    return folder == parent or folder.startswith(parent.rstrip("/") + "/")


def _section(title: str) -> QLabel:
    label = QLabel(title.upper())
    label.setObjectName("sectionTitle")
    return label


class SidebarWidget(QWidget):
    """Folder tree, recent folders, state and tag filters.

    Signals:
        folderChosen: A folder path to open.
        stateChosen: A state to filter by, or "" for all.
        tagChosen: A tag to filter by, or "" for all.
    """

    folderChosen = Signal(str)
    stateChosen = Signal(str)
    tagChosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.setMinimumWidth(200)
        self.start_folder = photos_home()

        self.fs_model = QFileSystemModel(self)
        self.fs_model.setFilter(
            QDir.Filter.AllDirs | QDir.Filter.NoDotAndDotDot | QDir.Filter.Drives
        )
        self.fs_model.setRootPath(self.start_folder)
        self.tree = QTreeView()
        self.tree.setModel(self.fs_model)
        for column in range(1, self.fs_model.columnCount()):
            self.tree.hideColumn(column)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIndex(self.fs_model.index(self.start_folder))
        self.tree.setAnimated(False)
        self.tree.activated.connect(self._tree_activated)
        self.tree.doubleClicked.connect(self._tree_activated)

        self.recent = QListWidget()
        self.recent.setMaximumHeight(110)
        self.recent.itemActivated.connect(
            lambda item: self.folderChosen.emit(item.data(Qt.ItemDataRole.UserRole))
        )
        self.recent.itemClicked.connect(
            lambda item: self.folderChosen.emit(item.data(Qt.ItemDataRole.UserRole))
        )

        self.states = QListWidget()
        self.states.setObjectName("stateFilter")
        for state, label in _STATE_LABELS.items():
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, state or "")
            self.states.addItem(item)
        self.states.setCurrentRow(0)
        self.states.setFixedHeight(5 * 26 + 6)
        self.states.currentItemChanged.connect(
            lambda item, _old: item and self.stateChosen.emit(item.data(Qt.ItemDataRole.UserRole))
        )

        self.tag_search = QLineEdit()
        self.tag_search.setObjectName("tagSearch")
        self.tag_search.setPlaceholderText("Filter by tag…   (Ctrl+F)")
        self.tag_search.setClearButtonEnabled(True)
        self.tag_search.textChanged.connect(self._filter_tags)
        self.tag_search.returnPressed.connect(self._choose_first_match)
        self.tags = QListWidget()
        self.tags.setObjectName("tagFilter")
        self.tags.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tags.itemClicked.connect(self._tag_clicked)
        self._tag_counts: list[tuple[str, int]] = []
        self._active_tag = ""

        browse = QWidget()
        browse_layout = QVBoxLayout(browse)
        browse_layout.setContentsMargins(0, 0, 0, 0)
        browse_layout.setSpacing(2)
        browse_layout.addWidget(_section("Folders"))
        browse_layout.addWidget(self.tree, 1)
        browse_layout.addWidget(_section("Recent"))
        browse_layout.addWidget(self.recent)
        filters = QWidget()
        filter_layout = QVBoxLayout(filters)
        filter_layout.setContentsMargins(0, 0, 0, 0)
        filter_layout.setSpacing(2)
        filter_layout.addWidget(_section("Show"))
        filter_layout.addWidget(self.states)
        filter_layout.addWidget(_section("Tags"))
        filter_layout.addWidget(self.tag_search)
        filter_layout.addWidget(self.tags, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(browse)
        split.addWidget(filters)
        split.setSizes([320, 420])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.addWidget(split)

    # -- folders ---------------------------------------------------------------

    def _tree_activated(self, index: QModelIndex) -> None:
        self.folderChosen.emit(self.fs_model.filePath(index))

    def reveal(self, folder: str) -> None:
        """Select a folder in the tree (the model loads its parents in the background)."""
        # Pictures, then home, is where photos live; the whole disk only for a folder outside.
        for root in (self.start_folder, QDir.homePath(), QDir.rootPath()):
            if _inside(folder, root):
                break
        if self.fs_model.rootPath() != root:
            self.fs_model.setRootPath(root)
        self.tree.setRootIndex(self.fs_model.index(root))
        index = self.fs_model.index(folder)
        if index.isValid():
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def set_recent(self, folders: list[str]) -> None:
        self.recent.clear()
        for folder in folders:
            item = QListWidgetItem(folder.rstrip("/").rsplit("/", 1)[-1] or folder)
            item.setToolTip(folder)
            item.setData(Qt.ItemDataRole.UserRole, folder)
            self.recent.addItem(item)

    # -- filters ---------------------------------------------------------------

    def update_counts(self, states: dict[str, int], tags: list[tuple[str, int]]) -> None:
        total = sum(states.values())
        for row in range(self.states.count()):
            item = self.states.item(row)
            state = item.data(Qt.ItemDataRole.UserRole) or None
            count = total if state is None else states.get(state, 0)
            item.setText(f"{_STATE_LABELS[state]}  ·  {count}")
        self._tag_counts = tags
        self._filter_tags(self.tag_search.text())

    def _filter_tags(self, text: str) -> None:
        needle = text.strip().lstrip("#").lower()
        self.tags.clear()
        all_item = QListWidgetItem("All tags")
        all_item.setData(Qt.ItemDataRole.UserRole, "")
        self.tags.addItem(all_item)
        for tag, count in self._tag_counts:
            if needle and needle not in tag.lower() and needle not in hashtag(tag):
                continue
            item = QListWidgetItem(f"{hashtag(tag)}  ·  {count}")
            item.setToolTip(tag)
            item.setData(Qt.ItemDataRole.UserRole, tag)
            self.tags.addItem(item)
            if tag == self._active_tag:
                item.setSelected(True)
        if not self._active_tag:
            all_item.setSelected(True)

    def _choose_first_match(self) -> None:
        # Row 0 is "All tags"; Enter picks the best match under it.
        if self.tags.count() > 1:
            self.choose_tag(self.tags.item(1).data(Qt.ItemDataRole.UserRole))

    def _tag_clicked(self, item: QListWidgetItem) -> None:
        self._active_tag = item.data(Qt.ItemDataRole.UserRole)
        self.tagChosen.emit(self._active_tag)

    def choose_tag(self, tag: str) -> None:
        """Filter by ``tag`` as if its row were clicked (tests, and Enter in the search)."""
        self._active_tag = tag
        self._filter_tags(self.tag_search.text())
        self.tagChosen.emit(tag)

    def clear_filters(self) -> None:
        """Every photo again: no state, no tag, an empty search."""
        self.tag_search.clear()
        if self._active_tag:
            self.choose_tag("")
        self.choose_state("")

    def choose_state(self, state: str) -> None:
        for row in range(self.states.count()):
            if self.states.item(row).data(Qt.ItemDataRole.UserRole) == state:
                self.states.setCurrentRow(row)
                return
