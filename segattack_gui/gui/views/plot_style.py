"""One look for every pyqtgraph item: dark text on a light background, images row-major."""

from __future__ import annotations

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
