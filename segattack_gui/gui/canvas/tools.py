"""The canvas painting tools: how mouse gestures become mask edits.

Each tool turns press/move/release (in image coordinates) into calls on a
:class:`ToolHost` (the canvas): begin an operation, paint boxes of pixels,
finish it as one undo step. Tools know nothing of layers or colours beyond
``erase`` (right button or the eraser tool); the host decides what painting
and erasing mean on the active layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
)

from ...workspace import shape_raster
from ...workspace.shape_raster import Patch

__all__ = [
    "BrushOutline",
    "ToolEvent",
    "ToolHost",
    "make_tools",
    "TOOL_HINTS",
    "TOOL_NAMES",
    "TOOL_SHORTCUTS",
    "TOOL_TITLES",
]

TOOL_NAMES = ("brush", "eraser", "fill", "polygon", "rectangle", "ellipse", "pick", "pan")
TOOL_SHORTCUTS = {
    "brush": "P",  # napari: paint
    "eraser": "E",  # napari: erase
    "fill": "F",  # napari: fill
    "polygon": "L",  # lasso
    "rectangle": "R",
    "ellipse": "O",
    "pick": "I",  # an eyedropper (napari's L is the lasso here)
    "pan": "Z",  # napari's pan/zoom key in its shape and label layers
}
TOOL_TITLES = {
    "brush": "Brush",
    "eraser": "Eraser",
    "fill": "Fill",
    "polygon": "Polygon / lasso",
    "rectangle": "Rectangle",
    "ellipse": "Ellipse",
    "pick": "Pick",
    "pan": "Pan",
}

TOOL_HINTS = {
    "brush": "Left button paints the current label (the region layer: allows pixels); right button erases.",
    "eraser": "Paints background on the target layer, forbids pixels on the region layer.",
    "fill": "Fills the contiguous area of the clicked value; right button fills with background.",
    "polygon": "Click corners, then double-click or press Enter to fill; or drag a lasso and release. Esc cancels.",
    "rectangle": "Drag to fill a rectangle; right button erases it.",
    "ellipse": "Drag to fill an ellipse; right button erases it.",
    "pick": "Click a pixel of the target to paint with its label next (an eyedropper).",
    "pan": "Drag to move the image (also: middle button, or hold Space); the wheel zooms.",
}

PREVIEW_Z = 10.0
LASSO_START_PX = 4.0
"""Screen pixels the mouse must travel with the button down before a polygon click becomes a lasso drag."""


@dataclass(frozen=True)
class ToolEvent:
    """A mouse event in both coordinate systems the tools need."""

    scene: QPointF
    """Image coordinates: pixel (row i, column j) covers [j, j+1) x [i, i+1)."""
    view: QPointF
    """Viewport coordinates, for distances the user perceives (lasso threshold, double clicks)."""
    erase: bool = False

    @property
    def pixel(self) -> tuple[int, int]:
        """(row, column) of the pixel under the mouse."""
        return (math.floor(self.scene.y()), math.floor(self.scene.x()))

    @property
    def point(self) -> tuple[float, float]:
        """(y, x) in pixel-index space (pixel centres at integers), as ``shape_raster`` expects."""
        return (self.scene.y() - 0.5, self.scene.x() - 0.5)


class ToolHost(Protocol):
    """What tools need from the canvas."""

    def image_shape(self) -> tuple[int, int]: ...
    def brush_size(self) -> int: ...
    def scene(self) -> QGraphicsScene: ...
    def preview_pen(self, erase: bool) -> QPen: ...
    def begin_edit(self, erase: bool) -> None: ...
    def paint_patch(self, patch: Patch | None) -> None: ...
    def finish_edit(self) -> None: ...
    def cancel_edit(self) -> None: ...
    def fill_at(self, row: int, column: int, erase: bool) -> None: ...
    def pick_label_at(self, row: int, column: int) -> None: ...


class CanvasTool:
    """Base tool: ignores everything. ``double_click`` acts as a press because Qt
    delivers the second press of a quick double click as a double-click event."""

    name = ""

    def __init__(self, host: ToolHost):
        self.host = host

    def press(self, event: ToolEvent) -> None:
        pass

    def move(self, event: ToolEvent, dragging: bool) -> None:
        pass

    def release(self, event: ToolEvent) -> None:
        pass

    def double_click(self, event: ToolEvent) -> None:
        self.press(event)

    def commit(self) -> bool:
        """Enter key: finish a pending shape; True when there was one."""
        return False

    def cancel(self) -> None:
        """Escape, tool switch or a new image: drop anything half done."""


class BrushTool(CanvasTool):
    """Round dabs swept along the mouse path; one stroke is one undo step."""

    name = "brush"
    always_erase = False

    def __init__(self, host: ToolHost):
        super().__init__(host)
        self._last: tuple[int, int] | None = None

    def press(self, event: ToolEvent) -> None:
        if self._last is not None:  # a press without a release: close the old stroke first
            self.host.finish_edit()
        self.host.begin_edit(event.erase or self.always_erase)
        self._last = event.pixel
        self._sweep(event.pixel)

    def move(self, event: ToolEvent, dragging: bool) -> None:
        if dragging and self._last is not None:
            self._sweep(event.pixel)

    def release(self, event: ToolEvent) -> None:
        if self._last is not None:
            self._last = None
            self.host.finish_edit()

    def cancel(self) -> None:
        if self._last is not None:
            self._last = None
            self.host.cancel_edit()

    def _sweep(self, pixel: tuple[int, int]) -> None:
        radius = self.host.brush_size() / 2.0
        self.host.paint_patch(shape_raster.stroke_segment(self.host.image_shape(), self._last, pixel, radius))
        self._last = pixel


class EraserTool(BrushTool):
    name = "eraser"
    always_erase = True


class FillTool(CanvasTool):
    """Contiguous flood fill of the clicked pixel's value."""

    name = "fill"

    def press(self, event: ToolEvent) -> None:
        row, column = event.pixel
        height, width = self.host.image_shape()
        if 0 <= row < height and 0 <= column < width:
            self.host.fill_at(row, column, event.erase)


