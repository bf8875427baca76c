"""File dialogs that open where the last one left off (one remembered folder for every file kind)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFileDialog, QWidget

LAST_FOLDER_KEY = "dialogs/last_folder"
MODEL_FILTER = "PyTorch models (*.pt *.pth *.pt2 *.ts *.jit *.pkl *.safetensors);;All files (*)"


def ask_open_file(parent: QWidget, title: str, file_filter: str) -> str | None:
    """A file to open, or None when the user cancels."""
    path, _ = QFileDialog.getOpenFileName(parent, title, _last_folder(), file_filter)
    return _remember(path)


def ask_save_file(parent: QWidget, title: str, name: str, file_filter: str) -> str | None:
    """A file to write, suggested as ``name`` in the last folder; None when the user cancels."""
    path, _ = QFileDialog.getSaveFileName(parent, title, str(Path(_last_folder() or ".") / name), file_filter)
    return _remember(path)


def ask_folder(parent: QWidget, title: str) -> str | None:
    """An existing folder, starting in the last one; None when the user cancels."""
    folder = QFileDialog.getExistingDirectory(parent, title, _last_folder())
    if folder:
        QSettings().setValue(LAST_FOLDER_KEY, folder)
    return folder or None


def _last_folder() -> str:
    return str(QSettings().value(LAST_FOLDER_KEY, "") or "")


def _remember(path: str) -> str | None:
    if path:
        QSettings().setValue(LAST_FOLDER_KEY, str(Path(path).parent))
    return path or None
