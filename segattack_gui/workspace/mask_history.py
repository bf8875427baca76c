"""Undo/redo for painted masks as bounding-box patches (no Qt).

A full copy of a 1024 x 1024 mask per step would cost a megabyte per brush
stroke; a stroke usually touches a small box, so each step stores only that
box before and after. Steps are whole operations (a stroke, a fill, a
transform), never single mouse moves.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

__all__ = ["LayerEdit", "MaskHistory"]


@dataclass(frozen=True)
class LayerEdit:
    """One undoable operation on one layer: the changed box before and after."""

    layer: str
    top: int
    left: int
    before: np.ndarray
    after: np.ndarray

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right), bottom and right exclusive."""
        height, width = self.before.shape
        return (self.top, self.left, self.top + height, self.left + width)

    @property
    def nbytes(self) -> int:
        return self.before.nbytes + self.after.nbytes

    @classmethod
    def between(cls, layer: str, old: np.ndarray, new: np.ndarray) -> LayerEdit | None:
        """The edit turning ``old`` into ``new`` (same shape), or None when they are equal."""
        rows = np.flatnonzero((old != new).any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero((old[rows[0] : rows[-1] + 1] != new[rows[0] : rows[-1] + 1]).any(axis=0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        return cls(layer, int(rows[0]), int(cols[0]), old[box].copy(), new[box].copy())


class MaskHistory:
    """Bounded undo and redo stacks of :class:`LayerEdit`.

    Keeps at most ``max_levels`` steps and about ``max_bytes`` of patches;
    the oldest steps go first. A new edit clears the redo stack.
    """

    def __init__(self, max_levels: int = 100, max_bytes: int = 256 * 2**20):
        self.max_levels = max_levels
        self.max_bytes = max_bytes
        self._undo: deque[LayerEdit] = deque()
        self._redo: list[LayerEdit] = []
        self._bytes = 0

    def push(self, edit: LayerEdit) -> None:
        self._undo.append(edit)
        self._bytes += edit.nbytes
        self._redo.clear()
        while len(self._undo) > self.max_levels or (self._bytes > self.max_bytes and len(self._undo) > 1):
            self._bytes -= self._undo.popleft().nbytes

    def take_undo(self) -> LayerEdit | None:
        """The edit to revert (apply its ``before``), moved to the redo stack."""
        if not self._undo:
            return None
        edit = self._undo.pop()
        self._bytes -= edit.nbytes
        self._redo.append(edit)
        return edit

    def take_redo(self) -> LayerEdit | None:
        """The edit to re-apply (apply its ``after``), moved back to the undo stack."""
        if not self._redo:
            return None
        edit = self._redo.pop()
        self._undo.append(edit)
        self._bytes += edit.nbytes
        return edit

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the undo stack's patches."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._undo)