class PickTool(CanvasTool):
    """The eyedropper: the clicked pixel's target label becomes the one the tools paint."""

    name = "pick"

    def press(self, event: ToolEvent) -> None:
        row, column = event.pixel
        height, width = self.host.image_shape()
        if 0 <= row < height and 0 <= column < width:
            self.host.pick_label_at(row, column)


class DragShapeTool(CanvasTool):
    """Rectangle or ellipse between the pressed and the released pixel, previewed while dragging."""

    def __init__(self, host: ToolHost, name: str):
        super().__init__(host)
        self.name = name
        self._anchor: tuple[int, int] | None = None
        self._erase = False
        self._preview: QGraphicsRectItem | QGraphicsEllipseItem | None = None

    def press(self, event: ToolEvent) -> None:
        self.cancel()
        self._anchor, self._erase = event.pixel, event.erase
        item_type = QGraphicsRectItem if self.name == "rectangle" else QGraphicsEllipseItem
        self._preview = item_type()
        self._preview.setPen(self.host.preview_pen(event.erase))
        self._preview.setZValue(PREVIEW_Z)
        self.host.scene().addItem(self._preview)
        self.move(event, True)

    def move(self, event: ToolEvent, dragging: bool) -> None:
        if self._preview is None or not dragging:
            return
        (ay, ax), (by, bx) = self._anchor, event.pixel
        self._preview.setRect(QRectF(min(ax, bx), min(ay, by), abs(bx - ax) + 1, abs(by - ay) + 1))

    def release(self, event: ToolEvent) -> None:
        if self._anchor is None:
            return
        rasterise = shape_raster.rectangle if self.name == "rectangle" else shape_raster.ellipse
        patch = rasterise(self.host.image_shape(), self._anchor, event.pixel)
        erase = self._erase
        self.cancel()
        self.host.begin_edit(erase)
        self.host.paint_patch(patch)
        self.host.finish_edit()

    def cancel(self) -> None:
        self._anchor = None
        _remove(self._preview)
        self._preview = None


