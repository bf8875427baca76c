"""The last run in numbers: how it ended and its final metrics, float and as the exported file.

8-bit rounding can undo a small perturbation (docs/design.md, Attacks), so the summary shows both the
float adversarial's scores and those of its rounded file side by side, under a caption
that says which is which; a researcher sees at once whether the exported image still
fools the model. The file is adversarial.png, or for a DICOM or NIfTI image the file on its own
stored grid, whose norms are also given in the image's units (HU for CT). Values wrap rather than
widen the narrow Controls dock.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QWidget

from ...io.medical.nifti import is_nifti_path

ROWS = (
    ("ended", "Ended", "Iterations run and why the run stopped"),
    ("time", "Time", "Wall time of the attack loop and the iteration rate"),
    ("iou", "IoU", "IoU with the target: float adversarial / exported file"),
    ("pixel_accuracy", "Pixel accuracy", "Share of pixels predicted as the target: float / exported file"),
    ("l2", "L2", "‖adversarial − original‖₂ on the [0,1] scale (and in the image's units): float / exported file"),
    ("linf", "L∞", "max |adversarial − original| on the [0,1] scale (and in the image's units): float / exported file"),
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
"""Heads the rows that show a pair of values (IoU to L∞), for a plain image."""


def saved_file_words(provenance) -> str:
    """What the second value of each pair scores: the 8-bit PNG, or a DICOM / NIfTI on its own grid."""
    if provenance.image_slice is None:
        return "8-bit PNG"
    return "NIfTI as saved" if is_nifti_path(provenance.image_path or "") else "DICOM as saved"


def in_units(pair: tuple[float, float], value_range: dict | None) -> str:
    """" (100 / 100 HU)": a pair of [0, 1] norms in the image's own units, where the file states them."""
    if not value_range:
        return ""
    span = value_range["high"] - value_range["low"]
    units = value_range.get("units") or "stored values"
    first, second = (f"{value * span:.0f}" if value * span >= 1000 else f"{value * span:.4g}" for value in pair)
    return f" ({first} / {second} {units})"


class RunSummary(QGroupBox):
    def __init__(self, document, parent: QWidget | None = None):
        super().__init__("Last run", parent)
        self.setObjectName("runSummary")
        self.document = document
        layout = QFormLayout(self)
        self.values: dict[str, QLabel] = {}
        for key, title, tip in ROWS:
            if key == "iou":
                self.caption = QLabel(PAIRED_CAPTION)
                self.caption.setObjectName("summaryCaption")
                self.caption.setToolTip("The float adversarial's scores, then those of the exported file, rounded to "
                                        "the grid it holds (adversarial.png; a DICOM or NIfTI's stored integers)")
                self.caption.setStyleSheet("color: #555;")
                self.caption.setWordWrap(True)
                layout.addRow("", self.caption)
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
        self.caption.setText(f"float / {saved_file_words(run.provenance)}")
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
        if run.provenance.image_slice is not None:  # DICOM / NIfTI: the norms in its units too
            for key in ("l2", "linf"):
                self.values[key].setText(self.values[key].text()
                                         + in_units((final[key], rounded[key]), run.provenance.image_value_range))
        best = result.best
        self.values["best"].setText(f"iteration {best['iteration']}, IoU {best['iou']:.3f}")
