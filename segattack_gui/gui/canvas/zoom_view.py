"""A QGraphicsView that zooms about the mouse and pans by middle button, Space-drag or a pan mode.

Kept apart from the painting canvas so navigation (view transform, scroll
bars, hand cursors) and editing (tools, layers) stay one job each.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView

__all__ = ["ZoomPanView"]

MAX_ZOOM = 64.0
"""Screen pixels per scene unit at most: enough to inspect single image pixels."""
WHEEL_STEP = 1.25


class ZoomPanView(QGraphicsView):
    """Navigation for a content rectangle (the image) in scene units."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(38, 40, 44))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Zoom anchoring is done by hand (see zoom_by): Qt's AnchorUnderMouse reads
        # the global cursor, which synthetic and offscreen events do not move.
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self._content = QRectF(0, 0, 1, 1)
        self._pan_from: QPointF | None = None
        self._pan_button: Qt.MouseButton | None = None
        self._space_held = False
        self._fit_pending = True  # refit on resize until the user zooms or pans

    # --- content and zoom ------------------------------------------------------------

    def set_content_rect(self, rect: QRectF) -> None:
        """The area to show; the scene extends one content size beyond it on each side
        so the image can be panned to any edge of the window."""
        self._content = QRectF(rect)
        margin = max(rect.width(), rect.height())
        self.scene().setSceneRect(rect.adjusted(-margin, -margin, margin, margin))
        self.zoom_to_fit()
        self._fit_pending = True

    def zoom_to_fit(self) -> None:
        """Show the whole content, centred."""
        self.fitInView(self._content, Qt.AspectRatioMode.KeepAspectRatio)
        self.on_zoom_changed()

    def zoom(self) -> float:
        """Screen pixels per scene unit (per image pixel)."""
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the scene point under ``anchor`` (viewport coordinates) in place."""
        anchor = QPointF(self.viewport().rect().center()) if anchor is None else QPointF(anchor)
        fit = min(self.viewport().width() / self._content.width(), self.viewport().height() / self._content.height())
        target = float(np.clip(self.zoom() * factor, min(fit, 1.0) / 4.0, MAX_ZOOM))
        before = self.to_scene(anchor)
        self.scale(target / self.zoom(), target / self.zoom())
        after = self.mapFromScene(before)
        self._scroll_by(after.x() - anchor.x(), after.y() - anchor.y())
        self._fit_pending = False
        self.on_zoom_changed()

    def on_zoom_changed(self) -> None:
        """Hook for subclasses (cursor outlines, resampling mode)."""

    def to_scene(self, view_point: QPointF) -> QPointF:
        """Viewport -> scene without the integer rounding of ``mapToScene(QPoint)``."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(view_point))

    def _scroll_by(self, dx: float, dy: float) -> None:
        for bar, delta in ((self.horizontalScrollBar(), dx), (self.verticalScrollBar(), dy)):
            bar.setValue(bar.value() + round(delta))

    def wheelEvent(self, event) -> None:  # noqa: N802 (Qt override)
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(WHEEL_STEP**steps, event.position())
        event.accept()

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fit_pending:
            self.zoom_to_fit()

    # --- panning ----------------------------------------------------------------------

    def pan_mode(self) -> bool:
        """True when a plain left drag should pan (subclasses: a pan tool)."""
        return False

    def start_pan(self, event) -> bool:
        """Begin a pan for a middle press, or a left press with Space held or in pan mode."""
        button = event.button()
        pans = button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and (self._space_held or self.pan_mode())
        )
        if not pans or self._pan_from is not None:
            return pans
        self._pan_from, self._pan_button = QPointF(event.position()), button
        self.update_cursor()
        return True

    def continue_pan(self, event) -> bool:
        if self._pan_from is None:
            return False
        delta = QPointF(event.position()) - self._pan_from
        self._pan_from = QPointF(event.position())
        self._scroll_by(-delta.x(), -delta.y())
        self._fit_pending = False
        return True

    def finish_pan(self, event) -> bool:
        if self._pan_from is None or event.button() != self._pan_button:
            return False
        self._pan_from = self._pan_button = None
        self.update_cursor()
        return True

    def space_held(self) -> bool:
        return self._space_held

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = True
            self.update_cursor()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_held = False
            self.update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space_held = False  # the Space release may go to another widget
        self.update_cursor()
        super().focusOutEvent(event)

    def update_cursor(self) -> None:
        """Closed hand while dragging, open hand when a drag would pan, else a cross."""
        if self._pan_from is not None:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space_held or self.pan_mode():
            shape = Qt.CursorShape.OpenHandCursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.viewport().setCursor(shape)
