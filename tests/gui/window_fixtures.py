"""Fixtures for main-window tests: isolated QSettings, the demo files, a loaded window.

``tests/gui/conftest.py`` imports the fixtures for every GUI test; modules import the helpers.
The demo is the shipped one when ``resources/`` holds it, else a quick, untrained demo
built once per session in a temporary folder (same files, same layout).
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QCoreApplication, QObject, QSettings, QTimer, Slot

from segattack_gui.assets import resource_root
from segattack_gui.demo import DEMOS

LOAD_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    shipped = resource_root()
    if all(DEMOS["fundus"].path(field, shipped).exists() for field in ("model", "sidecar", "image", "target")):
        return shipped
    from segattack_gui.demo import train_demo_models

    root = tmp_path_factory.mktemp("demo")
    train_demo_models(root, which=("fundus",), quick=True, num_threads=1)
    return root


@pytest.fixture
def isolated_settings(tmp_path):
    """QSettings in ``tmp_path`` (labelme does the same), so recent files never leak between tests."""
    QCoreApplication.setOrganizationName("SegAttackTests")
    QCoreApplication.setApplicationName("SegAttackTests")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    QSettings().clear()
    yield tmp_path / "settings"
    QSettings().clear()


class ErrorLog:
    """Records what the window would show in its error dialog."""

    def __init__(self):
        self.messages: list[str] = []

    def __call__(self, message: str) -> None:
        self.messages.append(message)


@pytest.fixture
def errors():
    return ErrorLog()


class UnsavedMasksQuestion:
    """Answers the "save the painted masks?" question (``discard`` unless told) and records which
    layers it was asked about (``asked``) and before which action (``actions``)."""

    def __init__(self, answer: str = "discard"):
        self.answer = answer
        self.asked: list[list[str]] = []
        self.actions: list[str] = []

    def __call__(self, layers: list[str], action: str = "") -> str:
        self.asked.append(list(layers))
        self.actions.append(action)
        return self.answer


def record_dialogs(window, monkeypatch, errors) -> None:
    """Dialogs a test must not block on are recorded: errors in ``errors``, the unsaved-masks
    question in ``window.unsaved_question`` (answer ``discard``; a test may change it)."""
    monkeypatch.setattr(window, "show_error", errors)
    window.unsaved_question = UnsavedMasksQuestion()
    monkeypatch.setattr(window.mask_files, "ask_unsaved", window.unsaved_question)


def wait_until_idle(qtbot, window, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
    qtbot.waitUntil(lambda: not window.busy, timeout=timeout_ms)


@pytest.fixture
def bf16_offered(monkeypatch):
    """bf16 in the panel's precision list whatever this CPU is (emulated bf16 is slow, not wrong).

    Ask for it before ``window``: the panel reads the list when it is built.
    """
    from segattack_gui.gui.run import attack_panel

    monkeypatch.setattr(attack_panel, "fast_precisions", lambda device: ["fp32", "bf16"])


@pytest.fixture
def window(qtbot, isolated_settings, demo_root, errors, monkeypatch, tmp_path):
    """The main window on the fundus demo, loaded, shown, with dialogs recorded instead of shown."""
    from segattack_gui.gui.main_window import MainWindow

    started = time.perf_counter()
    window = MainWindow(demo="fundus", demo_root=demo_root, autosave_folder=tmp_path / "autosave")
    record_dialogs(window, monkeypatch, errors)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    wait_until_idle(qtbot, window)
    window.load_seconds = time.perf_counter() - started
    return window


def run_and_wait(qtbot, window, iterations: int = 3, timeout_ms: int = 120_000):
    """Start an attack of a few iterations and return its AttackResult."""
    window.panel.apply_settings(iterations=iterations)
    with qtbot.waitSignal(window.attack_finished, timeout=timeout_ms) as finished:
        assert window.start_attack()
    return finished.args[0]


class GapMeter(QObject):
    """A 10 ms timer in the GUI thread; the worst gap between its ticks is the event loop's worst stall.

    It also records the GUI thread's own CPU time within each gap: the part of a stall that our code
    caused, as opposed to the scheduler giving the core to the attack's threads.
    """

    def __init__(self):
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setInterval(10)
        self.timer.timeout.connect(self.tick)
        self.last = self.last_cpu = None
        self.gaps = []
        self.busy = []

    def start(self):
        self.last, self.last_cpu = time.perf_counter(), time.thread_time()
        self.timer.start()

    @Slot()
    def tick(self):
        now, cpu = time.perf_counter(), time.thread_time()
        self.gaps.append(now - self.last)
        self.busy.append(cpu - self.last_cpu)
        self.last, self.last_cpu = now, cpu

    def stop(self):
        self.timer.stop()
