"""The attack panel builds its form from the method table, with tooltips, and gives valid settings."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from segattack_gui.core.attacks import METHODS, create_attack
from segattack_gui.errors import SegAttackError
from segattack_gui.gui.run.attack_panel import AttackPanel
from segattack_gui.gui.run.parameter_form import OWN_WIDGETS, format_value, parse_number


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
    from segattack_gui.gui.run import attack_panel

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
    assert shown == ["ASMA", "ASM", "SSM", "DAG", "PGD", "SegPGD", "CosPGD", "ALMA prox", "PDPGD"]
    panel.set_method("asma")
    assert panel.method_description.text() == "Adaptive mask, dynamic multiplier"
    panel.set_method("dag")
    assert panel.method_description.text() == "Dense adversary generation"
    # Every name fits the combo at the panel's width: nothing clipped.
    metrics = combo.fontMetrics()
    assert max(metrics.horizontalAdvance(text) for text in shown) < combo.sizeHint().width()


# Fields that have no effect with a method's default settings (no random start, quantize off, norm linf).
HIDDEN_BY_DEFAULT = {
    "asma": {"first_step", "quantize_fraction", "seed"},  # first_step: only with tau auto
    "asm": {"beta", "first_step", "quantize_fraction", "seed"},
    "ssm": {"beta", "first_step", "quantize_fraction", "seed"},
    "dag": {"quantize_fraction", "seed"},
    "pgd": {"l2_epsilon", "l2_alpha", "quantize_fraction", "seed"},
    "segpgd": {"l2_epsilon", "l2_alpha", "quantize_fraction", "seed"},
    "cospgd": {"l2_epsilon", "l2_alpha", "quantize_fraction", "seed"},
    "alma_prox": {"quantize_fraction", "seed"},
    "pdpgd": {"quantize_fraction", "seed"},
}


@pytest.mark.parametrize("method", list(METHODS))
def test_fields_without_effect_are_hidden_but_still_recorded(panel, method):
    panel.set_method(method)
    form = panel.parameter_form
    every_field = {f.name for f in dataclasses.fields(METHODS[method].config_type)} - set(OWN_WIDGETS)
    assert set(form.shown_fields()) == every_field - HIDDEN_BY_DEFAULT[method]
    for name in HIDDEN_BY_DEFAULT[method]:  # label and editor both off screen
        label = form.layout().labelForField(form.editor(name))
        assert not form.editor(name).isVisibleTo(form) and not label.isVisibleTo(form), name
    assert set(panel.settings()[1]) >= every_field  # the run still records every parameter


@pytest.mark.parametrize("method", ["pgd", "segpgd", "cospgd"])
def test_the_norm_combo_shows_the_radius_and_step_of_its_norm(panel, method):
    panel.set_method(method)
    form = panel.parameter_form
    form.editor("norm").setCurrentText("l2")  # as the user picks it: the rows follow at once
    shown = form.shown_fields()
    assert {"l2_epsilon", "l2_alpha"} <= set(shown) and not {"epsilon", "alpha"} & set(shown)
    panel.apply_settings(epsilon=4 / 255, alpha=0.5 / 255)  # hidden fields can still be set
    assert form.editor("epsilon").text() == "4/255"
    parameters = panel.settings()[1]
    assert parameters["epsilon"] == 4 / 255 and parameters["alpha"] == 0.5 / 255 and parameters["norm"] == "l2"
    form.editor("random_start").setChecked(True)
    assert "seed" in form.shown_fields()  # the seed matters once there is a random start
    form.editor("norm").setCurrentText("linf")
    assert {"epsilon", "alpha"} <= set(form.shown_fields()) and "l2_epsilon" not in form.shown_fields()


def test_quantize_fraction_shows_with_quantize(panel):
    panel.set_method("asma")
    panel.parameter_form.editor("quantize").setChecked(True)
    assert "quantize_fraction" in panel.parameter_form.shown_fields()


def test_bad_text_in_a_hidden_field_does_not_block_a_run(panel):
    panel.set_method("pgd")
    form = panel.parameter_form
    form.editor("epsilon").setText("wide")
    form.editor("norm").setCurrentText("l2")
    assert panel.settings()[1]["epsilon"] == 8 / 255  # no effect under l2: its default is recorded
    form.editor("norm").setCurrentText("linf")
    with pytest.raises(SegAttackError, match="epsilon"):
        panel.settings()


def test_seed_help_is_true_where_it_shows(panel):
    panel.set_method("pgd")
    panel.apply_settings(random_start=True)
    tip = panel.parameter_form.editor("seed").toolTip()
    assert "random start" in tip and "random_start" in tip


def test_dag_gamma_reads_as_half_an_8bit_step(panel):
    panel.set_method("dag")
    gamma = panel.parameter_form.editor("gamma")
    assert gamma.text() == "0.5/255" and "Default: 0.5/255." in gamma.toolTip()
    assert panel.settings()[1]["gamma"] == 0.5 / 255  # exactly the default, not a near miss


@pytest.mark.parametrize("value, text", [
    (0.5 / 255, "0.5/255"), (2.5 / 255, "2.5/255"), (8 / 255, "8/255"), (1e-7, "1e-07"), (0.375, "0.375"),
    (3.0, "3"), (0.123456789, "0.123456789"), (0.1 + 0.2, "0.30000000000000004"),
])
def test_format_value_is_readable_and_exact(value, text):
    assert format_value(value) == text
    assert parse_number(text, float) == value


def test_stop_iou_tooltip_says_once_what_off_means(panel):
    for method in METHODS:
        panel.set_method(method)
        tip = panel.stop_iou_spin.toolTip()
        assert "'off' (0): run every iteration." in tip and tip.endswith("Default: off."), method
        assert "empty" not in tip and tip.count("every iteration") == 1, method


def test_pause_and_resume_tooltips_name_the_real_shortcut(panel):
    panel.set_state("running")
    assert "Ctrl+Shift+P" in panel.pause_button.toolTip() and "Space" not in panel.pause_button.toolTip()
    panel.set_state("paused")
    assert "Ctrl+Shift+P" in panel.pause_button.toolTip() and "Continue" in panel.pause_button.toolTip()


def test_the_panel_widens_with_a_page_that_grows(qtbot, panel):
    panel.show()
    qtbot.waitExposed(panel)
    section = QLabel("short")
    panel.add_settings_section(section)
    section.setText("a value that is much wider than the panel was when it was built, " * 2)
    needed = section.minimumSizeHint().width()
    qtbot.waitUntil(lambda: panel.minimumSizeHint().width() > needed, timeout=2_000)


CHECKED_TYPES = (QLabel, QLineEdit, QAbstractSpinBox, QComboBox, QCheckBox, QPushButton, QGroupBox)


def clipped_widgets(scroll_area) -> list[str]:
    """Widgets shown on a page that stick out past the visible width or are squeezed below their minimum."""
    viewport = scroll_area.viewport()
    clipped = []
    for widget in scroll_area.widget().findChildren(QWidget):
        if not isinstance(widget, CHECKED_TYPES) or not widget.isVisible():
            continue
        right = widget.mapTo(viewport, QPoint(widget.width(), 0)).x()
        if right > viewport.width() or widget.width() < widget.minimumSizeHint().width():
            clipped.append(f"{type(widget).__name__} {widget.objectName()!r} {getattr(widget, 'text', str)()!r}")
    return clipped


@pytest.mark.parametrize("size", [(1280, 800), (1440, 900)])
def test_the_controls_dock_clips_nothing_after_a_run(qtbot, window, size):
    window.resize(*size)
    panel, summary = window.panel, window.run_summary
    panel.apply_settings(iterations=2)
    with qtbot.waitSignal(window.attack_finished, timeout=120_000):
        assert window.start_attack()
        running = [label.text() for label in summary.values.values()]
        pause = next(a for a in window.findChildren(QAction) if a.text() == "&Pause / resume")
        assert pause.shortcut().toString() in panel.pause_button.toolTip()
    assert running.count("running…") == 1 and summary.values["ended"].text() != "running…"
    caption = summary.findChild(QLabel, "summaryCaption")
    assert caption is not None and caption.isVisible() and caption.text() == "float / 8-bit PNG"
    for method in ("asma", "dag", "pgd"):
        panel.set_method(method)
        for page in range(panel.pages.count()):
            panel.pages.setCurrentIndex(page)
            qtbot.wait(50)  # let the layouts settle
            assert clipped_widgets(panel.pages.widget(page)) == [], (method, panel.pages.tabText(page))
        panel.pages.setCurrentIndex(0)
    assert window.panel_dock.width() <= 330


@pytest.mark.parametrize("method", list(METHODS))
def test_defaults_gives_back_each_methods_published_settings(qtbot, panel, method):
    panel.set_method(method)
    expected = create_attack(method).config.as_dict()
    panel.apply_settings(iterations=7, stop_iou=0.5, tau=3e-3, beta=4e-2, epsilon=0.2, seed=9)
    qtbot.mouseClick(panel.defaults_button, Qt.MouseButton.LeftButton)
    chosen, parameters = panel.settings()
    assert chosen == method and parameters == expected
    assert f"iterations {expected['iterations']}" in panel.defaults_button.toolTip()  # this method's own
