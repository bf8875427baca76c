"""Run slow work (loading models, predicting, exporting) off the GUI thread, the Qt way.

Each job runs in a worker ``QObject`` moved to its own ``QThread``; the thread exists
only while the job runs, so an idle window holds no threads. Results come back
through the worker's signals, connected to slots of :class:`TaskQueue`, a QObject
that lives in the GUI thread (a lambda or ``functools.partial`` would run in the
worker thread with PySide6). Jobs run one at a time in the order submitted, and a
job's inputs are gathered in the GUI thread when it starts, so it sees what the
jobs before it left in the document.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QEventLoop, QObject, Qt, QThread, QTimer, Signal, Slot

log = logging.getLogger(__name__)


def start_in_thread(worker: QObject, name: str, on_finished=None) -> QThread:
    """Move ``worker`` (with a ``run`` slot and a ``finished`` signal) to a new thread and start it.

    Python owns both objects: keep references until the thread has finished (by then every
    signal the worker sent has been delivered), then drop them, never from inside a slot the
    thread's own signal called. No ``deleteLater``: an object deleted by Qt while Python still
    holds it, or deleted twice, crashes the process.
    """
    thread = QThread()
    thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    # Direct: the worker's thread ends its own event loop (quit() is thread-safe), so the thread
    # ends even while the GUI thread is blocked waiting for it.
    worker.finished.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    if on_finished is not None:
        # Connected before start: a job that ends at once must still be seen to end.
        thread.finished.connect(on_finished)
    thread.start()
    return thread


def join_thread(thread: QThread, timeout_s: float | None = None) -> bool:
    """Block until ``thread`` has ended; True if it did within ``timeout_s`` (None: no limit).

    Never ``QThread.wait()`` on a thread that may still run Python: PySide6 keeps the GIL
    during ``wait()``, so a worker that needs it next deadlocks the program. Polling with
    ``time.sleep`` lets the worker take the GIL in between.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while thread.isRunning():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    thread.wait()  # returns at once: the thread has ended (this reaps it)
    return True


def wait_for_thread(thread: QThread, timeout_ms: int) -> bool:
    """Let the event loop run until ``thread`` has finished (its ``finished`` slots included)."""
    if thread.isRunning():
        loop = QEventLoop()
        thread.finished.connect(loop.quit)
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        deadline.start(timeout_ms)
        if thread.isRunning():
            loop.exec()
        deadline.stop()
    return join_thread(thread, timeout_s=0.05)


class JobFailed(Exception):
    """A job raised; carries the exception and its traceback text for the log."""

    def __init__(self, error: BaseException, trace: str):
        super().__init__(str(error))
        self.error = error
        self.trace = trace

    def one_line(self, unexpected: str) -> str:
        """What the user reads: a SegAttackError's own line; any other error as ``unexpected`` with
        ``{error}`` replaced by its type and text, its traceback written to the log."""
        from ..errors import SegAttackError

        if isinstance(self.error, SegAttackError):
            return self.error.one_line()
        line = unexpected.replace("{error}", f"{type(self.error).__name__}: {self.error}")  # a path may hold braces
        log.error("%s\n%s", line, self.trace)
        return line


class _JobWorker(QObject):
    succeeded = Signal(object)
    failed = Signal(object)
    finished = Signal()

    def __init__(self, job: Callable[[], object]):
        super().__init__()
        self._job = job

    @Slot()
    def run(self) -> None:
        try:
            result = self._job()
        except BaseException as error:  # reported to the GUI, which decides what the user sees
            self.failed.emit(JobFailed(error, traceback.format_exc()))
        else:
            self.succeeded.emit(result)
        finally:
            self._job = None
            self.finished.emit()


@dataclass
class _Pending:
    name: str
    prepare: Callable[[], Callable[[], object] | None]
    on_done: Callable[[object], None]
    on_failed: Callable[[JobFailed], None]


class TaskQueue(QObject):
    """Jobs one at a time, each on a short-lived thread; callbacks run in the GUI thread.

    ``prepare`` runs in the GUI thread when the job's turn comes and returns the function
    to run off-thread (or ``None`` to skip the job). ``idle`` is emitted once the queue
    has drained, which is what tests wait for after ``MainWindow.open_*``.
    """

    busyChanged = Signal(bool)
    idle = Signal()

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self._name = name
        self._pending: deque[_Pending] = deque()
        self._current: _Pending | None = None
        self._thread: QThread | None = None
        self._worker: _JobWorker | None = None
        self._closing = False
        self._holds = 0
        self._retired: tuple | None = None

    @property
    def busy(self) -> bool:
        return self._current is not None or bool(self._pending) or self._holds > 0

    def submit(self, name: str, prepare, on_done, on_failed, *, first: bool = False) -> None:
        """Queue a job (``first``: ahead of the others, e.g. the second step of a job just done)."""
        if self._closing:
            return
        was_busy = self.busy
        pending = _Pending(name, prepare, on_done, on_failed)
        if first:
            self._pending.appendleft(pending)
        else:
            self._pending.append(pending)
        if not was_busy:
            self.busyChanged.emit(True)
        self._start_next()

    @contextmanager
    def held(self):
        """Start no job inside this block (a dialog's event loop must not let the next job overtake)."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1
            self._start_next()

    @Slot()
    def _start_next(self) -> None:
        if self._holds:
            return
        while self._current is None and self._pending and not self._closing:
            pending = self._pending.popleft()
            try:
                job = pending.prepare()
            except BaseException as error:
                pending.on_failed(JobFailed(error, traceback.format_exc()))
                continue
            if job is None:
                continue
            self._current = pending
            self._worker = _JobWorker(job)
            self._worker.succeeded.connect(self._on_succeeded)
            self._worker.failed.connect(self._on_failed)
            self._thread = start_in_thread(self._worker, f"{self._name}: {pending.name}", self._on_thread_finished)
            return
        if self._current is None and not self._pending:
            self.busyChanged.emit(False)
            self.idle.emit()

    @Slot(object)
    def _on_succeeded(self, result) -> None:
        if self._current is not None and not self._closing:
            self._current.on_done(result)

    @Slot(object)
    def _on_failed(self, failure: JobFailed) -> None:
        if self._current is not None and not self._closing:
            self._current.on_failed(failure)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._thread
        if thread is not None:
            join_thread(thread)
            # Kept until the next job ends: it must not be destroyed inside its own signal's slot.
            self._retired = (thread, self._worker)
        self._thread = None
        self._worker = None
        self._current = None
        if not self._closing:
            self._start_next()

    def shutdown(self, timeout_ms: int = 5000) -> None:
        """Drop pending jobs and wait for the running one (jobs cannot be interrupted)."""
        self._closing = True
        self._pending.clear()
        if self._thread is not None:
            thread = self._thread
            if not wait_for_thread(thread, timeout_ms):
                log.warning("%s: a background job is still running at exit", self._name)
                join_thread(thread)
            self._on_thread_finished()
