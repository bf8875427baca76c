"""The iteration slider: replay the frames kept from the run (``iterationSlider``).

While the run goes on the slider follows the newest frame; dragging it back shows an
older one in every view and marks it in the plots; dragging it to the end follows the
run again. The slider indexes kept frames, and its label shows their iteration.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from ..document import AttackDocument
from .live_text import LiveText


class ReplayBar(QWidget):
    """While a run is live, ``sync`` follows the live views' redraws (the window connects them), so
    the label and the views name the same iteration."""

    def __init__(self, document: AttackDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("iterationSlider")
        self.slider.setToolTip("Replay the attack: drag to show an earlier iteration in the views and plots; "
                               "at the right end the views follow the run.")
        self.slider.setEnabled(False)
        self.label = LiveText("no run yet", widest="iteration 100000 / 100000 (live)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Replay"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self.slider.valueChanged.connect(self._on_value_changed)
        for signal in (document.runStarted, document.runFinished, document.shownFrameChanged):
            signal.connect(self.sync)

    @Slot()
    def sync(self) -> None:
        """Follow the document: range = kept frames, position = shown frame (or the newest)."""
        run = self.document.run
        count = 0 if run is None else len(run.store)
        with QSignalBlocker(self.slider):
            self.slider.setEnabled(count > 1)
            self.slider.setRange(0, max(0, count - 1))
            shown = self.document.shown_frame
            self.slider.setValue(count - 1 if shown is None else shown)
        self._update_label()

    @Slot(int)
    def _on_value_changed(self, value: int) -> None:
        self.document.show_frame(value)
        self._update_label()

    def _update_label(self) -> None:
        run = self.document.run
        if run is None or not len(run.store):
            self.label.setText("no run yet")
            return
        index = self.slider.value()
        iteration = run.store.iteration_at(min(index, len(run.store) - 1))
        total = run.config.get("iterations", "?")
        suffix = "" if self.document.shown_frame is not None else (" (live)" if not run.finished else " (last)")
        self.label.setText(f"iteration {iteration} / {total}{suffix}")
