"""The controls beside the canvas: classes, layer, tools, brush size, opacity, undo.

Every control binds one canvas property both ways (set it on user input,
follow the canvas's signal otherwise), like napari's layer controls; there
is no state here that the canvas does not own.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSignalBlocker, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QColorDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...workspace.labels import LabelTable
from .mask_canvas import BRUSH_SIZE_RANGE, MaskCanvas
from .shortcuts import SHORTCUT_HELP
from .tools import TOOL_HINTS, TOOL_NAMES, TOOL_SHORTCUTS, TOOL_TITLES

__all__ = ["LabelPalette"]

SLIDER_MAX_BRUSH = 100
"""The slider covers the usual sizes; the spin box reaches the canvas maximum."""


def swatch(colour: tuple[int, int, int], background: bool, size: int = 14) -> QIcon:
    """A rounded colour square; the background class is shown as an empty outline (it is transparent)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(200, 200, 200) if background else QColor(0, 0, 0, 90))
    painter.setBrush(Qt.BrushStyle.NoBrush if background else QColor(*colour))
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    painter.end()
    return QIcon(pixmap)


class LabelPalette(QWidget):
    """Label list with colour swatches and the painting controls of one :class:`MaskCanvas`.

    Label edits (add, rename, recolour, hide) go to the ``document`` that owns the labels, which
    passes them to the canvas; a palette without a document (a canvas on its own) edits the
    canvas's classes directly.
    """

    def __init__(self, canvas: MaskCanvas, document=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("labelPalette")
        self.canvas = canvas
        self.document = document
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self._build_layer_box())
        layout.addWidget(self._build_label_box(), stretch=1)
        layout.addWidget(self._build_tool_box())
        layout.addWidget(self._build_brush_box())
        layout.addLayout(self._build_history_row())

        canvas.classesChanged.connect(self._rebuild_labels)
        canvas.currentLabelChanged.connect(self._show_label)
        canvas.activeLayerChanged.connect(self._show_layer)
        canvas.toolChanged.connect(self._show_tool)
        canvas.brushSizeChanged.connect(self._show_brush_size)
        canvas.overlayOpacityChanged.connect(self._show_opacity)
        canvas.historyChanged.connect(self._show_history)
        self._rebuild_labels()
        self._show_layer(canvas.active_layer())
        self._show_tool(canvas.tool())
        self._show_brush_size(canvas.brush_size())
        self._show_opacity(canvas.overlay_opacity())
        self._show_history()

    # --- building ---------------------------------------------------------------------

    def _build_layer_box(self) -> QGroupBox:
        box = QGroupBox("Paint on")
        grid = QGridLayout(box)
        self.layer_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        for column, (layer, text, tip) in enumerate(
            [
                ("target", "Target", "The mask you want the model to predict."),
                ("region", "Perturbation region", "The pixels the attack may change (hatched: forbidden)."),
            ]
        ):
            button = QToolButton(text=text, checkable=True, toolTip=tip)
            button.setObjectName(f"{layer}LayerButton")
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(partial(self.canvas.set_active_layer, layer))
            group.addButton(button)
            grid.addWidget(button, 0, column)
            self.layer_buttons[layer] = button
        self.allow_all_button = QPushButton("Clear region", toolTip="Remove the painted region: the attack may "
                                                                    "change every pixel again (undoable).")
        self.allow_all_button.setObjectName("allowAllButton")
        self.allow_all_button.clicked.connect(lambda: self.canvas.set_region(None))
        self.region_state = QLabel()
        self.region_state.setObjectName("regionStateLabel")
        self.region_state.setWordWrap(True)
        grid.addWidget(self.allow_all_button, 1, 0)
        grid.addWidget(self.region_state, 2, 0, 1, 2)
        self.canvas.regionChanged.connect(self._show_region_state)
        self._show_region_state()
        return box

    def _show_region_state(self) -> None:
        """Say what the region means now: nothing painted is no limit, so a first stroke is never a surprise."""
        if self.canvas.region_is_limited():
            share = float(self.canvas.region_mask().mean())
            self.region_state.setText(f"The attack may change the {100 * share:.1f} % of pixels painted "
                                      "(the rest is hatched).")
        else:
            self.region_state.setText("No region painted: every pixel may change. Paint to allow only those "
                                      "pixels; right-drag to forbid some.")
        self.allow_all_button.setEnabled(self.canvas.active_layer() == "region" and self.canvas.region_is_limited())

    def _build_label_box(self) -> QGroupBox:
        box = QGroupBox("Labels")
        column = QVBoxLayout(box)
        self.label_list = QListWidget()
        self.label_list.setObjectName("labelList")
        self.label_list.setIconSize(QSize(14, 14))
        self.label_list.setToolTip("The class the tools paint on the target layer (keys 0-9).")
        self.label_list.currentRowChanged.connect(self._choose_label)
        column.addWidget(self.label_list)
        row = QGridLayout()  # two by two: the Controls dock must stay narrow
        row.setSpacing(3)
        self.label_buttons = {}
        for key, text, tip, slot in (
            ("add", "Add", "Add a label after the last one (an attack needs the model's classes)", self.add_label),
            ("rename", "Rename", "Rename the selected label", self._rename_selected),
            ("colour", "Colour", "Change the selected label's colour", self._recolour_selected),
            ("hide", "Hide", "Hide or show the selected label on the canvas (it stays painted)", self._toggle_hidden),
        ):
            button = QPushButton(text, toolTip=tip)
            button.setObjectName(f"label{key.capitalize()}Button")
            button.clicked.connect(slot)
            row.addWidget(button, len(self.label_buttons) // 2, len(self.label_buttons) % 2)
            self.label_buttons[key] = button
        column.addLayout(row)
        self.preserve_check = QCheckBox("Paint over background only")
        self.preserve_check.setObjectName("preserveLabelsCheck")
        self.preserve_check.setToolTip("Like napari's \"preserve labels\": strokes, shapes and fills change only "
                                       "background pixels, and erasing removes only the selected label.")
        self.preserve_check.toggled.connect(self.canvas.set_preserve_labels)
        column.addWidget(self.preserve_check)
        return box

    # --- label edits -------------------------------------------------------------------------

    def labels(self) -> LabelTable:
        if self.document is not None:
            return self.document.labels
        return LabelTable(tuple(self.canvas.class_names()), tuple(self.canvas.class_colors()),
                          self.canvas.hidden_labels())

    def set_labels(self, labels: LabelTable) -> None:
        if self.document is not None:
            self.document.set_labels(labels)
        else:
            self.canvas.set_classes(labels.names, labels.colors, labels.hidden)

    def add_label(self) -> None:
        labels = self.labels().added()
        self.set_labels(labels)
        self.canvas.set_current_label(len(labels) - 1)

    def rename_label(self, class_id: int, name: str) -> None:
        self.set_labels(self.labels().renamed(class_id, name))

    def recolour_label(self, class_id: int, colour: tuple[int, int, int]) -> None:
        self.set_labels(self.labels().recoloured(class_id, colour))

    def set_label_hidden(self, class_id: int, hidden: bool) -> None:
        self.set_labels(self.labels().with_hidden(class_id, hidden))

    def ask_label_name(self, current: str) -> str | None:
        """The new name, or None when cancelled (tests replace this)."""
        name, accepted = QInputDialog.getText(self, "Rename label", "Name:", text=current)
        return name if accepted and name.strip() else None

    def ask_label_colour(self, current: tuple[int, int, int]) -> tuple[int, int, int] | None:
        """The new colour, or None when cancelled (tests replace this)."""
        colour = QColorDialog.getColor(QColor(*current), self, "Label colour")
        return (colour.red(), colour.green(), colour.blue()) if colour.isValid() else None

    def _rename_selected(self) -> None:
        class_id = self.canvas.current_label()
        name = self.ask_label_name(self.labels().names[class_id])
        if name:
            self.rename_label(class_id, name)

    def _recolour_selected(self) -> None:
        class_id = self.canvas.current_label()
        colour = self.ask_label_colour(self.labels().colors[class_id])
        if colour:
            self.recolour_label(class_id, colour)

    def _toggle_hidden(self) -> None:
        class_id = self.canvas.current_label()
        self.set_label_hidden(class_id, class_id not in self.labels().hidden)

    def _build_tool_box(self) -> QGroupBox:
        box = QGroupBox("Tools")
        grid = QGridLayout(box)
        grid.setSpacing(3)
        self.tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        for index, name in enumerate(TOOL_NAMES):
            button = QToolButton(text=TOOL_TITLES[name].split(" /")[0], checkable=True)
            button.setObjectName(f"{name}ToolButton")
            button.setToolTip(f"<b>{TOOL_TITLES[name]}</b> ({TOOL_SHORTCUTS[name]})<br>{TOOL_HINTS[name]}")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(partial(self.canvas.set_tool, name))
            group.addButton(button)
            grid.addWidget(button, index // 4, index % 4)
            self.tool_buttons[name] = button
        return box

    def _build_brush_box(self) -> QGroupBox:
        box = QGroupBox("Brush and overlay")
        grid = QGridLayout(box)
        size_tip = (
            f"Brush diameter in image pixels ({SHORTCUT_HELP['brush_smaller']} smaller, "
            f"{SHORTCUT_HELP['brush_larger']} larger)."
        )
        self.brush_slider = QSlider(Qt.Orientation.Horizontal, toolTip=size_tip)
        self.brush_slider.setObjectName("brushSizeSlider")
        self.brush_slider.setRange(BRUSH_SIZE_RANGE[0], SLIDER_MAX_BRUSH)
        self.brush_spin = QSpinBox(toolTip=size_tip, suffix=" px")
        self.brush_spin.setObjectName("brushSizeSpin")
        self.brush_spin.setRange(*BRUSH_SIZE_RANGE)
        self.brush_slider.valueChanged.connect(self.canvas.set_brush_size)
        self.brush_spin.valueChanged.connect(self.canvas.set_brush_size)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, toolTip="Opacity of the class colours over the image.")
        self.opacity_slider.setObjectName("opacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.valueChanged.connect(lambda value: self.canvas.set_overlay_opacity(value / 100.0))
        self.opacity_label = QLabel()
        self.opacity_label.setMinimumWidth(40)
        grid.addWidget(QLabel("Size"), 0, 0)
        grid.addWidget(self.brush_slider, 0, 1)
        grid.addWidget(self.brush_spin, 0, 2)
        grid.addWidget(QLabel("Opacity"), 1, 0)
        grid.addWidget(self.opacity_slider, 1, 1)
        grid.addWidget(self.opacity_label, 1, 2)
        return box

    def _build_history_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo", toolTip=f"Undo the last stroke or operation ({SHORTCUT_HELP['undo']}).")
        self.undo_button.setObjectName("undoButton")
        self.undo_button.clicked.connect(self.canvas.undo)
        self.redo_button = QPushButton("Redo", toolTip=f"Redo ({SHORTCUT_HELP['redo']}).")
        self.redo_button.setObjectName("redoButton")
        self.redo_button.clicked.connect(self.canvas.redo)
        self.fit_button = QPushButton("Fit", toolTip="Zoom to show the whole image.")
        self.fit_button.setObjectName("zoomFitButton")
        self.fit_button.clicked.connect(self.canvas.zoom_to_fit)
        for button in (self.undo_button, self.redo_button, self.fit_button):
            row.addWidget(button)
        return row

    # --- user input -> canvas -------------------------------------------------------------

    def _choose_label(self, row: int) -> None:
        if row >= 0:
            self.canvas.set_current_label(row)
        self._show_label_buttons()

    def _show_label_buttons(self) -> None:
        label = self.canvas.current_label()
        hidden = label in self.canvas.hidden_labels()
        self.label_buttons["hide"].setText("Show" if hidden else "Hide")
        self.label_buttons["hide"].setEnabled(label > 0)  # background is never drawn
        self.label_buttons["colour"].setEnabled(label > 0)

    # --- canvas -> widgets -----------------------------------------------------------------

    def _rebuild_labels(self) -> None:
        with QSignalBlocker(self.label_list):
            self.label_list.clear()
            hidden = self.canvas.hidden_labels()
            for class_id, (name, colour) in enumerate(zip(self.canvas.class_names(), self.canvas.class_colors())):
                suffix = "  (hidden)" if class_id in hidden else ""
                item = QListWidgetItem(swatch(colour, background=class_id == 0), f"{class_id}  {name}{suffix}")
                item.setToolTip(f"Class {class_id}: {name}" + (" (key " + str(class_id) + ")" if class_id < 10 else ""))
                self.label_list.addItem(item)
        self._show_label(self.canvas.current_label())

    def _show_label(self, class_id: int) -> None:
        with QSignalBlocker(self.label_list):
            self.label_list.setCurrentRow(class_id)
        self._show_label_buttons()

    def _show_layer(self, layer: str) -> None:
        self.layer_buttons[layer].setChecked(True)
        region = layer == "region"
        self.region_state.setVisible(region)
        self._show_region_state()
        self.label_list.setEnabled(not region)

    def _show_tool(self, name: str) -> None:
        self.tool_buttons[name].setChecked(True)

    def _show_brush_size(self, size: int) -> None:
        for widget in (self.brush_slider, self.brush_spin):
            with QSignalBlocker(widget):
                widget.setValue(size)

    def _show_opacity(self, opacity: float) -> None:
        with QSignalBlocker(self.opacity_slider):
            self.opacity_slider.setValue(round(opacity * 100))
        self.opacity_label.setText(f"{round(opacity * 100)} %")

    def _show_history(self) -> None:
        self.undo_button.setEnabled(self.canvas.can_undo())
        self.redo_button.setEnabled(self.canvas.can_redo())
