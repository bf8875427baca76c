"""Keyboard shortcuts of the painting canvas, napari-style where napari has one.

P paint, E erase, F fill, L polygon/lasso, R rectangle, O ellipse, Z pan,
[ and ] brush size, 0-9 label, Ctrl+Z undo, Ctrl+Shift+Z / Ctrl+Y redo.
They are window-wide (Qt.WindowShortcut) so they work while the mouse is over
the canvas without clicking it first; text fields elsewhere in the window
still receive their own keys, because Qt lets a focused editor claim them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut

from .tools import TOOL_SHORTCUTS

__all__ = ["install_canvas_shortcuts", "SHORTCUT_HELP"]

SHORTCUT_HELP = {
    "brush_smaller": "[",
    "brush_larger": "]",
    "undo": "Ctrl+Z",
    "redo": "Ctrl+Shift+Z",
    "label": "0-9",
}


def install_canvas_shortcuts(canvas) -> list[QShortcut]:
    """Create the shortcuts (parented to ``canvas``) and return them."""
    bindings: list[tuple[str | QKeySequence.StandardKey, Callable[[], None]]] = [
        (key, partial(canvas.set_tool, tool)) for tool, key in TOOL_SHORTCUTS.items()
    ]
    bindings += [
        ("[", partial(canvas.step_brush_size, -1)),
        ("]", partial(canvas.step_brush_size, +1)),
        ("Ctrl+Z", canvas.undo),
        ("Ctrl+Shift+Z", canvas.redo),
        ("Ctrl+Y", canvas.redo),
    ]
    bindings += [(str(digit), partial(canvas.choose_label, digit)) for digit in range(10)]
    shortcuts = []
    for key, slot in bindings:
        shortcut = QShortcut(QKeySequence(key), canvas)
        shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
        shortcut.activated.connect(slot)
        shortcuts.append(shortcut)
    return shortcuts
