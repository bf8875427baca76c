"""tau "auto" in the window: the parameter form takes the word, and a run records the rule and its values."""

from __future__ import annotations

import json

import pytest

from segattack_gui.core.attacks.step_size import AUTO

from tests.gui.window_fixtures import run_and_wait


def test_the_form_takes_auto_for_tau_and_then_shows_first_step(window):
    panel = window.panel
    panel.set_method("asma")
    form = panel.parameter_form
    form.editor("tau").setText("1e-7")
    assert "first_step" not in form.shown_fields()  # first_step does nothing with a number
    assert "beta" in form.shown_fields()
    form.editor("tau").setText("auto")
    assert "first_step" in form.shown_fields()
    assert "beta" not in form.shown_fields()  # auto sets beta = 10 tau: a typed beta would do nothing
    method, parameters = panel.settings()
    assert parameters["tau"] == AUTO
    form.editor("beta").setText("1e-6")
    form.editor("tau").setText("Auto")  # any case
    assert panel.settings()[1]["tau"] == AUTO


def test_a_window_run_with_tau_auto_records_auto_and_the_values(qtbot, window, tmp_path, capsys):
    from segattack_gui.cli import main

    window.panel.apply_settings(method="asma", tau="auto", first_step=2 / 255)
    result = run_and_wait(qtbot, window, iterations=2)
    assert result.config["tau"] > 0 and result.config["beta"] == pytest.approx(10 * result.config["tau"])
    assert result.history["linf"][1] == pytest.approx(2 / 255, rel=1e-4)  # the rule's promise
    folder = tmp_path / "run"
    with qtbot.waitSignal(window.export_finished, timeout=60_000):
        window.export_results(folder)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["step_size"]["tau"] == "auto"
    assert summary["step_size"]["tau_used"] == summary["config"]["tau"] == result.config["tau"]
    assert main(["rerun", str(folder), "--quiet"]) == 0
    assert "reproduced: identical" in capsys.readouterr().out


def test_opening_another_model_brings_back_the_published_defaults(window, tmp_path):
    from segattack_gui.core.attacks.asma import SegmentationMaskConfig

    window.panel.apply_settings(method="asma", tau="auto", iterations=123)
    window.open_model(window.document.model.path)  # the demo model again: its settings stay
    assert window.panel.settings()[1]["tau"] == AUTO
    other = tmp_path / "other.pt"
    other.write_bytes(window.document.model.path.read_bytes())
    window.open_model(other)
    method, parameters = window.panel.settings()
    defaults = SegmentationMaskConfig()
    assert (parameters["tau"], parameters["beta"]) == (defaults.tau, defaults.beta) == (1e-7, 1e-6)
    assert parameters["iterations"] == defaults.iterations == 2501
