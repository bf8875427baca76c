"""Coalesce many change notifications into one redraw, within a CPU budget for the GUI thread.

Snapshots arrive up to 20 times a second and each would otherwise repaint every view;
instead a change only marks the views dirty and one single-shot timer redraws them
once per interval. The timer runs only while something is waiting to be drawn, so an
idle window keeps no timer running.

On a machine with few cores the attack's threads and the GUI thread share them: every
millisecond the GUI thread spends drawing is one an attack thread waits (and Python
drawing code holds the GIL the attack loop needs). The design notes (Performance) allow live updates 5 % of
the headless rate, so a :class:`DrawingBudget` measures the GUI thread's own CPU time
and stretches every refresh interval while drawing takes more than its share.
"""

from __future__ import annotations

import time
from typing import Callable

from PySide6.QtCore import QObject, QTimer, Slot


class DrawingBudget:
    """Keeps the GUI thread's CPU share near ``share`` by stretching refresh intervals.

    The share is measured, not guessed: CPU time of the GUI thread (``time.thread_time``,
    which counts painting, snapshot handling, everything) over wall time, in windows of
    ``window_s``. Over budget, the stretch grows in proportion; well under it, it relaxes
    back towards 1 (the views' own intervals). It never exceeds ``max_stretch``, so the
    views stay live even where fixed costs alone exceed the budget.
    """

    def __init__(self, share: float = 0.03, window_s: float = 1.0, max_stretch: float = 3.0,
                 clock: Callable[[], float] = time.perf_counter,
                 cpu_clock: Callable[[], float] = time.thread_time):
        self.share = share
        self.window_s = window_s
        self.max_stretch = max_stretch
        self.stretch = 1.0
        self.last_share = 0.0
        self._clock, self._cpu_clock = clock, cpu_clock
        self._wall_start, self._cpu_start = clock(), cpu_clock()

    def interval_ms(self, base_ms: int) -> int:
        return round(base_ms * self.stretch)

    def note(self) -> None:
        """Called from the GUI thread at every redraw; adjusts the stretch once per window."""
        wall = self._clock() - self._wall_start
        if wall < self.window_s:
            return
        if wall > 5 * self.window_s:
            # The first redraw in a while (start-up, a new run after idling): what the thread
            # did meanwhile (building the window, loading) was not drawing; measure afresh.
            self._wall_start, self._cpu_start = self._clock(), self._cpu_clock()
            return
        self.last_share = (self._cpu_clock() - self._cpu_start) / wall
        if self.last_share > self.share:
            self.stretch = min(self.max_stretch, self.stretch * min(4.0, self.last_share / self.share))
        elif self.last_share < self.share / 2:
            self.stretch = max(1.0, self.stretch / 1.5)
        self._wall_start, self._cpu_start = self._clock(), self._cpu_clock()


GUI_THREAD_BUDGET = DrawingBudget()
"""The one budget of the GUI thread: every live view draws from the same core."""


class CoalescingRefresh(QObject):
    """Call ``redraw`` at most once per ``interval_ms`` (stretched by ``budget``) after any number
    of ``mark_dirty`` calls."""

    def __init__(self, redraw: Callable[[], None], interval_ms: int = 80, parent: QObject | None = None,
                 budget: DrawingBudget | None = GUI_THREAD_BUDGET):
        super().__init__(parent)
        self._redraw = redraw
        self.interval_ms = interval_ms
        self.budget = budget
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self.redraw_seconds = 0.0  # total time spent drawing, for the overhead measurement
        self.redraw_count = 0

    @Slot()
    def mark_dirty(self) -> None:
        if not self._timer.isActive():
            interval = self.interval_ms if self.budget is None else self.budget.interval_ms(self.interval_ms)
            self._timer.start(interval)

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
        if self.budget is not None:
            self.budget.note()
