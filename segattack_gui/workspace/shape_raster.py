"""Pixel sets of brush strokes and shapes, as boxes of booleans (no Qt).

Coordinates are (y, x) in pixel-index space: pixel (i, j) has its centre at
(i, j). A pixel belongs to a shape when its centre does, so results do not
depend on zoom. Every function returns ``(top, left, patch)`` clipped to the
image, or None when the shape misses the image entirely; painting then
touches only that box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["Patch", "stroke_segment", "rectangle", "ellipse", "polygon"]

Patch = tuple[int, int, np.ndarray]
Point = tuple[float, float]


def _clip_box(shape: tuple[int, int], top: float, left: float, bottom: float, right: float):
    """Integer box (inclusive bounds rounded outwards) clipped to the image, or None."""
    height, width = shape
    y0, x0 = max(0, math.ceil(top - 1e-9)), max(0, math.ceil(left - 1e-9))
    y1, x1 = min(height - 1, math.floor(bottom + 1e-9)), min(width - 1, math.floor(right + 1e-9))
    if y0 > y1 or x0 > x1:
        return None
    return y0, x0, y1 + 1, x1 + 1


def stroke_segment(shape: tuple[int, int], start: Point, end: Point, radius: float) -> Patch | None:
    """Pixels within ``radius`` of the segment start-end: a round dab swept along a mouse move.

    Sweeping the whole segment (not dabs every few pixels) leaves no gaps
    however fast the mouse moved.
    """
    (ay, ax), (by, bx) = start, end
    box = _clip_box(shape, min(ay, by) - radius, min(ax, bx) - radius, max(ay, by) + radius, max(ax, bx) + radius)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    dy, dx = by - ay, bx - ax
    length2 = dy * dy + dx * dx
    if length2 == 0:
        t = 0.0
    else:
        t = np.clip(((ys - ay) * dy + (xs - ax) * dx) / length2, 0.0, 1.0)
    dist2 = (ys - (ay + t * dy)) ** 2 + (xs - (ax + t * dx)) ** 2
    return y0, x0, dist2 <= radius * radius + 1e-9


def rectangle(shape: tuple[int, int], corner: Point, opposite: Point) -> Patch | None:
    """The pixels of the box spanned by two corner pixels, both included."""
    (ay, ax), (by, bx) = corner, opposite
    box = _clip_box(shape, min(ay, by), min(ax, bx), max(ay, by), max(ax, bx))
    if box is None:
        return None
    y0, x0, y1, x1 = box
    return y0, x0, np.ones((y1 - y0, x1 - x0), dtype=bool)


def ellipse(shape: tuple[int, int], corner: Point, opposite: Point) -> Patch | None:
    """The ellipse inscribed in :func:`rectangle` of the same corners (one pixel for one corner)."""
    (ay, ax), (by, bx) = corner, opposite
    cy, cx = (ay + by) / 2.0, (ax + bx) / 2.0
    # Half a pixel more than the centre-to-centre half extent, so the ellipse
    # reaches the corner pixels' rows and columns, like the rectangle.
    ry, rx = abs(by - ay) / 2.0 + 0.5, abs(bx - ax) / 2.0 + 0.5
    box = _clip_box(shape, cy - ry, cx - rx, cy + ry, cx + rx)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    ys = (np.arange(y0, y1, dtype=np.float64)[:, None] - cy) / ry
    xs = (np.arange(x0, x1, dtype=np.float64)[None, :] - cx) / rx
    return y0, x0, ys * ys + xs * xs <= 1.0 + 1e-9


def polygon(shape: tuple[int, int], points: Sequence[Point]) -> Patch | None:
    """Inside of a closed polygon (even-odd rule) plus its outline, for polygon and lasso fills.

    Scanline: for each row, the x of every edge crossing it toggles the
    inside state of all pixels to its right; a cumulative sum turns the
    toggles into inside/outside. O(rows x edges), no per-pixel edge loop.
    """
    if len(points) == 0:
        return None
    vertices = np.asarray(points, dtype=np.float64)
    (top, left), (bottom, right) = vertices.min(axis=0) - 0.5, vertices.max(axis=0) + 0.5  # room for the outline
    box = _clip_box(shape, top, left, bottom, right)
    if box is None:
        return None
    y0, x0, y1, x1 = box
    patch = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    if len(vertices) >= 3:
        ay, ax = vertices[:, 0], vertices[:, 1]
        by, bx = np.roll(ay, -1), np.roll(ax, -1)
        rows = np.arange(y0, y1, dtype=np.float64)[:, None]
        low, high = np.minimum(ay, by), np.maximum(ay, by)
        # Half-open rule: an edge counts for rows in [low, high), so a vertex
        # shared by two edges is not counted twice.
        crosses = (rows >= low) & (rows < high)
        with np.errstate(divide="ignore", invalid="ignore"):
            cross_x = ax + (rows - ay) * (bx - ax) / (by - ay)
        row_index, edge_index = np.nonzero(crosses)
        first_inside = np.ceil(cross_x[row_index, edge_index] - 1e-9).astype(np.int64) - x0
        first_inside = np.clip(first_inside, 0, x1 - x0)
        toggles = np.zeros((y1 - y0, x1 - x0 + 1), dtype=np.int32)
        np.add.at(toggles, (row_index, first_inside), 1)
        patch |= (np.cumsum(toggles[:, :-1], axis=1) % 2).astype(bool)
    closed = list(map(tuple, vertices)) + [tuple(vertices[0])]
    for start, end in zip(closed[:-1], closed[1:]):
        segment = stroke_segment(shape, start, end, 0.5)
        if segment is not None:
            top, left, outline = segment
            patch[top - y0 : top - y0 + outline.shape[0], left - x0 : left - x0 + outline.shape[1]] |= outline
    return y0, x0, patch
