"""Render the painting canvas and its palette offscreen to a PNG, to look at them without a display.

    python scripts/screenshot_canvas.py [OUT.png] [--region]     (default /tmp/canvas.png)

``--region`` shows the perturbation-region layer active instead of the target.

A synthetic fundus-like image, a painted target (vessel strokes and a disc),
a perturbation region with a forbidden band, and the brush cursor.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QHBoxLayout, QWidget  # noqa: E402

from segattack_gui.core import masks  # noqa: E402
from segattack_gui.gui.canvas.label_palette import LabelPalette  # noqa: E402
from segattack_gui.gui.canvas.mask_canvas import MaskCanvas  # noqa: E402


def fundus_like(size: int = 256) -> np.ndarray:
    """A reddish disc with a bright optic disc and dark vessel-like curves."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    radius = np.hypot(ys - 0.5, xs - 0.5)
    field = np.clip(1.2 - 2.2 * radius, 0, 1)
    disc = np.exp(-(((ys - 0.45) ** 2 + (xs - 0.68) ** 2) / 0.004))
    vessels = np.zeros_like(field)
    for phase in (0.0, 1.3, 2.6, 4.0):
        curve = 0.45 + 0.25 * np.sin(6 * xs + phase) * (xs - 0.68)
        vessels += np.exp(-((ys - curve) ** 2) / 0.00012)
    vessels = np.clip(vessels, 0, 1) * (radius < 0.45) * (1 - disc)
    darker = 1.0 - 0.55 * vessels
    red = field * (0.78 + 0.22 * disc) * darker
    green = field * (0.30 + 0.55 * disc) * darker
    blue = field * (0.10 + 0.45 * disc) * darker
    return np.clip(np.stack([red, green, blue], axis=2), 0, 1).astype(np.float32)


def main(path: str = "/tmp/canvas.png", region_active: bool = False) -> None:
    app = QApplication.instance() or QApplication(sys.argv)
    window = QWidget()
    window.setWindowTitle("SegAttack canvas")
    layout = QHBoxLayout(window)
    canvas = MaskCanvas()
    canvas.set_image(fundus_like())
    canvas.set_classes(["background", "vessel", "optic disc"], [(0, 0, 0), (235, 64, 52), (66, 170, 255)])
    palette = LabelPalette(canvas)
    palette.setFixedWidth(290)
    layout.addWidget(canvas, stretch=1)
    layout.addWidget(palette)
    window.resize(1000, 640)
    window.show()
    app.processEvents()

    target = np.zeros(canvas.image_shape(), np.uint8)
    ys, xs = np.indices(target.shape)
    target[(ys - 115) ** 2 + (xs - 174) ** 2 <= 22**2] = 2
    for phase in (0.0, 2.6):
        curve = (0.45 + 0.25 * np.sin(6 * xs / 256 + phase) * (xs / 256 - 0.68)) * 256
        target[(np.abs(ys - curve) <= 2) & ((ys - 128) ** 2 + (xs - 128) ** 2 < 110**2)] = 1
    canvas.set_target(target)
    canvas.apply_transform(lambda mask: masks.dilate(mask, 1, 1))
    region = np.ones(target.shape, bool)
    region[:, :40] = False
    canvas.set_region(region)
    canvas.set_brush_size(14)
    if region_active:
        canvas.set_active_layer("region")
    # Hover the mouse over the image so the brush outline shows.
    hover = canvas.mapFromScene(QPointF(90, 190))
    QApplication.sendEvent(
        canvas.viewport(),
        QMouseEvent(QEvent.Type.MouseMove, QPointF(hover), QPointF(canvas.viewport().mapToGlobal(hover)),
                    Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier),
    )
    app.processEvents()
    window.grab().save(path)
    print(path)
    window.close()


if __name__ == "__main__":
    arguments = [argument for argument in sys.argv[1:] if argument != "--region"]
    main(*arguments, region_active="--region" in sys.argv[1:])
