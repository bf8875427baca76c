"""Files dropped on the window: models by extension, images as the image or as the target.

A dropped image is the image, unless Shift is held or its name says it is a mask
(``*mask*``, ``*target*``, ``*label*``, ``*truth*``, ``*_gt*``), in which case a small
menu asks. ``choose_role`` is the one place that decides, so tests replace it.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QApplication, QMenu

from ...io.images import IMAGE_SUFFIXES
from ...io.medical.reading import is_medical_path

MODEL_SUFFIXES = {".pt", ".pth", ".ts", ".jit", ".pkl"}
MASK_NAME = re.compile(r"(mask|target|label|truth|_gt\b|seg)", re.IGNORECASE)


def file_kind(path: Path) -> str | None:
    """"model", "image" (DICOM files and one-series folders by their DICM marker, NIfTI by
    ``.nii``/``.nii.gz``) or None."""
    suffix = path.suffix.lower()
    if suffix in MODEL_SUFFIXES:
        return "model"
    if suffix in IMAGE_SUFFIXES or path.name.lower().endswith(".nii.gz") or is_medical_path(path):
        return "image"
    return None


class DropHandler(QObject):
    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def _paths(self, event) -> list[Path]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]

    def drag_enter(self, event) -> None:
        if any(file_kind(path) for path in self._paths(event)):
            event.acceptProposedAction()
        else:
            event.ignore()

    def drop(self, event) -> None:
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        roles: dict[str, list[Path]] = {"image": [], "model": [], "target": []}
        for path in self._paths(event):
            kind = file_kind(path)
            role = kind if kind != "image" else self.choose_role(path, shift)
            if role in roles:
                roles[role].append(path)
            elif kind is None:
                self.window.status.show_message(f"Ignored {path.name}: not an image or a model file")
        # Image, then model, then target: a target is read on the image's grid with the model's classes.
        for path in roles["image"]:
            self.window.open_image(path)
        for path in roles["model"]:
            self.window.open_model(path)
        for path in roles["target"]:
            self.window.open_target(path)
        event.acceptProposedAction()

    def choose_role(self, path: Path, shift: bool) -> str | None:
        """``"image"``, ``"target"`` or None (cancelled)."""
        if not shift and not MASK_NAME.search(path.stem):
            return "image"
        menu = QMenu(self.window)
        as_target = menu.addAction(f"Open {path.name} as the target mask")
        as_image = menu.addAction(f"Open {path.name} as the image")
        menu.setActiveAction(as_target)
        chosen = menu.exec(QCursor.pos())
        QApplication.processEvents()
        return "target" if chosen is as_target else "image" if chosen is as_image else None
