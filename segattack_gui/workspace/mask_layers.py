"""The two painted layers of an image and their shared history (no Qt).

``target`` holds the class ids the user wants the model to predict;
``region`` holds the pixels painted as "may change". Nothing painted on the region means
no limit: every pixel may change (:meth:`MaskLayers.region_limit` is then None), so the
first stroke on the region layer is what limits the attack, and is seen to.

Every change goes through :class:`MaskLayers`, which returns the box it touched so a view
repaints only that box, records whole operations for undo, counts a revision per layer
(what a run or a saved file was made from is then a number, not a copy or an object
identity) and tells its listeners. The window's document owns one; the canvas draws and
edits that same object, so there is one copy of the masks, never two kept in step.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .mask_history import LayerEdit, MaskHistory

__all__ = ["LAYERS", "Box", "MaskLayers"]

LAYERS = ("target", "region")
Box = tuple[int, int, int, int]
"""(top, left, bottom, right) in image pixels, bottom and right exclusive."""

Listener = Callable[[str, "Box | None"], None]
"""Called as ``listener(layer, box)`` after a finished change; ``box`` None means the whole layer."""


class MaskLayers:
    """Target (uint8 class ids) and region (bool) arrays of one image, with undo."""

    def __init__(self, shape: tuple[int, int] = (1, 1), max_undo: int = 100):
        self.history = MaskHistory(max_levels=max_undo)
        self.revision = dict.fromkeys(LAYERS, 0)
        self._listeners: list[Listener] = []
        self._stroke: tuple[str, np.ndarray] | None = None
        self.reset(shape)

    def reset(self, shape: tuple[int, int]) -> None:
        """Background target, no region painted (every pixel may change), no history: a new image."""
        self.target = np.zeros(shape, dtype=np.uint8)
        self.region = np.zeros(shape, dtype=bool)
        self.history.clear()
        self._stroke = None
        for layer in LAYERS:
            self._changed(layer, None)

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(layer, box)`` after every finished change (not during a stroke)."""
        self._listeners.append(listener)

    def _changed(self, layer: str, box: Box | None) -> None:
        self.revision[layer] += 1
        for listener in list(self._listeners):
            listener(layer, box)

    def region_limit(self) -> np.ndarray | None:
        """The pixels the attack may change (bool, a copy), or None: nothing painted, no limit."""
        return self.region.copy() if self.region.any() else None

    def set_region_limit(self, allowed: np.ndarray | None) -> LayerEdit | None:
        """Replace the region (one undo step); None or an all-True mask mean no limit."""
        if allowed is None or bool(np.all(allowed)):
            allowed = np.zeros(self.shape, dtype=bool)
        return self.replace("region", np.asarray(allowed, dtype=bool))

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
            self._changed(layer, edit.box)
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
            self._changed(layer, edit.box)
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
        self._changed(edit.layer, edit.box)
