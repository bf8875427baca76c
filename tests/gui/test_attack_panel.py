"""The attack panel builds its form from the method table, with tooltips, and gives valid settings."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit, QSpinBox

from segattack_gui.core.attacks import METHODS, create_attack
from segattack_gui.errors import SegAttackError
from segattack_gui.gui.attack_panel import AttackPanel
from segattack_gui.gui.parameter_form import OWN_WIDGETS


@pytest.fixture
def panel(qtbot):
    widget = AttackPanel()
    qtbot.addWidget(widget)
    return widget


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_gets_a_form_with_tooltips_and_valid_defaults(panel, method):
    panel.set_method(method)
    config_type = METHODS[method].config_type
    for field in dataclasses.fields(config_type):
        if field.name in OWN_WIDGETS:
            continue
        editor = panel.parameter_form.editor(field.name)
        tip = editor.toolTip()
        assert field.metadata["help"] in tip and "Default:" in tip, field.name
        if field.metadata.get("choices"):
            assert isinstance(editor, QComboBox)
        elif isinstance(field.default, bool):
            assert isinstance(editor, QCheckBox)
        elif isinstance(field.default, int):
            assert isinstance(editor, QSpinBox)
        else:
            assert isinstance(editor, QLineEdit)
    name, parameters = panel.settings()
    attack = create_attack(name, **parameters)  # the defaults as shown are a valid configuration
    for field in dataclasses.fields(config_type):
        if field.name not in OWN_WIDGETS:
            assert getattr(attack.config, field.name) == pytest.approx(field.default), field.name


def test_tau_reads_in_scientific_notation_and_bad_text_is_named(panel):
    panel.set_method("asma")
    tau = panel.parameter_form.editor("tau")
    assert tau.text() == "1e-07"
    tau.setText("2.5e-7")
    assert panel.settings()[1]["tau"] == pytest.approx(2.5e-7)
    tau.setText("fast")
    with pytest.raises(SegAttackError, match="tau"):
        panel.settings()


def test_epsilon_reads_in_8bit_steps(panel):
    panel.set_method("pgd")
    epsilon = panel.parameter_form.editor("epsilon")
    assert epsilon.text() == "8/255"
    epsilon.setText("4/255")
    assert panel.settings()[1]["epsilon"] == 4 / 255


def test_iterations_and_stop_iou(panel):
    panel.apply_settings("asm", iterations=42, stop_iou=0.9)
    method, parameters = panel.settings()
    assert method == "asm" and parameters["iterations"] == 42 and parameters["stop_iou"] == pytest.approx(0.9)
    panel.apply_settings(stop_iou=None)
    assert panel.settings()[1]["stop_iou"] is None
    assert panel.stop_iou_spin.text() == "off"


def test_typed_values_survive_switching_methods(panel):
    panel.set_method("asma")
    panel.parameter_form.editor("seed").setValue(7)
    panel.set_method("ssm")
    assert panel.parameter_form.editor("seed").value() == 7


def test_buttons_follow_the_attack_state(panel):
    panel.set_readiness(can_run=True, can_export=False)
    assert panel.run_button.isEnabled() and not panel.pause_button.isEnabled()
    panel.set_state("running")
    assert not panel.run_button.isEnabled() and panel.pause_button.isEnabled() and panel.stop_button.isEnabled()
    assert not panel.method_combo.isEnabled()
    panel.set_state("paused")
    assert panel.pause_button.text() == "Resume"
    panel.set_state("idle")
    assert panel.run_button.isEnabled() and panel.pause_button.text() == "Pause"
    assert not panel.export_button.isEnabled()


def test_device_list_holds_the_cpu(panel):
    devices = [panel.device_combo.itemData(index) for index in range(panel.device_combo.count())]
    assert devices[0] == "cpu"


def offered(combo) -> list[str]:
    return [combo.itemData(index) for index in range(combo.count())]


def test_precisions_follow_the_device_and_keep_the_choice_where_they_can(qtbot, monkeypatch):
    from segattack_gui.gui import attack_panel

    by_device = {"cpu": ["fp32", "bf16"], "cuda:0": ["fp32", "tf32", "bf16"]}
    monkeypatch.setattr(attack_panel, "available_devices", lambda: ["cpu", "cuda:0"])
    monkeypatch.setattr(attack_panel, "fast_precisions", lambda device: by_device[device])
    panel = AttackPanel()
    qtbot.addWidget(panel)
    combo = panel.precision_combo
    assert combo.objectName() == "precisionCombo" and offered(combo) == ["fp32", "bf16"] and panel.precision == "fp32"
    panel.set_device("cuda:0")
    assert offered(combo) == ["fp32", "tf32", "bf16"]
    assert all(combo.itemData(index, Qt.ItemDataRole.ToolTipRole) for index in range(combo.count()))
    assert "tf32" in combo.toolTip() and "bf16" in combo.toolTip()
    with qtbot.waitSignal(panel.precisionChanged) as changed:
        panel.set_precision("tf32")
    assert changed.args == ["tf32"]
    with qtbot.waitSignal(panel.deviceChanged), qtbot.assertNotEmitted(panel.precisionChanged):
        panel.set_device("cpu")  # no TF32 on the CPU: back to fp32, announced with the device
    assert panel.precision == "fp32"
    panel.set_precision("bf16")
    panel.set_device("cuda:0")
    assert panel.precision == "bf16"  # offered on both: kept
    panel.set_state("running")
    assert not combo.isEnabled()


def test_the_cpu_offers_bf16_only_where_it_is_native(monkeypatch):
    from segattack_gui.core import models

    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: False)
    assert models.fast_precisions("cpu") == ["fp32"]
    monkeypatch.setattr(models, "cpu_has_native_bf16", lambda: True)
    assert models.fast_precisions("cpu") == ["fp32", "bf16"]


def test_method_list_shows_short_names_and_says_what_they_stand_for(panel):
    combo = panel.method_combo
    shown = [combo.itemText(index) for index in range(combo.count())]
    assert shown == ["ASMA", "ASM", "SSM", "DAG", "PGD", "SegPGD", "CosPGD"]
    panel.set_method("asma")
    assert panel.method_description.text() == "Adaptive mask, dynamic multiplier"
    panel.set_method("dag")
    assert panel.method_description.text() == "Dense adversary generation"
    # Every name fits the combo at the panel's width: nothing clipped.
    metrics = combo.fontMetrics()
    assert max(metrics.horizontalAdvance(text) for text in shown) < combo.sizeHint().width()