class PolygonTool(CanvasTool):
    """Click vertices then double-click or Enter to fill; or drag a lasso and release to fill."""

    name = "polygon"

    def __init__(self, host: ToolHost):
        super().__init__(host)
        self._vertices: list[QPointF] = []  # scene coordinates
        self._last_view: QPointF | None = None
        self._press_view: QPointF | None = None
        self._lasso = False
        self._erase = False
        self._preview: QGraphicsPathItem | None = None

    def press(self, event: ToolEvent) -> None:
        if not self._vertices:
            self._erase = event.erase
            self._preview = QGraphicsPathItem()
            self._preview.setPen(self.host.preview_pen(event.erase))
            self._preview.setZValue(PREVIEW_Z)
            self.host.scene().addItem(self._preview)
        self._press_view = event.view
        self._add_vertex(event)

    def move(self, event: ToolEvent, dragging: bool) -> None:
        if not self._vertices:
            return
        if dragging and self._press_view is not None:
            if not self._lasso and _distance(event.view, self._press_view) >= LASSO_START_PX:
                self._lasso = True
            if self._lasso:
                self._add_vertex(event)
        self._update_preview(event.scene)

    def release(self, event: ToolEvent) -> None:
        self._press_view = None
        if self._lasso:
            self._add_vertex(event)
            self.commit()

    def double_click(self, event: ToolEvent) -> None:
        if self._vertices:
            self._add_vertex(event)
        self.commit()

    def commit(self) -> bool:
        if not self._vertices:
            return False
        points = [(vertex.y() - 0.5, vertex.x() - 0.5) for vertex in self._vertices]
        erase = self._erase
        self.cancel()
        if len(points) >= 3:
            self.host.begin_edit(erase)
            self.host.paint_patch(shape_raster.polygon(self.host.image_shape(), points))
            self.host.finish_edit()
        return True

    def cancel(self) -> None:
        self._vertices = []
        self._last_view = self._press_view = None
        self._lasso = False
        _remove(self._preview)
        self._preview = None

    def _add_vertex(self, event: ToolEvent) -> None:
        # A double click repeats the last click's position: keep one vertex for it.
        if self._last_view is not None and _distance(event.view, self._last_view) < 3.0:
            return
        self._vertices.append(QPointF(event.scene))
        self._last_view = QPointF(event.view)
        self._update_preview(event.scene)

    def _update_preview(self, cursor: QPointF) -> None:
        if self._preview is None:
            return
        path = QPainterPath(self._vertices[0])
        for vertex in self._vertices[1:]:
            path.lineTo(vertex)
        path.lineTo(cursor)
        path.closeSubpath()
        self._preview.setPath(path)


class PanTool(CanvasTool):
    """Placeholder: the canvas itself pans (middle button, Space, or this tool)."""

    name = "pan"


def make_tools(host: ToolHost) -> dict[str, CanvasTool]:
    """One instance of every tool, by name."""
    tools = [
        BrushTool(host),
        EraserTool(host),
        FillTool(host),
        PolygonTool(host),
        DragShapeTool(host, "rectangle"),
        DragShapeTool(host, "ellipse"),
        PickTool(host),
        PanTool(host),
    ]
    return {tool.name: tool for tool in tools}


def _distance(a: QPointF, b: QPointF) -> float:
    return math.hypot(a.x() - b.x(), a.y() - b.y())


def _remove(item: QGraphicsItem | None) -> None:
    if item is not None and item.scene() is not None:
        item.scene().removeItem(item)


class BrushOutline(QGraphicsEllipseItem):
    """The brush footprint under the mouse: a white circle with black dashes, visible on any image."""

    def __init__(self):
        super().__init__()
        self.setPen(_cosmetic_pen(QColor(255, 255, 255), Qt.PenStyle.SolidLine))
        self.setZValue(PREVIEW_Z + 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        white, black = QColor(255, 255, 255, 230), QColor(0, 0, 0, 230)
        for colour, style in ((white, Qt.PenStyle.SolidLine), (black, Qt.PenStyle.DashLine)):
            painter.setPen(_cosmetic_pen(colour, style))
            painter.drawEllipse(self.rect())


def _cosmetic_pen(colour: QColor, style: Qt.PenStyle, width: float = 1.0) -> QPen:
    pen = QPen(colour, width)
    pen.setCosmetic(True)
    pen.setStyle(style)
    return pen


def dashed_pen(colour, width: float = 1.5) -> QPen:
    """A cosmetic pen (same on-screen width at any zoom) for shape previews."""
    return _cosmetic_pen(QColor(colour), Qt.PenStyle.DashLine, width)
