"""The attack panel: method, its parameters, iterations, stop IoU, device, precision; Run, Pause, Stop, Export.

The panel only collects settings and asks for actions through its signals; the main
window starts the run. Methods come from ``core.attacks.METHODS``, the same table the
CLI reads, so both front ends list the same attacks.
"""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.attacks import METHOD_TITLES, METHODS
from ...core.models import available_devices, fast_precisions
from ..actions import PAUSE_SHORTCUT, RUN_SHORTCUT
from .parameter_form import ParameterForm, format_value, tooltip

PRECISION_DESCRIPTIONS = {
    "fp32": "Strict 32-bit floats: the reference numbers.",
    "tf32": "TensorFloat-32 on the GPU's tensor cores for convolutions and matrix products: "
            "faster, with a 10-bit mantissa inside them.",
    "bf16": "bfloat16 autocast: the network runs in 16-bit where it is safe, the attack in 32-bit; "
            "the fastest, with results that differ from fp32 in the low digits.",
}


def _config_field(method: str, name: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(METHODS[method].config_type) if f.name == name)


class PageScrollArea(QScrollArea):
    """Scrolls a page vertically only, and is never narrower than the page needs.

    A page that grows (the run summary filling in) widens the panel instead of being
    clipped at the right edge: the minimum size hint follows the page's, and a change
    of the page's layout re-asks the parent layouts.
    """

    def __init__(self, page: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(page)

    def minimumSizeHint(self) -> QSize:
        width = self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(width + 2 * self.frameWidth(), super().minimumSizeHint().height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)


def split_title(title: str) -> tuple[str, str]:
    """``"ASMA (adaptive mask, dynamic multiplier)"`` -> ``("ASMA", "adaptive mask, dynamic multiplier")``."""
    name, _, rest = title.partition(" (")
    return name, rest.rstrip(")")


class AttackPanel(QWidget):
    """Settings and controls of one attack; ``settings()`` gives what ``create_attack`` takes."""

    runRequested = Signal()
    pauseRequested = Signal()
    resumeRequested = Signal()
    stopRequested = Signal()
    exportRequested = Signal()
    deviceChanged = Signal(str)
    precisionChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("attackPanel")
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("methodCombo")
        self.method_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.method_combo.setMinimumContentsLength(14)
        for name in METHODS:
            short_name, _ = split_title(METHOD_TITLES.get(name, name.upper()))
            self.method_combo.addItem(short_name, name)
            self.method_combo.setItemData(self.method_combo.count() - 1,
                                          (METHODS[name].__doc__ or name).strip().splitlines()[0],
                                          Qt.ItemDataRole.ToolTipRole)
        # The combo shows the names researchers know (ASMA, DAG, ...); what they stand for goes below it.
        self.method_description = QLabel()
        self.method_description.setObjectName("methodDescription")
        self.method_description.setWordWrap(True)
        self.method_description.setStyleSheet("color: #555;")
        self.parameter_form = ParameterForm()
        self.iterations_spin = QSpinBox()
        self.iterations_spin.setObjectName("iterationsSpin")
        self.iterations_spin.setRange(1, 1_000_000)
        self.iterations_spin.setSingleStep(50)
        self.stop_iou_spin = QDoubleSpinBox()
        self.stop_iou_spin.setObjectName("stopIouSpin")
        self.stop_iou_spin.setRange(0.0, 1.0)
        self.stop_iou_spin.setDecimals(3)
        self.stop_iou_spin.setSingleStep(0.01)
        self.stop_iou_spin.setSpecialValueText("off")  # 0 means: run every iteration
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("deviceCombo")
        self.device_combo.setToolTip("Where the model and the attack run. Changing it moves the loaded model.")
        for device in available_devices():
            self.device_combo.addItem(device, device)
        self.precision_combo = QComboBox()
        self.precision_combo.setObjectName("precisionCombo")
        self.defaults_button = QPushButton("Defaults")
        self.defaults_button.setObjectName("defaultsButton")
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.run_button.setToolTip(f"Start the attack on the image towards the painted target ({RUN_SHORTCUT})")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setToolTip("Stop after the current iteration; the run so far is kept and can be exported")
        self.run_button.setMinimumHeight(30)
        self.export_button = QPushButton("Export results…")
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip("Write the last run to a folder: images, arrays, metrics.csv, summary.json")
        self.hint_label = QLabel()
        self.hint_label.setWordWrap(True)
        self.hint_label.setStyleSheet("color: #555;")
        self._state = "idle"
        self._can_run = False
        self._can_export = False
        self._build_layout()
        self.method_combo.currentIndexChanged.connect(self._on_method_changed)
        self.device_combo.currentIndexChanged.connect(self._on_device_changed)
        self.precision_combo.currentIndexChanged.connect(self._on_precision_changed)
        self._offer_precisions()
        self.run_button.clicked.connect(self.runRequested)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.stop_button.clicked.connect(self.stopRequested)
        self.export_button.clicked.connect(self.exportRequested)
        self.defaults_button.clicked.connect(self.reset_to_defaults)
        self._on_method_changed()
        self.iterations_spin.setValue(_config_field(self.method, "iterations").default)
        self._update_buttons()

    def _build_layout(self) -> None:
        method_box = QGroupBox("Method and budget")
        form = QFormLayout(method_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Method", self.method_combo)
        form.addRow("", self.method_description)
        form.addRow("Iterations", self.iterations_spin)
        form.addRow("Stop at IoU", self.stop_iou_spin)
        form.addRow("Device", self.device_combo)
        form.addRow("Precision", self.precision_combo)
        parameters_box = QGroupBox("Parameters")
        parameters_layout = QVBoxLayout(parameters_box)
        parameters_layout.addWidget(self.parameter_form)
        defaults_row = QHBoxLayout()
        defaults_row.addStretch(1)
        defaults_row.addWidget(self.defaults_button)
        parameters_layout.addLayout(defaults_row)
        settings = QWidget()
        self._settings_layout = QVBoxLayout(settings)
        self._settings_layout.setContentsMargins(4, 4, 4, 4)
        self._settings_layout.addWidget(method_box)
        self._settings_layout.addWidget(parameters_box)
        self._settings_layout.addStretch(1)
        self.pages = QTabWidget()
        self.pages.setObjectName("controlPages")
        self.add_page("Attack settings", settings)
        controls = QHBoxLayout()
        for button in (self.run_button, self.pause_button, self.stop_button):
            controls.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.pages, 1)
        layout.addWidget(self.hint_label)
        layout.addLayout(controls)
        layout.addWidget(self.export_button)

    def add_settings_section(self, widget: QWidget) -> None:
        """A box below the parameters on the settings page (the last run's summary)."""
        self._settings_layout.insertWidget(self._settings_layout.count() - 1, widget)

    def add_page(self, title: str, widget: QWidget) -> None:
        """Another page beside the settings (the label palette); Run, Pause and Stop stay visible below."""
        self.pages.addTab(PageScrollArea(widget), title)

    def show_page(self, widget: QWidget) -> None:
        """Bring the page holding ``widget`` to the front."""
        for index in range(self.pages.count()):
            if self.pages.widget(index).widget() is widget:
                self.pages.setCurrentIndex(index)

    # ------------------------------------------------------------------ settings
    @property
    def method(self) -> str:
        return self.method_combo.currentData()

    def set_method(self, method: str) -> None:
        index = self.method_combo.findData(method)
        if index < 0:
            raise ValueError(f"unknown method {method!r}")
        self.method_combo.setCurrentIndex(index)

    @property
    def device(self) -> str:
        return self.device_combo.currentData()

    @property
    def precision(self) -> str:
        return self.precision_combo.currentData() or "fp32"

    def set_precision(self, precision: str) -> None:
        index = self.precision_combo.findData(precision)
        if index >= 0:
            self.precision_combo.setCurrentIndex(index)

    def set_device(self, device: str) -> None:
        index = self.device_combo.findData(device)
        if index >= 0:
            self.device_combo.setCurrentIndex(index)

    def settings(self) -> tuple[str, dict]:
        """(method, parameters) for ``create_attack``; raises SegAttackError for a bad value."""
        parameters = self.parameter_form.values()
        parameters["iterations"] = self.iterations_spin.value()
        stop_iou = self.stop_iou_spin.value()
        parameters["stop_iou"] = stop_iou if stop_iou > 0 else None
        return self.method, parameters

    def apply_settings(self, method: str | None = None, **parameters) -> None:
        """Set the method and any parameters (scripts, demos, tests)."""
        if method is not None:
            self.set_method(method)
        if "iterations" in parameters:
            self.iterations_spin.setValue(int(parameters.pop("iterations")))
        if "stop_iou" in parameters:
            value = parameters.pop("stop_iou")
            self.stop_iou_spin.setValue(0.0 if value is None else float(value))
        self.parameter_form.set_values(parameters)

    @Slot()
    def reset_to_defaults(self) -> None:
        """The method's own defaults (a demo's tuned steps, or what a user typed, are replaced)."""
        method = self.method
        self.parameter_form.reset_defaults()
        self.iterations_spin.setValue(_config_field(method, "iterations").default)
        stop_iou = _config_field(method, "stop_iou").default
        self.stop_iou_spin.setValue(0.0 if stop_iou is None else stop_iou)

    @Slot()
    def _on_method_changed(self) -> None:
        method = self.method
        config_type = METHODS[method].config_type
        self.parameter_form.set_config_type(config_type, method)
        self.method_combo.setToolTip((METHODS[method].__doc__ or method).strip())
        description = split_title(METHOD_TITLES.get(method, method))[1]
        self.method_description.setText(description[:1].upper() + description[1:])
        self.method_description.setVisible(bool(description))
        self.iterations_spin.setToolTip(tooltip(_config_field(method, "iterations")))
        numbers = ", ".join(f"{spec.name.replace('_', ' ')} {format_value(spec.default)}"
                            for spec in dataclasses.fields(config_type)
                            if spec.default is not None and not isinstance(spec.default, bool)
                            and spec.name not in ("quantize_fraction", "seed"))
        name = split_title(METHOD_TITLES.get(method, method))[0]
        self.defaults_button.setToolTip(f"Set every {name} setting to its default, the published one: {numbers}; "
                                        "stop IoU off, switches off")
        stop_iou = _config_field(method, "stop_iou")
        self.stop_iou_spin.setToolTip(f"{stop_iou.metadata['help']} 'off' (0): run every iteration.\n"
                                      "Range: ≥ 0, ≤ 1.\nDefault: off.")

    @Slot()
    def _on_device_changed(self) -> None:
        self._offer_precisions()
        self.deviceChanged.emit(self.device)

    @Slot()
    def _on_precision_changed(self) -> None:
        if self.precision_combo.count():
            self.precisionChanged.emit(self.precision)

    def _offer_precisions(self) -> None:
        """The precisions worth having on the chosen device; the choice stays if it is still offered.

        Silent: a change of device is announced once, by ``deviceChanged``, with the precision
        that now goes with it readable from :attr:`precision`.
        """
        kept = self.precision
        combo = self.precision_combo
        combo.blockSignals(True)
        combo.clear()
        names = fast_precisions(self.device or "cpu")
        for name in names:
            combo.addItem(name, name)
            combo.setItemData(combo.count() - 1, PRECISION_DESCRIPTIONS[name], Qt.ItemDataRole.ToolTipRole)
        combo.setCurrentIndex(max(0, combo.findData(kept)))
        combo.blockSignals(False)
        combo.setToolTip("How the network computes on this device. "
                         + " ".join(f"{name}: {PRECISION_DESCRIPTIONS[name]}" for name in names))

    # ------------------------------------------------------------------ state
    @Slot()
    def _on_pause_clicked(self) -> None:
        if self._state == "paused":
            self.resumeRequested.emit()
        else:
            self.pauseRequested.emit()

    def set_state(self, state: str) -> None:
        """Reflect the attack session's state: idle, running, paused or stopping."""
        self._state = state
        self._update_buttons()

    def set_readiness(self, can_run: bool, can_export: bool, hint: str = "") -> None:
        self._can_run = can_run
        self._can_export = can_export
        self.hint_label.setText(hint)
        self.hint_label.setVisible(bool(hint))
        self._update_buttons()

    def _update_buttons(self) -> None:
        state = self._state
        idle = state == "idle"
        self.run_button.setEnabled(idle and self._can_run)
        self.pause_button.setEnabled(state in ("running", "paused"))
        self.pause_button.setText("Resume" if state == "paused" else "Pause")
        self.pause_button.setToolTip(f"Continue the attack ({PAUSE_SHORTCUT})" if state == "paused" else
                                     f"Hold the attack after the current iteration ({PAUSE_SHORTCUT})")
        self.stop_button.setEnabled(state in ("running", "paused"))
        self.export_button.setEnabled(idle and self._can_export)
        for widget in (self.method_combo, self.parameter_form, self.iterations_spin, self.stop_iou_spin,
                       self.device_combo, self.precision_combo):
            widget.setEnabled(idle)
