"""One keyboard model for the window: its shortcuts work wherever focus is, except while typing.

Qt lets a focused text field claim any key it could use (a "shortcut
override"): Ctrl+Z becomes the field's undo, Ctrl+E moves its cursor to the
end, J in a number box is swallowed. This filter gives such keys back to the
window's actions, and keeps for the field only what typing needs:

* printable keys in a text field type (J types "j" in the add-tag box);
* in a number box, letters are the window's (J still moves to the next photo);
* Ctrl+Z is the field's only while it holds text (an empty field's undo is the decision's);
* the editing keys (copy, cut, paste, select all, redo, cursor moves) stay with the field;
* Esc is always the window's: it leaves the field, focus goes back to the grid.
* Tab in a text field moves to the next field, as everywhere; elsewhere it is the
  window's (it folds the side columns away).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QWidget

_FIELD_KEYS = (
    QKeySequence.StandardKey.Copy,
    QKeySequence.StandardKey.Cut,
    QKeySequence.StandardKey.Paste,
    QKeySequence.StandardKey.SelectAll,
    QKeySequence.StandardKey.Redo,
    QKeySequence.StandardKey.Back,
    QKeySequence.StandardKey.Forward,
    QKeySequence.StandardKey.MoveToNextWord,
    QKeySequence.StandardKey.MoveToPreviousWord,
    QKeySequence.StandardKey.SelectNextWord,
    QKeySequence.StandardKey.SelectPreviousWord,
    QKeySequence.StandardKey.DeleteEndOfWord,
    QKeySequence.StandardKey.DeleteStartOfWord,
    QKeySequence.StandardKey.MoveToStartOfLine,
)
"""Keys a text field keeps even when the window has an action on them."""


def _line_edit(widget: QObject) -> QLineEdit | None:
    if isinstance(widget, QLineEdit):
        return widget
    if isinstance(widget, QAbstractSpinBox):
        return widget.findChild(QLineEdit)
    return None


class KeyboardRouter(QObject):
    """Decides, for keys pressed in a text field of ``window``, whether the field or the window acts."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self._window_keys: set[int] = set()
        app = QApplication.instance()
        assert app is not None
        app.installEventFilter(self)

    def refresh(self) -> None:
        """Read the window's action shortcuts again (after actions were added or changed)."""
        self._window_keys = {
            action.shortcut()[0].toCombined()
            for action in self.window.actions()
            if not action.shortcut().isEmpty()
        }

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(watched, QWidget):
            return False
        if watched.window() is not self.window:
            return False
        field = _line_edit(watched)
        if field is None:
            return False
        assert isinstance(event, QKeyEvent)
        spin_box = isinstance(watched, QAbstractSpinBox) or isinstance(
            watched.parent(), QAbstractSpinBox
        )
        if self.window_takes(event, field, spin_box=spin_box):
            event.ignore()  # not claimed by the field: the window's shortcut runs
            return True
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and not spin_box:
            event.accept()  # Tab moves on from a text field; it does not fold the panels away
            return True
        return False

    def window_takes(self, event: QKeyEvent, field: QLineEdit, *, spin_box: bool = False) -> bool:
        """Whether ``event`` in ``field`` is the window's shortcut rather than typing."""
        if not self._window_keys:
            self.refresh()
        key = event.key()
        modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key == Qt.Key.Key_Escape:
            return True
        combined = QKeySequence(event.keyCombination())[0].toCombined()
        if combined not in self._window_keys:
            return False
        typing = modifiers in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
        if typing:
            # Letters type in a text field; a number box has no use for them.
            return spin_box and Qt.Key.Key_A <= key <= Qt.Key.Key_Z
        if event.matches(QKeySequence.StandardKey.Undo):
            return not field.text()
        return not any(event.matches(k) for k in _FIELD_KEYS)
