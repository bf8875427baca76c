"""The last run in numbers: how it ended and its final metrics, float and as the exported 8-bit PNG.

8-bit rounding can undo a small perturbation (docs/design.md, Attacks), so the summary shows both the
float adversarial's scores and those of its rounded PNG side by side, under a caption
that says which is which; a researcher sees at once whether the exported image still
fools the model. Values wrap rather than widen the narrow Controls dock.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

ROWS = (
    ("ended", "Ended", "Iterations run and why the run stopped"),
    ("time", "Time", "Wall time of the attack loop and the iteration rate"),
    ("iou", "IoU", "IoU with the target: float adversarial / exported 8-bit PNG"),
    ("pixel_accuracy", "Pixel accuracy", "Share of pixels predicted as the target: float / 8-bit PNG"),
    ("l2", "L2", "‖adversarial − original‖₂ on the [0,1] scale: float / 8-bit PNG"),
    ("linf", "L∞", "max |adversarial − original| on the [0,1] scale: float / 8-bit PNG"),
    ("best", "Best iterate", "Iteration with the highest IoU (then the smallest L2), and its IoU"),
)


STOP_REASONS = {
    "iterations": "all iterations done",
    "stop_iou": "stop IoU reached",
    "finished": "the method's own stop rule",
    "user": "stopped by you",
    "non-finite": "NaN or infinite output or gradient",
}


RUNNING_WORDS = {
    "running": "running…",
    "paused": "paused (Resume goes on, Stop keeps what it has)",
    "stopping": "stopping after the current iteration…",
}

PAIRED_CAPTION = "float / 8-bit PNG"
"""Heads the rows that show a pair of values (IoU to L∞)."""


class RunSummary(QGroupBox):
    def __init__(self, document, parent: QWidget | None = None):
        super().__init__("Last run", parent)
        self.setObjectName("runSummary")
        self.document = document
        layout = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for key, title, tip in ROWS:
            if key == "iou":
                caption = QLabel(PAIRED_CAPTION)
                caption.setObjectName("summaryCaption")
                caption.setToolTip("The float adversarial's scores, then those of the exported, 8-bit rounded PNG")
                caption.setStyleSheet("color: #555;")
                layout.addRow("", caption)
            value = QLabel("–")
            value.setToolTip(tip)
            value.setObjectName(f"summary_{key}")
            value.setWordWrap(True)
            self.values[key] = value
            layout.addRow(title, value)
        document.runStarted.connect(self.show_run)
        document.runFinished.connect(self.show_run)
        self._session_state = "idle"
        self.show_run()

    @Slot(str)
    def show_session_state(self, state: str) -> None:
        """Running, paused or stopping: said at once, since a slow iteration can hold a Stop for seconds."""
        self._session_state = state
        self.show_run()

    @Slot()
    def show_run(self) -> None:
        run = self.document.run
        self.setVisible(run is not None)
        if run is None:
            return
        result = run.result
        if result is None:
            for label in self.values.values():
                label.setText("–")
            self.values["ended"].setText("failed (see the message)" if run.error else
                                         RUNNING_WORDS.get(self._session_state, "running…") if not run.finished
                                         else "–")
            return
        final, rounded = result.final, result.final_quantized
        rate = result.iterations_run / result.seconds if result.seconds > 0 else 0.0
        reason = STOP_REASONS.get(result.stop_reason, result.stop_reason.replace("_", " "))
        self.values["ended"].setText(f"{result.iterations_run} iterations, {reason}")
        self.values["time"].setText(f"{result.seconds:.1f} s, {rate:.1f} it/s on {result.device}, {result.precision}")
        for key, digits in (("iou", 3), ("pixel_accuracy", 3), ("l2", 3), ("linf", 4)):
            self.values[key].setText(f"{final[key]:.{digits}f} / {rounded[key]:.{digits}f}")
        best = result.best
        self.values["best"].setText(f"iteration {best['iteration']}, IoU {best['iou']:.3f}")
