"""Transfer in the window: the last run's adversarial judged by other models.

An attack made on one model is a finding about that model; whether it fools a second one
(another fold, another architecture, the clinic's model) is the question a reviewer asks
next. The box lists, per other model, its IoU and pixel accuracy against the target and how
much its prediction moved from its own clean one; the run's export records the same rows as
``evaluated_on``, as ``segattack attack --evaluate-on`` does. Models load and predict off the
GUI thread, with the consent a pickled file needs.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...errors import SegAttackError
from ...io.evaluations import evaluated_on_entry
from ..files.dialogs import MODEL_FILTER, ask_folder, ask_open_file

HINT = ("Judge the finished run's adversarial with another model (a fold, an architecture, a colleague's "
        "model): IoU and pixel accuracy against the target, and how far its prediction moved from its own "
        "clean one. Export records the rows as evaluated_on.")


def entry_key(entries: dict, name: str, sha256: str | None) -> str:
    """The row's key: the file name, unless another file of that name was judged already."""
    taken = entries.get(name)
    if taken is None or taken.get("model_sha256") == sha256:
        return name
    return f"{name} ({(sha256 or 'unknown')[:8]})"


def describe(entry: dict) -> str:
    return (f"IoU {entry['iou']:.3f}, PA {entry['pixel_accuracy']:.3f} against the target; "
            f"PA {entry['pixel_accuracy_vs_clean']:.3f} against its clean prediction")


class TransferPanel(QGroupBox):
    """The run's ``evaluated_on`` rows and the button that adds one."""

    evaluated = Signal(str)  # the row's key, once a model has judged the run

    def __init__(self, document, loader, parent: QWidget | None = None):
        super().__init__("On other models", parent)
        self.setObjectName("transferPanel")
        self.setToolTip(HINT)
        self.document, self.loader = document, loader
        layout = QVBoxLayout(self)
        self.rows = QFormLayout()
        layout.addLayout(self.rows)
        self.empty_note = QLabel("Not judged by another model yet: open one to see whether the attack carries over.")
        self.empty_note.setStyleSheet("color: #555;")
        self.empty_note.setWordWrap(True)
        layout.addWidget(self.empty_note)
        buttons = QHBoxLayout()
        self.button = QPushButton("Model file…")
        self.button.setObjectName("evaluateOnButton")
        self.button.setToolTip(HINT)
        self.button.clicked.connect(self.choose_model)
        self.folder_button = QPushButton("Model folder…")
        self.folder_button.setObjectName("evaluateOnFolderButton")
        self.folder_button.setToolTip("The other model is a folder: an nnU-Net trained model, a MONAI bundle, "
                                      "a save_pretrained folder")
        self.folder_button.clicked.connect(self.choose_model_folder)
        buttons.addWidget(self.button, 1)
        buttons.addWidget(self.folder_button)
        layout.addLayout(buttons)
        document.runStarted.connect(self.show_run)
        document.runFinished.connect(self.show_run)
        self.show_run()

    @Slot()
    def choose_model(self) -> None:
        path = ask_open_file(self, "Evaluate the adversarial on another model", MODEL_FILTER)
        if path:
            self.evaluate_on(path)

    @Slot()
    def choose_model_folder(self) -> None:
        folder = ask_folder(self, "Evaluate the adversarial on a model folder")
        if folder:
            self.evaluate_on(folder)

    def evaluate_on(self, path) -> None:
        """Judge the finished run's adversarial with the model at ``path`` (file or folder)."""
        record = self.document.run
        if record is None or record.result is None:
            self.loader.failed.emit(SegAttackError(None, "there is no finished run to evaluate yet; press Run "
                                                          "first").one_line())
            return
        path, result = Path(path), record.result
        value_range = record.provenance.image_value_range  # what the run's [0, 1] stands for (HU for a CT)
        input_range = None if value_range is None else (value_range["low"], value_range["high"])

        def done(entry: dict) -> None:
            key = entry_key(record.evaluated_on, path.name, entry.get("model_sha256"))
            record.evaluated_on[key] = entry
            self.loader.message.emit(f"{key} on the run's adversarial: {describe(entry)}")
            for warning in entry.get("warnings", ()):
                self.loader.failed.emit(f"Warning: {key}: {warning}")
            self.show_run()
            self.evaluated.emit(key)

        self.loader.with_other_model(path, lambda loaded: evaluated_on_entry(loaded, result, input_range), done)

    @Slot()
    def show_run(self) -> None:
        record = self.document.run
        finished = record is not None and record.result is not None
        self.setVisible(finished)
        while self.rows.rowCount():
            self.rows.removeRow(0)
        entries = record.evaluated_on if finished else {}
        for key, entry in entries.items():
            warnings = entry.get("warnings") or []
            value = QLabel(describe(entry) + "".join(f"\n⚠ {warning}" for warning in warnings))
            value.setWordWrap(True)
            if warnings:
                value.setStyleSheet("color: #9a4d00;")
            value.setObjectName("transferRow")
            value.setToolTip(f"{entry.get('model_path')}\nSHA-256 {entry.get('model_sha256')}")
            self.rows.addRow(QLabel(key), value)
        self.empty_note.setVisible(not entries)
        self.button.setEnabled(finished)
        self.folder_button.setEnabled(finished)
