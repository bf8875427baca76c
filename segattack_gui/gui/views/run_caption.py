"""One line over the results: which run they show, and whether the window still holds its inputs.

The results pane and Export read the run's own record, not the window, so after opening
another image, model or run folder they still show (and export) the last run. That is
only safe if the pane says so: "asma on fundus_demo.png with fundus_unet.pt, started
14:02:11 — the window now holds another image; Run attacks it, Export writes this run".
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QLabel, QWidget

CHANGE_WORDS = {"image": "another image", "model": "another model", "masks": "other masks"}


class RunCaption(QLabel):
    """Names the run the results show; warns when the window's inputs are no longer that run's."""

    def __init__(self, document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("runCaption")
        self.setWordWrap(True)
        self.document = document
        for signal in (document.runStarted, document.runFinished, document.imageChanged, document.modelChanged,
                       document.targetChanged, document.regionChanged):
            signal.connect(self.update_text)
        self.update_text()

    @Slot()
    def update_text(self) -> None:
        run = self.document.run
        if run is None:
            self.setText("No run yet: the views show the clean image and the model's prediction on it.")
            self.setStyleSheet("color: #555;")
            return
        changed = self.document.run_differences()
        text = f"Showing the run {run.caption()}"
        if run.exported_to:
            text += f"; exported to {run.exported_to[-1]}"
        if changed:
            now = " and ".join(CHANGE_WORDS[what] for what in changed)
            text += f". The window now holds {now}: Run attacks those, Export writes this run."
            self.setStyleSheet("color: #8a4b00;")
        else:
            self.setStyleSheet("color: #555;")
        self.setText(text)
