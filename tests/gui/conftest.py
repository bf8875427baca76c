"""Fixtures for Qt tests: a shown canvas, real mouse input, and a guard against leaked threads and timers.

A QThread still running when Python tears down aborts the whole process after
every test passed, and a live QTimer fires into the next test; so, as napari
does, any test that leaves one behind fails in its teardown.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt, QThread, QThreadPool, QTimer
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

# The main window's fixtures, for every GUI test module (the helpers are imported where used).
from tests.gui.window_fixtures import (
    bf16_offered,
    demo_root,
    errors,
    isolated_settings,
    window,
)

__all__ = ["bf16_offered", "demo_root", "errors", "isolated_settings", "window"]

# --- leak guard --------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fail_on_leaked_threads_and_timers(monkeypatch):
    """Record QThreads and QTimers started from Python during the test; fail if any still runs."""
    threads: list[QThread] = []
    timers: list[QTimer] = []
    pending_single_shots = [0]

    start_thread = QThread.start
    start_timer = QTimer.start
    single_shot = QTimer.singleShot

    def recording_thread_start(self, *args, **kwargs):
        threads.append(self)
        return start_thread(self, *args, **kwargs)

    def recording_timer_start(self, *args, **kwargs):
        timers.append(self)
        return start_timer(self, *args, **kwargs)

    def counting_single_shot(*args, **kwargs):
        callback = args[-1] if args and callable(args[-1]) and len(args) == 2 else None
        if callback is None:
            return single_shot(*args, **kwargs)
        pending_single_shots[0] += 1

        def fire():
            pending_single_shots[0] -= 1
            callback()

        return single_shot(args[0], fire)

    monkeypatch.setattr(QThread, "start", recording_thread_start)
    monkeypatch.setattr(QTimer, "start", recording_timer_start)
    monkeypatch.setattr(QTimer, "singleShot", staticmethod(counting_single_shot))
    yield

    app = QApplication.instance()
    if app is None:
        return
    # Widgets closed by qtbot are deleted later: let that happen before judging.
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    problems = []
    for thread in threads:
        try:
            running = thread.isRunning()
        except RuntimeError:  # the C++ object is gone, so the thread is too
            continue
        if running:
            problems.append(f"QThread {thread!r} still running")
            thread.quit()
            thread.wait(2000)
    for timer in timers:
        try:
            active = timer.isActive()
        except RuntimeError:
            continue
        if active:
            problems.append(f"QTimer {timer.objectName() or timer!r} still active")
            timer.stop()
    if pending_single_shots[0]:
        problems.append(f"{pending_single_shots[0]} QTimer.singleShot callback(s) still pending")
    pool = QThreadPool.globalInstance()
    if pool.activeThreadCount():
        problems.append(f"{pool.activeThreadCount()} QThreadPool task(s) still running")
        pool.waitForDone(2000)
    if problems:
        pytest.fail("test left Qt work running: " + "; ".join(problems), pytrace=False)


# --- a canvas with a synthetic image -----------------------------------------------------------

CLASS_NAMES = ["background", "vessel", "disc"]
CLASS_COLOURS = [(0, 0, 0), (230, 60, 60), (60, 200, 90)]
IMAGE_SIZE = 64


def synthetic_image(size: int = IMAGE_SIZE) -> np.ndarray:
    """A smooth RGB gradient with a bright disc: enough structure to see the overlay on."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    disc = ((ys - 0.4) ** 2 + (xs - 0.6) ** 2 < 0.04).astype(np.float32)
    return np.stack([0.3 + 0.5 * xs + 0.2 * disc, 0.2 + 0.3 * ys + 0.3 * disc, 0.25 + 0.1 * disc], axis=2)


@pytest.fixture
def canvas(qtbot):
    from segattack_gui.gui.canvas.mask_canvas import MaskCanvas

    view = MaskCanvas()
    qtbot.addWidget(view)
    view.resize(420, 420)
    view.set_image(synthetic_image())
    view.set_classes(CLASS_NAMES, CLASS_COLOURS)
    view.show()
    qtbot.waitExposed(view)
    view.zoom_to_fit()
    return view


class CanvasMouse:
    """Real QMouseEvents on the canvas viewport, addressed in image pixels (x = column, y = row)."""

    def __init__(self, canvas):
        self.canvas = canvas

    def at(self, x: float, y: float) -> QPointF:
        """Viewport position of the centre of image pixel (x, y)."""
        return QPointF(self.canvas.mapFromScene(QPointF(x + 0.5, y + 0.5)))

    def send(self, kind: QEvent.Type, pos: QPointF, button, buttons, modifiers=Qt.KeyboardModifier.NoModifier):
        viewport = self.canvas.viewport()
        global_pos = QPointF(viewport.mapToGlobal(pos.toPoint()))
        event = QMouseEvent(kind, pos, global_pos, button, buttons, modifiers)
        QApplication.sendEvent(viewport, event)

    def drag(self, points, button=Qt.MouseButton.LeftButton, steps: int = 1):
        """Press at the first point, move through the others (``steps`` moves per leg), release at the last."""
        positions = [self.at(x, y) for x, y in points]
        self.send(QEvent.Type.MouseButtonPress, positions[0], button, button)
        previous = positions[0]
        for position in positions[1:]:
            for step in range(1, steps + 1):
                waypoint = previous + (position - previous) * (step / steps)
                self.send(QEvent.Type.MouseMove, waypoint, Qt.MouseButton.NoButton, button)
            previous = position
        self.send(QEvent.Type.MouseButtonRelease, positions[-1], button, Qt.MouseButton.NoButton)

    def click(self, x, y, button=Qt.MouseButton.LeftButton):
        self.drag([(x, y)], button)

    def double_click(self, x, y, button=Qt.MouseButton.LeftButton):
        """What Qt delivers for a quick double click: press, release, double-click, release."""
        pos = self.at(x, y)
        self.send(QEvent.Type.MouseButtonPress, pos, button, button)
        self.send(QEvent.Type.MouseButtonRelease, pos, button, Qt.MouseButton.NoButton)
        self.send(QEvent.Type.MouseButtonDblClick, pos, button, button)
        self.send(QEvent.Type.MouseButtonRelease, pos, button, Qt.MouseButton.NoButton)

    def hover(self, x, y):
        self.send(QEvent.Type.MouseMove, self.at(x, y), Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)

    def wheel(self, x, y, notches: int):
        """Scroll the wheel over image pixel (x, y): positive notches zoom in."""
        viewport = self.canvas.viewport()
        pos = self.at(x, y)
        event = QWheelEvent(
            pos,
            QPointF(viewport.mapToGlobal(pos.toPoint())),
            QPointF(0, 0).toPoint(),
            QPointF(0, 120 * notches).toPoint(),
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(viewport, event)


@pytest.fixture
def mouse(canvas):
    return CanvasMouse(canvas)
