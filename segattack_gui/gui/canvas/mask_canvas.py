"""The painting canvas: the image with the target and perturbation-region layers on top.

The user paints the mask they want the model to predict (the target) and,
on a second layer, the pixels the attack may change (the region). Scene
coordinates are image pixels, so tools and overlays never convert units;
zoom and pan only change the view transform. Painting is delegated to
:mod:`.tools`, the arrays and undo to :class:`MaskLayers`, drawing to
:class:`MaskOverlayItem`; this module wires them to Qt events.

In the window the canvas edits the document's own :class:`MaskLayers` (passed in as
``layers``): it repaints whatever changes them, wherever the change comes from, through
the layers' listener, and keeps no copy of its own. Alone (tests, scripts) it makes its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsView

from ...core import masks
from ...workspace.mask_layers import LAYERS, Box, MaskLayers
from ...workspace.shape_raster import Patch
from .overlay import (
    REGION_HATCH,
    REGION_OVERLAY_RGBA,
    MaskOverlayItem,
    argb_lookup,
    class_colour_fallback,
)
from .shortcuts import install_canvas_shortcuts
from .tools import TOOL_NAMES, BrushOutline, ToolEvent, dashed_pen, make_tools
from .zoom_view import ZoomPanView

__all__ = ["MaskCanvas", "image_to_qimage"]

DEFAULT_CLASSES = (["background", "foreground"], [(0, 0, 0), (230, 60, 60)])
BRUSH_SIZE_RANGE = (1, 500)
INACTIVE_LAYER_OPACITY = 0.35
"""How strongly the layer not being painted still shows, relative to its normal opacity."""


def image_to_qimage(pixels: np.ndarray) -> QImage:
    """float [0, 1] (or uint8) H x W (x 1 or 3) -> an 8-bit QImage that owns its memory."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3) or 0 in pixels.shape:
        raise ValueError(f"expected an H x W x C image with C = 1 or 3, got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        pixels = np.clip(np.rint(np.nan_to_num(pixels, nan=0.0) * 255.0), 0, 255).astype(np.uint8)
    data = np.ascontiguousarray(pixels)
    height, width = data.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if data.ndim == 2 else QImage.Format.Format_RGB888
    return QImage(data.data, width, height, data.strides[0], fmt).copy()


class MaskCanvas(ZoomPanView):
    """Image view with brush, eraser, fill, polygon, rectangle and ellipse tools, zoom, pan and undo."""

    targetChanged = Signal()
    regionChanged = Signal()
    toolChanged = Signal(str)
    brushSizeChanged = Signal(int)
    cursorMoved = Signal(int, int)
    """Image (x, y) of the pixel under the mouse, for a status bar readout."""
    currentLabelChanged = Signal(int)
    activeLayerChanged = Signal(str)
    overlayOpacityChanged = Signal(float)
    classesChanged = Signal()
    historyChanged = Signal()
    """Undo/redo availability may have changed."""

    def __init__(self, parent=None, max_undo: int = 100, layers: MaskLayers | None = None):
        super().__init__(parent)
        self.setObjectName("maskCanvas")
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self._owns_layers = layers is None
        self._layers = MaskLayers(max_undo=max_undo) if layers is None else layers
        self._region_limited = False
        self._overlay_shape: tuple[int, int] | None = None
        self._hidden_labels: frozenset[int] = frozenset()
        self._preserve_labels = False
        self._image_item = QGraphicsPixmapItem()
        self._image_item.setShapeMode(QGraphicsPixmapItem.ShapeMode.BoundingRectShape)
        self._target_item = MaskOverlayItem()
        self._region_item = MaskOverlayItem()
        self._region_item.set_lookup(argb_lookup(REGION_OVERLAY_RGBA))
        self._region_item.set_hatch(REGION_HATCH)
        self._brush_cursor = BrushOutline()
        self._brush_cursor.setVisible(False)
        for z, item in enumerate((self._image_item, self._target_item, self._region_item)):
            item.setZValue(z)
            self.scene().addItem(item)
        self.scene().addItem(self._brush_cursor)

        self._class_names: list[str] = []
        self._class_colours: list[tuple[int, int, int]] = []
        self._tools = make_tools(self)
        self._tool_name = "brush"
        self._brush_size = 10
        self._label = 1
        self._active_layer = "target"
        self._opacity = 0.6
        self._erase_edit = False
        self._gesture_button: Qt.MouseButton | None = None
        self._cursor_centre: QPointF | None = None
        self._shortcuts = install_canvas_shortcuts(self)

        self.set_classes(*DEFAULT_CLASSES)
        self._layers.subscribe(self._on_layers_changed)
        if self._owns_layers:
            self.set_image(np.zeros((256, 256, 3), dtype=np.float32))
        else:
            self._resize_overlays()
        self._apply_opacity()
        self.update_cursor()

    # --- image and layers ------------------------------------------------------

    def set_image(self, pixels: np.ndarray) -> None:
        """Show a new image (float32 H x W x C in [0, 1]). A canvas with its own layers clears them
        and the history; a canvas showing a document's layers leaves them to their owner, which
        starts them over for a new image."""
        qimage = image_to_qimage(pixels)
        self._cancel_tool()
        self._image_item.setPixmap(QPixmap.fromImage(qimage))
        height, width = qimage.height(), qimage.width()
        if self._owns_layers:
            self._layers.reset((height, width))
        elif self._layers.shape != (height, width):
            raise ValueError(f"the image is {height}x{width} but the masks are {self._layers.shape}")
        self._resize_overlays()
        self.set_content_rect(QRectF(0, 0, width, height))

    def _resize_overlays(self) -> None:
        height, width = self._overlay_shape = self._layers.shape
        for item in (self._target_item, self._region_item):
            item.resize(height, width)
        self._refresh("target")
        self._refresh("region")

    def _on_layers_changed(self, layer: str, box: Box | None) -> None:
        """The layers changed (here or anywhere else): repaint what changed and say so."""
        if box is None and self._overlay_shape != self._layers.shape:
            self._cancel_tool()
            self._resize_overlays()
        else:
            self._refresh(layer, box)
        self._emit_changed(layer)

    def show_pixels(self, pixels: np.ndarray) -> None:
        """Show other pixels of the same size (a display window): layers and history stay."""
        qimage = image_to_qimage(pixels)
        if (qimage.height(), qimage.width()) != self._layers.shape:
            raise ValueError(f"show_pixels keeps the image size {self._layers.shape}, got {pixels.shape[:2]}")
        self._image_item.setPixmap(QPixmap.fromImage(qimage))

    def image_shape(self) -> tuple[int, int]:
        """(height, width) of the image."""
        return self._layers.shape

    def set_classes(self, names: Sequence[str], colors: Sequence[tuple[int, int, int]],
                    hidden: Sequence[int] = ()) -> None:
        """Class names and RGB colours, index = class id; class 0 (background) and the ``hidden``
        ids are drawn transparent (still painted and kept: hiding is for seeing what lies under)."""
        if len(names) != len(colors):
            raise ValueError(f"{len(names)} class names but {len(colors)} colours")
        if not 1 <= len(names) <= 256:
            raise ValueError("between 1 and 256 classes are supported")
        self._class_names = [str(name) for name in names]
        self._class_colours = [tuple(int(channel) for channel in colour) for colour in colors]
        self._hidden_labels = frozenset(int(code) for code in hidden)
        palette = {code: (*class_colour_fallback(code), 255) for code in range(1, 256)}
        palette.update({code: (*colour, 255) for code, colour in enumerate(self._class_colours) if code > 0})
        palette.update({code: (0, 0, 0, 0) for code in self._hidden_labels if code > 0})
        self._target_item.set_lookup(argb_lookup(palette))
        self._refresh("target")
        self.classesChanged.emit()
        if self._label >= len(names):
            self.set_current_label(min(1, len(names) - 1))

    def class_names(self) -> list[str]:
        return list(self._class_names)

    def class_colors(self) -> list[tuple[int, int, int]]:
        return list(self._class_colours)

    def hidden_labels(self) -> frozenset[int]:
        return self._hidden_labels

    def set_preserve_labels(self, preserve: bool) -> None:
        """napari's "preserve labels": tools paint over background only, and erase only the current label."""
        self._preserve_labels = bool(preserve)

    def preserve_labels(self) -> bool:
        return self._preserve_labels

    def set_target(self, ids: np.ndarray) -> None:
        """Replace the target mask (uint8 class ids, image size); undoable."""
        ids = np.asarray(ids)
        if ids.size and (ids.min() < 0 or ids.max() > 255):
            raise ValueError("class ids must lie in 0..255")
        self._replace("target", ids.astype(np.uint8))

    def target_mask(self) -> np.ndarray:
        """The painted class ids (uint8 H x W), a copy."""
        return self._layers.target.copy()

    def set_region(self, mask: np.ndarray | None) -> None:
        """Pixels the attack may change (bool H x W); None (or all True) allows the whole image. Undoable."""
        self._cancel_tool()
        self._layers.set_region_limit(mask)

    def region_mask(self) -> np.ndarray:
        """The perturbation region (bool H x W, True = may change), a copy; all True when no
        region is painted."""
        limit = self._layers.region_limit()
        return np.ones(self._layers.shape, dtype=bool) if limit is None else limit

    def region_is_limited(self) -> bool:
        """False while no region is painted: then every pixel may change."""
        return bool(self._layers.region.any())

    def apply_transform(self, func: Callable[[np.ndarray], np.ndarray]) -> None:
        """Apply a :mod:`segattack_gui.core.masks` operation to the target as one undo step,
        e.g. ``canvas.apply_transform(lambda m: masks.dilate(m, 1, 3))``."""
        self.set_target(func(self.target_mask()))

    def _replace(self, layer: str, new: np.ndarray) -> None:
        self._cancel_tool()
        self._layers.replace(layer, new)  # the layers' listener repaints and signals

    # --- tool state --------------------------------------------------------------

    def set_active_layer(self, layer: str) -> None:
        """Which layer the tools paint: ``"target"`` or ``"region"``."""
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        if layer == self._active_layer:
            return
        self._cancel_tool()
        self._active_layer = layer
        self._apply_opacity()
        self.activeLayerChanged.emit(layer)

    def active_layer(self) -> str:
        return self._active_layer

    def set_tool(self, name: str) -> None:
        if name not in TOOL_NAMES:
            raise ValueError(f"unknown tool {name!r}; expected one of {TOOL_NAMES}")
        if name == self._tool_name:
            return
        self._cancel_tool()
        self._tool_name = name
        self.update_cursor()
        self.toolChanged.emit(name)

    def tool(self) -> str:
        return self._tool_name

    def set_brush_size(self, px: int) -> None:
        size = int(np.clip(int(px), *BRUSH_SIZE_RANGE))
        if size == self._brush_size:
            return
        self._brush_size = size
        self._update_brush_cursor()
        self.brushSizeChanged.emit(size)

    def brush_size(self) -> int:
        return self._brush_size

    def set_current_label(self, class_id: int) -> None:
        """The class the target tools paint (0 paints background)."""
        class_id = int(class_id)
        if not 0 <= class_id < len(self._class_names):
            raise ValueError(f"class id {class_id} is not one of 0..{len(self._class_names) - 1}")
        if class_id == self._label:
            return
        self._label = class_id
        self.currentLabelChanged.emit(class_id)

    def current_label(self) -> int:
        return self._label

    def set_overlay_opacity(self, opacity: float) -> None:
        """Opacity of the class colours over the image, 0 (hidden) .. 1 (opaque)."""
        opacity = float(np.clip(opacity, 0.0, 1.0))
        if opacity == self._opacity:
            return
        self._opacity = opacity
        self._apply_opacity()
        self.overlayOpacityChanged.emit(opacity)

    def overlay_opacity(self) -> float:
        return self._opacity

    def _apply_opacity(self) -> None:
        painting_target = self._active_layer == "target"
        self._target_item.setOpacity(self._opacity * (1.0 if painting_target else INACTIVE_LAYER_OPACITY))
        self._region_item.setOpacity(INACTIVE_LAYER_OPACITY if painting_target else 1.0)

    # --- undo ----------------------------------------------------------------------

    def undo(self) -> None:
        self._cancel_tool()
        self._layers.undo()

    def redo(self) -> None:
        self._cancel_tool()
        self._layers.redo()

    def can_undo(self) -> bool:
        return self._layers.history.can_undo()

    def forget_history(self) -> None:
        """The current masks become the first state: undo cannot go back before them."""
        self._layers.history.clear()
        self.historyChanged.emit()

    def can_redo(self) -> bool:
        return self._layers.history.can_redo()

    def _emit_changed(self, layer: str) -> None:
        (self.targetChanged if layer == "target" else self.regionChanged).emit()
        self.historyChanged.emit()

    # --- drawing the layers ----------------------------------------------------------

    def _refresh(self, layer: str, box: Box | None = None) -> None:
        """Recolour ``box`` (default: everything) of a layer's overlay."""
        height, width = self._layers.shape
        top, left, bottom, right = box or (0, 0, height, width)
        if layer == "target":
            self._target_item.refresh(self._layers.target[top:bottom, left:right], top, left)
            return
        limited = self.region_is_limited()
        if limited != self._region_limited:  # the first stroke limits (or the last erase frees) every pixel
            self._region_limited = limited
            top, left, bottom, right = 0, 0, height, width
        painted = self._layers.region[top:bottom, left:right]
        forbidden = ~painted if limited else np.zeros_like(painted)
        self._region_item.refresh(forbidden.view(np.uint8), top, left)

    def overlay_image(self, layer: str = "target") -> QImage:
        """The colours drawn for a layer (before opacity), for tests and screenshots."""
        return (self._target_item if layer == "target" else self._region_item).image()

    # --- ToolHost: what the tools call -------------------------------------------------

    def preview_pen(self, erase: bool) -> QPen:
        if erase:
            return dashed_pen(QColor(255, 255, 255))
        if self._active_layer == "region":
            return dashed_pen(QColor(120, 200, 255))
        return dashed_pen(QColor(*self._class_colours[self._label]) if self._label else QColor(255, 255, 255))

    def _paint_value(self, erase: bool) -> int | bool:
        if self._active_layer == "region":
            return not erase
        return 0 if erase else self._label

    def begin_edit(self, erase: bool) -> None:
        self._erase_edit = erase
        self._layers.begin(self._active_layer)
        if self._active_layer == "region" and erase and not self.region_is_limited():
            # Erasing from "every pixel may change" carves a hole out of the whole image (same undo step).
            self._layers.region[...] = True

    def paint_patch(self, patch: Patch | None) -> None:
        if patch is None or not self._layers.in_operation:
            return
        top, left, pixels = patch
        if self._preserve_labels and self._active_layer == "target":
            under = self._layers.target[top : top + pixels.shape[0], left : left + pixels.shape[1]]
            pixels = pixels & (under == (self._label if self._erase_edit else 0))
        box = self._layers.paint(top, left, pixels, self._paint_value(self._erase_edit))
        self._refresh(self._active_layer, box)

    def finish_edit(self) -> None:
        self._layers.finish()  # the layers' listener repaints and signals

    def cancel_edit(self) -> None:
        box = self._layers.cancel()
        if box is not None:
            self._refresh(self._active_layer, box)

    def fill_at(self, row: int, column: int, erase: bool) -> None:
        layer = self._active_layer
        current = self._layers.array(layer)
        value = int(self._paint_value(erase))
        if self._preserve_labels and layer == "target" and current[row, column] != (self._label if erase else 0):
            return  # preserving labels: fill only background (erase only the current label)
        filled = masks.flood_fill(current.view(np.uint8), row, column, value)
        self._replace(layer, filled.astype(current.dtype))

    def pick_label_at(self, row: int, column: int) -> None:
        """The eyedropper: paint with the label under (row, column) next; labels beyond the list are ignored."""
        label = int(self._layers.target[row, column])
        if label < len(self._class_names):
            self.set_current_label(label)
            if self._active_layer != "target":
                self.set_active_layer("target")

    def _cancel_tool(self) -> None:
        for tool in self._tools.values():
            tool.cancel()
        self._gesture_button = None

    # --- view -----------------------------------------------------------------------------

    def on_zoom_changed(self) -> None:
        # Smooth when shrinking a large image, nearest neighbour when inspecting pixels.
        smooth = self.zoom() < 1.0
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        self._image_item.setTransformationMode(mode)
        self._update_brush_cursor()

    def pan_mode(self) -> bool:
        return self._tool_name == "pan"

    # --- mouse and keyboard ------------------------------------------------------------------

    def _tool_event(self, event, erase: bool = False) -> ToolEvent:
        view = QPointF(event.position())
        return ToolEvent(scene=self.to_scene(view), view=view, erase=erase)

    def _tool_press(self, event, double_click: bool) -> None:
        button = event.button()
        if button not in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton) or self._gesture_button is not None:
            return
        self._gesture_button = button
        tool_event = self._tool_event(event, erase=button == Qt.MouseButton.RightButton)
        tool = self._tools[self._tool_name]
        if double_click:
            tool.double_click(tool_event)
        else:
            tool.press(tool_event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt override)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if not self.start_pan(event):
            self._tool_press(event, double_click=False)
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        if not self.start_pan(event):
            self._tool_press(event, double_click=True)
        event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        tool_event = self._tool_event(event)
        if not self.continue_pan(event):
            self._tools[self._tool_name].move(tool_event, dragging=self._gesture_button is not None)
        row, column = tool_event.pixel
        height, width = self._layers.shape
        if 0 <= row < height and 0 <= column < width:
            self.cursorMoved.emit(column, row)
        self._update_brush_cursor(tool_event.scene)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if not self.finish_pan(event) and event.button() == self._gesture_button:
            self._gesture_button = None
            self._tools[self._tool_name].release(self._tool_event(event))
        event.accept()

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._cursor_centre = None
        self._brush_cursor.setVisible(False)
        super().leaveEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self._tools[self._tool_name].commit()
        elif event.key() == Qt.Key.Key_Escape:
            self._cancel_tool()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def update_cursor(self) -> None:
        super().update_cursor()
        self._update_brush_cursor()

    def _update_brush_cursor(self, scene_point: QPointF | None = None) -> None:
        """Circle showing the brush footprint under the mouse (brush and eraser only)."""
        if scene_point is not None:
            self._cursor_centre = QPointF(np.floor(scene_point.x()) + 0.5, np.floor(scene_point.y()) + 0.5)
        centre = self._cursor_centre
        show = self._tool_name in ("brush", "eraser") and not self.space_held() and centre is not None
        self._brush_cursor.setVisible(show)
        if show:
            radius = self._brush_size / 2.0
            self._brush_cursor.setRect(QRectF(centre.x() - radius, centre.y() - radius, 2 * radius, 2 * radius))

    # --- shortcut actions -----------------------------------------------------------------------

    def step_brush_size(self, direction: int) -> None:
        """[ and ]: about 15 % per press, at least one pixel, so small and large brushes both adjust quickly."""
        step = max(1, round(self._brush_size * 0.15))
        self.set_brush_size(self._brush_size + direction * step)

    def choose_label(self, class_id: int) -> None:
        """Number keys: select a label if the model has that many classes."""
        if class_id < len(self._class_names):
            self.set_current_label(class_id)
