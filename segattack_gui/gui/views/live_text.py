"""A one-line read-out that may change many times a second without relayouting the window.

``QLabel.setText`` calls ``updateGeometry``, which invalidates every layout up to the main
window; a caption that changes with each redraw made Qt relayout and repaint the whole
window several times a second during an attack (measured: more layout requests on the
main window than redraws of the views). :class:`LiveText` keeps one size hint, set from
a sample of its longest expected text, so changing the text only repaints the text.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget


class LiveText(QWidget):
    """Text drawn elided to the widget's width; its size hint never follows the text."""

    def __init__(self, text: str = "", widest: str = "", parent: QWidget | None = None,
                 alignment: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft):
        super().__init__(parent)
        self._text = text
        self._widest = widest or text
        self._alignment = alignment | Qt.AlignmentFlag.AlignVCenter
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        # It paints its own background, so a new text repaints this widget alone, not its parents.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAutoFillBackground(False)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name, so it drops in for one)
        if text != self._text:
            self._text = text
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        metrics = self.fontMetrics()
        return QSize(metrics.horizontalAdvance(self._widest) + 4, metrics.height() + 2)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(0, self.fontMetrics().height() + 2)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()))
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.rect().adjusted(2, 0, -2, 0)
        shown = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, self._alignment, shown)
        painter.end()
