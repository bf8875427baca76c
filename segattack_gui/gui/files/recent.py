"""Recently opened images, models, targets and run folders, kept in QSettings across sessions.

The menu groups them by kind (images, models, targets, run folders), newest first in each:
a researcher comes back to a model or a run as often as to an image.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

SETTINGS_KEY = "recent/files"
KINDS = {"image": "Image", "model": "Model", "target": "Target", "run": "Run folder"}
GROUP_TITLES = {"image": "Images", "model": "Models", "target": "Targets", "run": "Run folders"}
MAX_ENTRIES = 24


class RecentFiles(QObject):
    """Most recent first, one entry per (kind, path); ``chosen(kind, path)`` when picked from the menu."""

    chosen = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.menu: QMenu | None = None

    def entries(self) -> list[tuple[str, str]]:
        stored = QSettings().value(SETTINGS_KEY, []) or []
        if isinstance(stored, str):  # QSettings returns a lone string for a one-item list
            stored = [stored]
        entries = []
        for item in stored:
            kind, _, path = str(item).partition("|")
            if kind in KINDS and path:
                entries.append((kind, path))
        return entries

    def add(self, kind: str, path) -> None:
        path = str(Path(path).resolve())
        entries = [(kind, path)] + [entry for entry in self.entries() if entry != (kind, path)]
        QSettings().setValue(SETTINGS_KEY, [f"{k}|{p}" for k, p in entries[:MAX_ENTRIES]])

    def clear(self) -> None:
        QSettings().remove(SETTINGS_KEY)

    def attach(self, menu: QMenu) -> None:
        """Fill ``menu`` each time it opens."""
        self.menu = menu
        menu.aboutToShow.connect(self._rebuild)
        self._rebuild()

    @Slot()
    def _rebuild(self) -> None:
        menu = self.menu
        menu.clear()
        entries = self.entries()
        if not entries:
            placeholder = menu.addAction("(no recent files)")
            placeholder.setEnabled(False)
            return
        for group in KINDS:
            paths = [path for kind, path in entries if kind == group]
            if not paths:
                continue
            menu.addSection(GROUP_TITLES[group])
            for path in paths[:8]:
                action = QAction(f"{KINDS[group]}: {Path(path).name}", menu)
                action.setToolTip(path)
                action.setStatusTip(path)
                action.setData(f"{group}|{path}")
                action.setEnabled(Path(path).exists())
                action.triggered.connect(self._on_triggered)
                menu.addAction(action)
        menu.addSeparator()
        menu.addAction("Clear list", self.clear)

    @Slot()
    def _on_triggered(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            kind, _, path = str(action.data()).partition("|")
            self.chosen.emit(kind, path)
