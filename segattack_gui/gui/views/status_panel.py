"""The status bar: device, iteration rate, elapsed time, cursor position and messages."""

from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QLabel, QStatusBar

from .live_text import LiveText
from .refresh import CoalescingRefresh

MESSAGE_MS = 10_000


class StatusPanel(QObject):
    """Permanent read-outs on the right of the status bar; messages on the left."""

    def __init__(self, status_bar: QStatusBar, document, session, parent: QObject | None = None):
        super().__init__(parent or status_bar)
        self.bar = status_bar
        self.document = document
        self.session = session
        # Read-outs that change while an attack runs or the mouse moves: LiveText, not QLabel,
        # so an update repaints the text and never relayouts the window.
        self.cursor_label = LiveText("", widest="x 99999, y 99999")
        self.device_label = QLabel("device: –")
        self.rate_label = LiveText("– it/s", widest="99999.9 it/s")
        self.elapsed_label = LiveText("elapsed –", widest="elapsed 99999.9 s, ~99 min 59 s left")
        for label, name, tip in (
            (self.cursor_label, "cursorLabel", "Image pixel under the mouse (x, y)"),
            (self.device_label, "deviceLabel", "Where the model runs"),
            (self.rate_label, "rateLabel", "Attack iterations per second (forward + input-gradient pass each)"),
            (self.elapsed_label, "elapsedLabel",
             "Time in the attack loop, and while it runs the time its remaining iterations take at the "
             "current rate (less if the stop IoU is reached first)"),
        ):
            label.setObjectName(name)
            label.setToolTip(tip)
            label.setMinimumWidth(90)
            status_bar.addPermanentWidget(label)
        self.refresh = CoalescingRefresh(self.update_run_stats, interval_ms=250, parent=self)
        for signal in (document.runStarted, document.snapshotAdded, document.runFinished):
            signal.connect(self.refresh.mark_dirty)

    @Slot(str)
    def show_message(self, text: str) -> None:
        self.bar.showMessage(text, MESSAGE_MS)

    def show_device(self, device: str) -> None:
        self.device_label.setText(f"device: {device}")

    @Slot(int, int)
    def show_cursor(self, x: int, y: int) -> None:
        self.cursor_label.setText(f"x {x}, y {y}")

    @Slot()
    def update_run_stats(self) -> None:
        run = self.document.run
        if run is None:
            return
        remaining = 0
        if run.result is not None:
            iterations, seconds = run.result.iterations_run, run.result.seconds
        elif run.latest is not None:
            iterations, seconds = run.latest.iteration, run.latest.elapsed
            remaining = run.latest.total_iterations - iterations
        else:
            self.rate_label.setText("– it/s")
            self.elapsed_label.setText("elapsed 0.0 s")
            return
        rate = iterations / seconds if seconds > 0 else 0.0
        self.rate_label.setText(f"{rate:.1f} it/s")
        text = f"elapsed {seconds:.1f} s"
        if remaining > 0 and rate > 0:
            text += f", ~{duration_text(remaining / rate)} left"
        self.elapsed_label.setText(text)


def duration_text(seconds: float) -> str:
    """A remaining time as a person reads it: 42 s, 3 min 20 s, 1 h 05 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
