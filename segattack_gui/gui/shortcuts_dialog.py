"""Help > Keyboard shortcuts: every key the window answers to, read from the window itself.

The list is built from the menus' actions and the canvas's own shortcut table when the
dialog opens, so it cannot drift from what the keys do.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from .canvas.shortcuts import SHORTCUT_HELP
from .canvas.tools import TOOL_SHORTCUTS, TOOL_TITLES

CANVAS_WORDS = {
    "brush_smaller": "Brush smaller",
    "brush_larger": "Brush larger",
    "undo": "Undo a paint step",
    "redo": "Redo (also Ctrl+Y)",
    "label": "Paint label 0-9",
}
MOUSE_ROWS = (
    ("Canvas", "Wheel", "Zoom about the mouse"),
    ("Canvas", "Space + drag, or middle drag", "Pan"),
    ("Canvas", "Right button", "Erase with the current tool (forbid, on the region layer)"),
    ("Canvas", "Enter / Esc", "Close / cancel a polygon"),
)


def shortcut_rows(window) -> list[tuple[str, str, str]]:
    """(where, keys, what) for every menu action with a shortcut, then the canvas's keys and mouse."""
    rows = []
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        if menu is None:
            continue
        where = menu_action.text().replace("&", "")
        for action in _actions(menu):
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if keys:
                rows.append((where, keys, action.text().replace("&", "").rstrip("…")))
    rows += [("Canvas", key, f"Tool: {TOOL_TITLES[tool]}") for tool, key in TOOL_SHORTCUTS.items()]
    rows += [("Canvas", key, CANVAS_WORDS.get(name, name.replace("_", " "))) for name, key in SHORTCUT_HELP.items()]
    rows += list(MOUSE_ROWS)
    return rows


def _actions(menu) -> list[QAction]:
    found = []
    for action in menu.actions():
        if action.menu() is not None:
            found += _actions(action.menu())
        elif not action.isSeparator():
            found.append(action)
    return found


class ShortcutsDialog(QDialog):
    """A table of :func:`shortcut_rows`, non-modal so it can stay open beside the canvas."""

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Where", "Keys", "What"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(560, 520)
