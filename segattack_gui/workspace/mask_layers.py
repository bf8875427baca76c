"""The two painted layers of a canvas and their shared history (no Qt).

``target`` holds the class ids the user wants the model to predict;
``region`` marks the pixels the attack may change. Every change goes
through :class:`MaskLayers`, which returns the box it touched so the canvas
repaints only that box, and records whole operations for undo.
"""

from __future__ import annotations

import numpy as np

from .mask_history import LayerEdit, MaskHistory

__all__ = ["LAYERS", "Box", "MaskLayers"]

LAYERS = ("target", "region")
Box = tuple[int, int, int, int]
"""(top, left, bottom, right) in image pixels, bottom and right exclusive."""


class MaskLayers:
    """Target (uint8 class ids) and region (bool) arrays of one image, with undo."""

    def __init__(self, shape: tuple[int, int] = (1, 1), max_undo: int = 100):
        self.history = MaskHistory(max_levels=max_undo)
        self._stroke: tuple[str, np.ndarray] | None = None
        self.reset(shape)

    def reset(self, shape: tuple[int, int]) -> None:
        """Background target, everything allowed, no history."""
        self.target = np.zeros(shape, dtype=np.uint8)
        self.region = np.ones(shape, dtype=bool)
        self.history.clear()
        self._stroke = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.target.shape

    def array(self, layer: str) -> np.ndarray:
        if layer not in LAYERS:
            raise ValueError(f"unknown layer {layer!r}; expected one of {LAYERS}")
        return self.target if layer == "target" else self.region

    # --- operations made of several paint calls (a stroke, a shape) ---------

    def begin(self, layer: str) -> None:
        """Start an operation on ``layer``; paint calls until :meth:`finish` form one undo step."""
        self._stroke = (layer, self.array(layer).copy())

    @property
    def in_operation(self) -> bool:
        return self._stroke is not None

    def paint(self, top: int, left: int, patch: np.ndarray, value: int | bool) -> Box | None:
        """Set ``value`` where ``patch`` (a bool box at top, left) is True; returns the box touched."""
        if self._stroke is None:
            raise RuntimeError("paint() outside begin()/finish()")
        layer = self.array(self._stroke[0])
        height, width = patch.shape
        box = (top, left, top + height, left + width)
        layer[box[0] : box[2], box[1] : box[3]][patch] = value
        return box

    def finish(self) -> LayerEdit | None:
        """Close the operation and record it; None when it changed nothing."""
        if self._stroke is None:
            return None
        layer, before = self._stroke
        self._stroke = None
        edit = LayerEdit.between(layer, before, self.array(layer))
        if edit is not None:
            self.history.push(edit)
        return edit

    def cancel(self) -> Box | None:
        """Abandon the operation and restore the layer; returns the box to repaint."""
        if self._stroke is None:
            return None
        layer, before = self._stroke
        self._stroke = None
        edit = LayerEdit.between(layer, self.array(layer), before)
        if edit is None:
            return None
        self.array(layer)[...] = before
        return edit.box

    # --- whole-layer changes and history -------------------------------------

    def replace(self, layer: str, new: np.ndarray) -> LayerEdit | None:
        """Swap in a whole new array as one undo step; None when nothing changed."""
        current = self.array(layer)
        new = np.asarray(new)
        if new.shape != current.shape:
            raise ValueError(f"{layer} mask has shape {new.shape}, the image is {current.shape}")
        new = new.astype(current.dtype, copy=False)
        edit = LayerEdit.between(layer, current, new)
        if edit is not None:
            self.history.push(edit)
            current[...] = new
        return edit

    def undo(self) -> LayerEdit | None:
        edit = self.history.take_undo()
        if edit is not None:
            self._apply(edit, edit.before)
        return edit

    def redo(self) -> LayerEdit | None:
        edit = self.history.take_redo()
        if edit is not None:
            self._apply(edit, edit.after)
        return edit

    def _apply(self, edit: LayerEdit, patch: np.ndarray) -> None:
        top, left, bottom, right = edit.box
        self.array(edit.layer)[top:bottom, left:right] = patch
