"""What a stroke on the canvas does now: tool, size, and the class or layer it paints.

The tools live on the dock's second page, so the status bar says which one is active
(the canvas opens ready to paint, and a researcher should not have to guess what a
stroke will do); clicking the read-out opens that page.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QToolButton

from .label_palette import swatch
from .tools import TOOL_HINTS, TOOL_TITLES

SIZED_TOOLS = ("brush", "eraser")


def readout_text(tool: str, size: int, layer: str, class_name: str) -> str:
    """E.g. ``Brush 10 px · optic disc``, ``Eraser 10 px · target``, ``Rectangle · region``."""
    words = TOOL_TITLES[tool] + (f" {size} px" if tool in SIZED_TOOLS else "")
    if tool == "pan":
        return words
    if layer == "region":
        return f"{words} · perturbation region"
    return f"{words} · {'target' if tool == 'eraser' else class_name}"


class ToolReadout(QToolButton):
    """A flat status-bar button that follows the canvas's tool state; ``clicked`` opens the tools."""

    openTools = Signal()

    def __init__(self, canvas, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        self.setObjectName("toolReadout")
        self.setAutoRaise(True)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.clicked.connect(self.openTools)
        for signal in (canvas.toolChanged, canvas.brushSizeChanged, canvas.currentLabelChanged,
                       canvas.activeLayerChanged, canvas.classesChanged):
            signal.connect(self.update_text)
        self.update_text()

    @Slot()
    def update_text(self, *_) -> None:
        canvas = self.canvas
        tool, layer, label = canvas.tool(), canvas.active_layer(), canvas.current_label()
        names, colours = canvas.class_names(), canvas.class_colors()
        name = names[label] if label < len(names) else f"class {label}"
        self.setText(readout_text(tool, canvas.brush_size(), layer, name))
        painting_a_class = layer == "target" and tool not in ("eraser", "pan") and label < len(colours)
        self.setIcon(swatch(colours[label], background=False, size=12) if painting_a_class else QIcon())
        self.setToolTip(f"{TOOL_HINTS[tool]}\nClick to show the painting tools and labels.")
