"""When the attack itself fails: out of GPU memory (retry on the CPU) and a model failing mid-run."""

from __future__ import annotations

import numpy as np

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.runner import AttackInterrupted, run_attack
from segattack_gui.gui.run import attack_worker
from tests.gui.window_fixtures import run_and_wait, wait_until_idle


def test_out_of_memory_restarts_on_the_cpu_with_a_message(qtbot, window, errors, monkeypatch):
    calls = []

    def run_attack_running_out_once(adapter, *args, **kwargs):
        calls.append(adapter)
        if len(calls) == 1:
            kwargs["on_snapshot"](_fake_snapshot(window))  # the GUI has seen part of the failed attempt
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return run_attack(adapter, *args, **kwargs)

    monkeypatch.setattr(attack_worker, "run_attack", run_attack_running_out_once)
    original_adapter = window.document.model.adapter
    result = run_and_wait(qtbot, window, iterations=2)
    assert result is not None and result.iterations_run == 2 and len(calls) == 2
    assert any("out of memory" in message and "CPU" in message for message in errors.messages)
    assert window.document.model.adapter is calls[1] and calls[1] is not original_adapter
    assert window.panel.device == "cpu"
    iterations = [window.document.run.store.iteration_at(i) for i in range(len(window.document.run.store))]
    assert iterations == sorted(iterations) and iterations[-1] == 2  # the failed attempt's frames were dropped


def test_after_out_of_memory_the_panel_shows_the_model_where_it_went(bf16_offered, qtbot, window, monkeypatch):
    """bf16 on a CPU without native bf16 falls back to fp32; the panel follows without moving the model again."""
    from segattack_gui.core import models

    window.panel.set_precision("bf16")
    qtbot.waitUntil(lambda: window.document.model.adapter.precision == "bf16", timeout=60_000)
    wait_until_idle(qtbot, window)
    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: False)
    calls = []

    def run_attack_running_out_once(adapter, *args, **kwargs):
        calls.append(adapter)
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return run_attack(adapter, *args, **kwargs)

    monkeypatch.setattr(attack_worker, "run_attack", run_attack_running_out_once)
    result = run_and_wait(qtbot, window, iterations=2)
    wait_until_idle(qtbot, window)
    assert result.precision == "fp32" and calls[1].precision == "fp32"
    assert window.panel.precision == "fp32" and window.panel.device == "cpu"
    assert window.document.model.adapter is calls[1]  # no second move was asked for


def _fake_snapshot(window):
    from segattack_gui.core.results import Snapshot

    image = window.document.image.pixels
    history = {name: np.zeros(8) for name in ("iou", "pixel_accuracy", "dice", "l2", "linf", "loss",
                                               "multiplier", "seconds")}
    history["iteration"] = np.arange(8)
    return Snapshot(7, 2, image.copy(), np.zeros(image.shape[:2], np.uint8), history, 0.1)


def test_a_model_failing_mid_run_keeps_the_partial_result(qtbot, window, errors, monkeypatch, tmp_path):
    document = window.document
    partial = run_attack(document.model.adapter, document.image.pixels, window.target_mask(),
                         create_attack("asma", iterations=2))

    def failing_run_attack(*args, **kwargs):
        raise AttackInterrupted(3, RuntimeError("shape mismatch in layer 7"), [partial])

    monkeypatch.setattr(attack_worker, "run_attack", failing_run_attack)
    result = run_and_wait(qtbot, window, iterations=10)
    assert result is partial
    assert errors.messages and "iteration 3" in errors.messages[-1] and "partial result" in errors.messages[-1]
    assert window.panel.export_button.isEnabled()
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(tmp_path / "partial")
    assert (tmp_path / "partial" / "summary.json").is_file()
