"""Run one attack on a worker thread and hand its snapshots to the GUI thread.

:class:`AttackWorker` calls the core runner (``run_attack``) and turns its plain
callback into Qt signals; it knows nothing of widgets. :class:`AttackSession` lives in
the GUI thread, owns the thread and the :class:`AttackControl` flags (pause, resume and
stop are flags the runner polls each iteration), and re-emits what arrives. The runner
throttles snapshots to one per ``LIVE_SNAPSHOT_INTERVAL`` (10 per second), and every array
in a snapshot is already a copy, so the GUI may keep them. The worker reduces each to the
live views' display grid (``display_grid``) before it leaves the attack's thread.

Out of memory on the GPU restarts the run on the CPU (``core.fallback``, the CLI's rule),
announced on ``restarted``; the adapter it ends on comes back on ``adapterMoved``. A model
failing mid-run still hands over the partial result (``interrupted``).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import numpy as np
import torch
from PySide6.QtCore import QObject, QThread, Signal, Slot

from ...allocator import release_freed_memory
from ...core.attacks import Attack
from ...core.fallback import run_with_fallback
from ...core.models import ModelAdapter, ModelOutputError, OutputGrid
from ...core.results import AttackResult, Snapshot
from ...core.runner import (
    LIVE_SNAPSHOT_INTERVAL,
    AttackControl,
    AttackInterrupted,
    run_attack,
)
from ...errors import SegAttackError
from ...workspace.display_grid import DisplayGrid
from ...core.attacks.step_size import with_auto_step
from ..background import join_thread, start_in_thread, wait_for_thread

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttackJob:
    """Everything one run needs, gathered in the GUI thread before the thread starts."""

    adapter: ModelAdapter
    image: np.ndarray  # H x W x C float32 in [0, 1]
    target: np.ndarray  # H x W class ids
    attack: Attack
    display: DisplayGrid  # the live views' grid: every snapshot is reduced to it before it leaves
    output_grid: OutputGrid  # where the model's prediction lies in the image
    region: np.ndarray | None = None
    auto_parameters: dict | None = None  # tau "auto": the panel's parameters, resolved on the attack thread


class _Abandoned(Exception):
    """Raised from the snapshot callback to leave the runner at once when the window closes."""


class AttackWorker(QObject):
    """Lives on the attack thread; ``run`` returns when the attack ends.

    ``abandon()`` (from the GUI thread) stops the run and skips the final scoring the
    runner would do for a result nobody will read, so closing the window is quick.
    """

    snapshotReady = Signal(object)
    succeeded = Signal(object)
    interrupted = Signal(object, str)  # the partial AttackResult (or None) and why
    failed = Signal(str)
    restarted = Signal(str)  # out of memory: the run starts again (on the CPU); the message says why
    adapterMoved = Signal(object)  # the ModelAdapter the run ended on, when it is not the one given
    finished = Signal()

    def __init__(self, job: AttackJob, control: AttackControl):
        super().__init__()
        self._job = job
        self._control = control
        self._abandoned = threading.Event()

    def abandon(self) -> None:
        self._abandoned.set()
        self._control.stop()

    @Slot()
    def run(self) -> None:
        job = self._job
        try:
            # Grad mode is per thread: the runner needs input gradients, whatever the GUI thread set.
            torch.set_grad_enabled(True)
            (result,), adapter = run_with_fallback(self._attack_once, job.adapter, [job],
                                                  on_message=self._forward_restart)
            if adapter is not job.adapter:
                self.adapterMoved.emit(adapter)
        except _Abandoned:
            pass
        except AttackInterrupted as error:
            self.interrupted.emit(error.result, str(error))
        except SegAttackError as error:
            self.failed.emit(error.one_line())
        except (ModelOutputError, ValueError) as error:
            log.info("the attack could not start", exc_info=True)  # the traceback, should it be a bug
            self.failed.emit(f"the attack cannot start: {error}")
        except Exception as error:  # a bug: log the traceback, tell the user in one line
            log.exception("attack failed")
            self.failed.emit(f"internal error in the attack ({type(error).__name__}: {error}); see the log")
        else:
            self.succeeded.emit(result)
        finally:
            self._job = None
            release_freed_memory()  # the run's working memory need not stay with an idle window
            self.finished.emit()

    def _attack_once(self, adapter: ModelAdapter, jobs: list[AttackJob]) -> list[AttackResult]:
        """One attempt; out of memory makes ``run_with_fallback`` call it again on the CPU."""
        job = jobs[0]
        attack, step_rule = job.attack, None
        if job.auto_parameters is not None:  # one forward and backward: never on the GUI thread
            attack, step_rule = with_auto_step(adapter, attack, job.auto_parameters, job.image, job.target,
                                               job.region)
        result = run_attack(adapter, job.image, job.target, attack, region=job.region,
                            on_snapshot=self._forward_snapshot, snapshot_interval=LIVE_SNAPSHOT_INTERVAL,
                            control=self._control)
        if step_rule is not None:  # summary.json records "auto" beside the values it gave
            result.extra["step_size"] = step_rule.record()
        return [result]

    def _forward_restart(self, message: str) -> None:
        self.restarted.emit(message)

    def _forward_snapshot(self, snapshot: Snapshot) -> None:
        if self._abandoned.is_set():
            raise _Abandoned
        # Reduced here, so the GUI thread never handles full-size frames.
        job = self._job  # set for as long as the run, the only caller, lasts
        self.snapshotReady.emit(job.display.snapshot(snapshot, job.output_grid))


class AttackSession(QObject):
    """The GUI thread's handle on at most one running attack."""

    started = Signal()
    snapshotReady = Signal(object)
    succeeded = Signal(object)
    interrupted = Signal(object, str)
    failed = Signal(str)
    restarted = Signal(str)
    adapterMoved = Signal(object)
    stateChanged = Signal(str)  # "running", "paused", "stopping", "idle"
    ended = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: AttackWorker | None = None
        self._control: AttackControl | None = None
        self._state = "idle"
        self._discard_results = False
        self._retired: tuple | None = None
        self.started_at = 0.0

    @property
    def state(self) -> str:
        return self._state

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def thread(self) -> QThread | None:
        return self._thread

    def start(self, job: AttackJob) -> None:
        if self.running:
            raise RuntimeError("an attack is already running")
        self._control = AttackControl()
        self._discard_results = False
        self._worker = AttackWorker(job, self._control)
        self._worker.snapshotReady.connect(self._on_snapshot)
        self._worker.succeeded.connect(self._on_succeeded)
        self._worker.interrupted.connect(self._on_interrupted)
        self._worker.failed.connect(self._on_failed)
        self._worker.restarted.connect(self._on_restarted)
        self._worker.adapterMoved.connect(self._on_adapter_moved)
        self.started_at = time.perf_counter()
        self._thread = start_in_thread(self._worker, "attack", self._on_thread_finished)
        self._set_state("running")
        self.started.emit()

    def pause(self) -> None:
        if self._control is not None and self._state == "running":
            self._control.pause()
            self._set_state("paused")

    def resume(self) -> None:
        if self._control is not None and self._state == "paused":
            self._control.resume()
            self._set_state("running")

    def stop(self) -> None:
        if self._control is not None and self._state in ("running", "paused"):
            self._control.stop()
            self._set_state("stopping")

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop for good (the window is closing): results are dropped; True when the thread ended in time."""
        if self._thread is None:
            return True
        self._discard_results = True
        if self._worker is not None:
            try:
                self._worker.abandon()
            except RuntimeError:  # the worker is already gone: the thread is ending anyway
                pass
        thread = self._thread
        ended = wait_for_thread(thread, timeout_ms)
        if not ended:
            log.warning("the attack thread did not stop within %d ms; waiting for it", timeout_ms)
            join_thread(thread)
        self._on_thread_finished()
        return ended

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    @Slot(object)
    def _on_snapshot(self, snapshot: Snapshot) -> None:
        if not self._discard_results:
            self.snapshotReady.emit(snapshot)

    @Slot(object)
    def _on_succeeded(self, result: AttackResult) -> None:
        if not self._discard_results:
            self.succeeded.emit(result)

    @Slot(object, str)
    def _on_interrupted(self, result, message: str) -> None:
        if not self._discard_results:
            self.interrupted.emit(result, message)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if not self._discard_results:
            self.failed.emit(message)

    @Slot(str)
    def _on_restarted(self, message: str) -> None:
        if not self._discard_results:
            self.restarted.emit(message)

    @Slot(object)
    def _on_adapter_moved(self, adapter) -> None:
        self.adapterMoved.emit(adapter)  # even when closing: the document must not keep a moved adapter

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self._thread
        if thread is None:
            return
        join_thread(thread)
        # Kept until the next run ends: it must not be destroyed inside its own signal's slot.
        self._retired = (thread, self._worker)
        self._thread = None
        self._worker = None
        self._control = None
        self._set_state("idle")
        self.ended.emit()
