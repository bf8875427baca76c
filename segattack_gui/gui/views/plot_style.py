"""One look for every pyqtgraph item: dark text on a light background, images row-major."""

from __future__ import annotations

import math

import pyqtgraph as pg

BACKGROUND = "w"
FOREGROUND = "k"
IMAGE_BACKGROUND = "#e8e8e8"

CURVE_COLORS = {
    "iou": (0, 114, 178),
    "pixel_accuracy": (230, 159, 0),
    "dice": (0, 158, 115),
    "l2": (213, 94, 0),
    "linf": (204, 121, 167),
    "multiplier": (86, 120, 40),
    "loss": (80, 80, 80),
}


def configure() -> None:
    """Global pyqtgraph options; idempotent, called before the first plot is built."""
    pg.setConfigOptions(background=BACKGROUND, foreground=FOREGROUND, antialias=False, imageAxisOrder="row-major")


def pen(name: str, width: float = 2.0):
    return pg.mkPen(color=CURVE_COLORS.get(name, (60, 60, 60)), width=width)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``value`` (> 0)."""
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0 ** exponent
        if candidate >= value * (1 - 1e-12):
            return candidate
    return 10.0 ** (exponent + 1)
