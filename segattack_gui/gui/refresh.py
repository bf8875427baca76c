"""Coalesce many change notifications into one redraw.

Snapshots arrive up to 20 times a second and each would otherwise repaint every view;
instead a change only marks the views dirty and one single-shot timer redraws them
once per ``interval_ms``. The timer runs only while something is waiting to be drawn,
so an idle window keeps no timer running.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Slot


class CoalescingRefresh(QObject):
    """Call ``redraw`` at most once per ``interval_ms`` after any number of ``mark_dirty`` calls."""

    def __init__(self, redraw: Callable[[], None], interval_ms: int = 80, parent: QObject | None = None):
        super().__init__(parent)
        self._redraw = redraw
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._fire)
        self.redraw_seconds = 0.0  # total time spent drawing, for the overhead measurement
        self.redraw_count = 0

    @Slot()
    def mark_dirty(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Draw now if something is waiting (tests, screenshots, the end of a run)."""
        if self._timer.isActive():
            self._timer.stop()
            self._fire()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def _fire(self) -> None:
        started = time.perf_counter()
        self._redraw()
        self.redraw_seconds += time.perf_counter() - started
        self.redraw_count += 1
