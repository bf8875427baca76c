"""A graphics item that shows a class-id layer as coloured pixels over the image.

The item owns one ARGB32 QImage and a NumPy view of its memory; repainting a
box is a lookup-table gather into that view plus ``update(box)``, so a brush
stroke costs its own bounding box, not the whole image, per mouse move.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

__all__ = ["MaskOverlayItem", "REGION_OVERLAY_RGBA", "REGION_HATCH", "argb_lookup", "class_colour_fallback"]


def argb_lookup(colours: dict[int, tuple[int, int, int, int]], size: int = 256) -> np.ndarray:
    """Premultiplied 0xAARRGGBB values for codes 0..size-1; codes not given are transparent."""
    lut = np.zeros(size, dtype=np.uint32)
    for code, (red, green, blue, alpha) in colours.items():
        scale = alpha / 255.0
        premultiplied = [round(channel * scale) for channel in (red, green, blue)]
        lut[code] = (alpha << 24) | (premultiplied[0] << 16) | (premultiplied[1] << 8) | premultiplied[2]
    return lut


class MaskOverlayItem(QGraphicsItem):
    """Image-sized item in scene coordinates (one scene unit = one image pixel)."""

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._lut = np.zeros(256, dtype=np.uint32)
        self._hatch: QBrush | None = None
        self.resize(1, 1)

    def resize(self, height: int, width: int) -> None:
        """New transparent image of the given size."""
        self.prepareGeometryChange()
        self._image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
        self._image.fill(0)
        # ARGB32 pixels are native-endian 32-bit words, so a uint32 view needs no byte order care.
        self._pixels = np.frombuffer(self._image.bits(), dtype=np.uint32).reshape(
            height, self._image.bytesPerLine() // 4
        )[:, :width]
        self.update()

    def set_lookup(self, lut: np.ndarray) -> None:
        """Colours per code (see :func:`argb_lookup`); call :meth:`refresh` afterwards."""
        self._lut = np.asarray(lut, dtype=np.uint32)

    def refresh(self, codes: np.ndarray, top: int = 0, left: int = 0) -> None:
        """Recolour the box of ``codes`` (small ints) placed at (top, left) and schedule its repaint."""
        height, width = codes.shape
        self._pixels[top : top + height, left : left + width] = self._lut[codes]
        self.update(QRectF(left, top, width, height))

    def image(self) -> QImage:
        """The overlay as shown (without the item's opacity): for screenshots and tests."""
        return self._image

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt override)
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        exposed = option.exposedRect.toAlignedRect().intersected(self._image.rect())
        if exposed.isEmpty():
            return
        # Nearest-neighbour scaling: zoomed-in labels stay crisp squares.
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self._hatch is None:
            painter.drawImage(QRectF(exposed), self._image, QRectF(exposed))
            return
        # Hatching in screen space (crisp lines at any zoom): draw the tinted
        # pixels into a screen-sized buffer, stripe only where it has alpha.
        device = painter.transform().mapRect(QRectF(exposed)).toAlignedRect()
        if device.isEmpty():
            return
        buffer = QImage(device.size(), QImage.Format.Format_ARGB32_Premultiplied)
        buffer.fill(0)
        layer = QPainter(buffer)
        layer.setTransform(painter.transform() * QTransform.fromTranslate(-device.x(), -device.y()))
        layer.drawImage(QRectF(exposed), self._image, QRectF(exposed))
        layer.resetTransform()
        layer.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceAtop)
        layer.setBrushOrigin(-device.x(), -device.y())
        layer.fillRect(buffer.rect(), self._hatch)
        layer.end()
        painter.save()
        painter.resetTransform()
        painter.drawImage(device.topLeft(), buffer)
        painter.restore()

    def set_hatch(self, colour: QColor | None, spacing: int = 9, width: float = 2.0) -> None:
        """Stripe coloured pixels with diagonal lines of ``colour`` (screen pixels apart), or plain (None)."""
        if colour is None:
            self._hatch = None
        else:
            tile = QImage(spacing, spacing, QImage.Format.Format_ARGB32_Premultiplied)
            tile.fill(0)
            tile_painter = QPainter(tile)
            tile_painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            tile_painter.setPen(QPen(colour, width))
            for offset in (-spacing, 0, spacing):  # wrap the line across the tile edges
                tile_painter.drawLine(QPointF(offset, spacing), QPointF(offset + spacing, 0))
            tile_painter.end()
            self._hatch = QBrush(tile)
        self.update()


REGION_OVERLAY_RGBA = {1: (24, 30, 56, 150)}
"""Forbidden pixels: a dark blue-grey tint (hatched on screen); allowed pixels show the image unchanged."""
REGION_HATCH = QColor(150, 170, 230, 200)


def class_colour_fallback(class_id: int) -> tuple[int, int, int]:
    """A distinct colour for ids beyond the palette (golden-angle hues), so nothing paints invisibly."""
    colour = QColor.fromHsvF(((class_id * 0.618033988749895) % 1.0), 0.75, 0.95)
    return (colour.red(), colour.green(), colour.blue())
