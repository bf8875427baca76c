"""Menu actions built one way: text, slot, optional shortcut, and a tip shown as tooltip and status."""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

RUN_SHORTCUT = "Ctrl+R"
PAUSE_SHORTCUT = "Ctrl+Shift+P"
"""The attack's shortcuts, named once: the Attack menu binds them, the panel's tooltips quote them."""


def make_action(owner: QObject, text: str, slot, tip: str, shortcut=None, menu: QMenu | None = None) -> QAction:
    """A QAction owned by ``owner`` that calls ``slot``; added to ``menu`` when one is given."""
    action = QAction(text, owner)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setStatusTip(tip)
    action.setToolTip(tip)
    action.triggered.connect(slot)
    if menu is not None:
        menu.addAction(action)
    return action
