"""Draw the application icon into resources/icons/segattack.png (a target mask over an image tile).

    QT_QPA_PLATFORM=offscreen python scripts/draw_icon.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPen, QPixmap

SIZE = 256
OUT = Path(__file__).resolve().parents[1] / "resources" / "icons" / "segattack.png"


def draw(size: int) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    unit = size / 16
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(40, 52, 70))  # the image tile
    painter.drawRoundedRect(QRectF(0.5 * unit, 0.5 * unit, 15 * unit, 15 * unit), 3 * unit, 3 * unit)
    painter.setBrush(QColor(0, 158, 115, 230))  # the painted target (Okabe-Ito green)
    painter.drawEllipse(QPointF(8 * unit, 8 * unit), 5 * unit, 5 * unit)
    painter.setPen(QPen(QColor(240, 150, 0), max(1.0, 1.4 * unit)))  # and its inner class
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(QPointF(8 * unit, 8 * unit), 2.2 * unit, 2.2 * unit)
    painter.end()
    return pixmap


if __name__ == "__main__":
    app = QGuiApplication(sys.argv)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if not draw(SIZE).save(str(OUT)):
        sys.exit(f"cannot write {OUT}")
    print(f"wrote {OUT}")
