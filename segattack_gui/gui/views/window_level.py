"""Window/level, slice choice and the value under the cursor for DICOM and NIfTI images.

Shown only for a greyscale medical image. The canvas shows the image through the window
(``workspace.display_window``), and so do the live views (``windowChanged``); the attack and the
exports keep the image's own values. Ctrl + drag on the canvas changes width (across) and level (up/down); the presets are the
usual CT windows; the slider picks the frame or slice of a multi-frame file, a series or a volume.
The status bar reads the value under the cursor in the image's units (e.g. "-812 HU").
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QWidget

from ...errors import SegAttackError
from ...io.inputs import feed_image_units
from ...workspace.display_window import (
    CT_PRESETS,
    DisplayWindow,
    default_window,
    display_pixels,
    dragged,
    has_window,
    percentile_window,
    raw_values,
)

PERCENTILE = "percentile (1-99 %)"
CUSTOM = "custom"


class WindowLevelBar(QWidget):
    """The controls above the canvas; ``sliceChosen(index)`` asks for another slice of the file,
    ``windowChanged(window)`` tells the live views the window shown (None: the image has none)."""

    sliceChosen = Signal(int)
    windowChanged = Signal(object)

    def __init__(self, canvas, document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("windowLevelBar")
        self.canvas, self.document = canvas, document
        self.display_window = None
        self._dragging_from: QPointF | None = None
        self.preset_combo = QComboBox(objectName="windowPresetCombo")
        self.preset_combo.setToolTip("Display window (level/width); Ctrl + drag on the image changes it")
        self.level_spin = _value_spin("windowLevelSpin", "Level: the value shown mid-grey")
        self.width_spin = _value_spin("windowWidthSpin", "Width: the range of values from black to white")
        self.width_spin.setMinimum(1e-6)
        self.slice_slider = QSlider(Qt.Orientation.Horizontal, objectName="sliceSlider")
        self.slice_slider.setToolTip("Frame or slice of the file to show and attack")
        self.slice_label = QLabel(objectName="sliceLabel")
        self.value_label = QLabel(objectName="valueLabel")
        self.value_label.setToolTip("The image's value under the mouse, in its own units")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel("Window"), self.preset_combo, QLabel("L"), self.level_spin, QLabel("W"),
                       self.width_spin, self.slice_label, self.slice_slider):
            layout.addWidget(widget)
        self.preset_combo.activated.connect(self._on_preset)
        self.level_spin.editingFinished.connect(self._on_spins)
        self.width_spin.editingFinished.connect(self._on_spins)
        self.slice_slider.sliderReleased.connect(self._on_slice_released)
        self.slice_slider.valueChanged.connect(self._on_slice_moved)
        document.modelChanged.connect(self._feed_units)  # imageChanged: on_image_changed, after the canvas binding
        canvas.cursorMoved.connect(self.show_value)
        canvas.viewport().installEventFilter(self)
        self.setVisible(False)

    # ------------------------------------------------------------------ image
    @Slot()
    def on_image_changed(self) -> None:
        image = self.document.image
        self._feed_units()
        self.value_label.setText("")
        if not has_window(image):
            self.display_window = None
            self.windowChanged.emit(None)
            self.setVisible(False)
            return
        self.preset_combo.clear()
        self.preset_combo.addItems(([*CT_PRESETS] if image.value_scale.units == "HU" else []) + [PERCENTILE, CUSTOM])
        self.apply(default_window(image))
        count = image.source.count
        self.slice_slider.blockSignals(True)
        self.slice_slider.setRange(0, max(count - 1, 0))
        self.slice_slider.setValue(image.source.index)
        self.slice_slider.blockSignals(False)
        self.slice_slider.setVisible(count > 1)
        self.slice_label.setVisible(count > 1)
        self._show_slice_label(image.source.index)
        self.setVisible(True)

    def apply(self, window: DisplayWindow) -> None:
        """Show the image through ``window`` (display only)."""
        image = self.document.image
        self.display_window = window
        for spin, value in ((self.level_spin, window.level), (self.width_spin, window.width)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        name = next((n for n, v in CT_PRESETS.items() if v == (window.level, window.width)), None)
        if name is None:
            name = PERCENTILE if window == percentile_window(image) else CUSTOM
        self.preset_combo.setCurrentText(name)
        self.canvas.show_pixels(display_pixels(image, window))
        self.windowChanged.emit(window)

    def _feed_units(self) -> None:
        """A model on raw values reads the image's range (the window never changes what it is fed)."""
        if self.document.model is not None and self.document.image is not None:
            try:
                feed_image_units(self.document.model, self.document.image)
            except SegAttackError:
                pass  # a raw-value model on an image of unknown range: Run says so (run/setup.py)

    # ------------------------------------------------------------------ controls
    @Slot(int)
    def _on_preset(self, _index: int) -> None:
        name = self.preset_combo.currentText()
        if name in CT_PRESETS:
            self.apply(DisplayWindow(*CT_PRESETS[name]))
        elif name == PERCENTILE:
            self.apply(percentile_window(self.document.image))

    @Slot()
    def _on_spins(self) -> None:
        if self.display_window is not None:
            self.apply(DisplayWindow(self.level_spin.value(), self.width_spin.value()))

    @Slot(int)
    def _on_slice_moved(self, index: int) -> None:
        self._show_slice_label(index)
        if not self.slice_slider.isSliderDown():  # keyboard or click: at once; a drag: on release
            self.sliceChosen.emit(index)

    @Slot()
    def _on_slice_released(self) -> None:
        self.sliceChosen.emit(self.slice_slider.value())

    def _show_slice_label(self, index: int) -> None:
        self.slice_label.setText(f"slice {index}/{self.slice_slider.maximum()}")

    @Slot(int, int)
    def show_value(self, x: int, y: int) -> None:
        image = self.document.image
        if image is None or image.value_scale is None:
            self.value_label.setText("")
            return
        scale = image.value_scale
        if image.channels == 1:
            self.value_label.setText(scale.words(float(raw_values(image)[y, x])))
        else:
            values = scale.file_values(image.pixels[y, x])
            self.value_label.setText(" ".join(f"{v:.6g}" for v in values) + (f" {scale.units}" if scale.units else ""))

    # ------------------------------------------------------------------ drag on the canvas
    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt override)
        kind = event.type()
        if self.display_window is None or kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                                               QEvent.Type.MouseButtonRelease):
            return False
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton \
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._dragging_from = event.position()
            return True
        if self._dragging_from is None:
            return False
        if kind == QEvent.Type.MouseMove:
            delta = event.position() - self._dragging_from
            self._dragging_from = event.position()
            self.apply(dragged(self.display_window, delta.x(), delta.y()))
            return True
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging_from = None
        return True


def _value_spin(name: str, tip: str) -> QDoubleSpinBox:
    spin = QDoubleSpinBox(objectName=name)
    spin.setRange(-1e9, 1e9)
    spin.setDecimals(1)
    spin.setKeyboardTracking(False)
    spin.setToolTip(tip)
    return spin


def with_bar_above(bar: QWidget, view: QWidget) -> QWidget:
    """``view`` with ``bar`` in a row above it (the canvas and its window/level bar)."""
    from PySide6.QtWidgets import QVBoxLayout

    holder = QWidget()
    column = QVBoxLayout(holder)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    column.addWidget(bar)
    column.addWidget(view, 1)
    return holder
