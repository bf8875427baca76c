"""Live views of a running attack: the adversarial image, its prediction against the target,
and the perturbation heatmap with a colour bar.

All three draw one :class:`ShownFrame` (the newest snapshot or a replayed one), chosen by
:func:`shown_frame` from the document. Document changes only mark the views dirty; a
coalescing timer redraws them (see :mod:`refresh`), so drawing never keeps pace with the
attack. Images use pyqtgraph ``ImageItem`` with levels set here, never auto-levels. A greyscale
DICOM or NIfTI image is drawn through the canvas's display window (``set_display_window``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Signal, Slot
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ...workspace.display_window import DisplayWindow, has_window, windowed_adversarial
from ...workspace.shown_frame import (
    AGREE,
    AGREEMENT_COLORS,
    EXTRA,
    MISSING,
    OUTSIDE,
    ShownFrame,
    agreement_map,
    shown_frame,
)
from ...workspace.snapshot_store import to_uint8_fast
from . import plot_style
from .live_text import LiveText
from ...io.heatmaps import HeatmapStyle, scale_top
from .refresh import CoalescingRefresh

AMPLIFICATIONS = (None, 1, 2, 5, 10, 20, 50, 100)
"""None: "auto", the scale tops out at the 99th percentile of the moved pixels (the exports' default too)."""
CHANNEL_NAMES = {1: ("grey",), 3: ("red", "green", "blue")}
LEGEND_WORDS = {AGREE: "agree", MISSING: "missing", EXTRA: "extra", OUTSIDE: "no output"}
FOOTER_HEIGHT = 26


def display_uint8(pixels: np.ndarray) -> np.ndarray:
    """An image as the views draw it: uint8 (as kept), H x W for one channel, H x W x 3 otherwise."""
    shown = pixels if pixels.dtype == np.uint8 else to_uint8_fast(pixels)
    return shown[..., 0] if shown.ndim == 3 and shown.shape[2] == 1 else shown


class ImagePanel(QWidget):
    """A titled image in a pyqtgraph view box: aspect locked, y pointing down, no axes."""

    def __init__(self, title: str, object_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(object_name)
        self.title_label = QLabel(title)
        self.title_label.setStyleSheet("font-weight: 600;")
        # Captions change every frame: they must never widen the panel or relayout the window.
        self.detail_label = LiveText("", widest="iteration 10000 / 10000")
        self.detail_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(plot_style.IMAGE_BACKGROUND)
        self.graphics.setMinimumSize(120, 120)
        self.graphics.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        self.view = self.graphics.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.0)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(2)
        self.layout_.addWidget(self.title_label)
        self.layout_.addWidget(self.detail_label)
        self.layout_.addWidget(self.graphics, 1)
        # One footer height for every panel (legend, heatmap controls, or nothing), so the three
        # images line up side by side.
        self.footer = QWidget()
        self.footer.setFixedHeight(FOOTER_HEIGHT)
        self.footer_layout = QHBoxLayout(self.footer)
        self.footer_layout.setContentsMargins(0, 0, 0, 0)
        self.footer_layout.setSpacing(4)
        self.layout_.addWidget(self.footer)
        self._shape: tuple[int, int] | None = None

    def set_caption(self, detail: str) -> None:
        self.detail_label.setText(detail)
        self.detail_label.setToolTip(detail)

    def _place(self, frame: ShownFrame, *items: pg.ImageItem) -> None:
        """Stretch the (maybe reduced) frame over the image's own extent, so coordinates stay image
        pixels; fit the view when the image size changes."""
        height, width = frame.image_shape
        extent = QRectF(0, 0, width, height)
        for item in items:
            item.setRect(extent)
        if frame.image_shape != self._shape:
            self._shape = frame.image_shape
            self.view.setRange(extent, padding=0.0)

    def clear(self) -> None:
        self.image_item.clear()
        self.set_caption("")


class AdversarialView(ImagePanel):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Adversarial image", "adversarialView", parent)

    def show_frame(self, frame: ShownFrame, pixels: np.ndarray) -> None:
        """``pixels``: the frame's adversarial as shown (kept uint8, or through a display window)."""
        self.image_item.setImage(display_uint8(pixels), autoLevels=False, levels=(0, 255))
        self._place(frame, self.image_item)
        if frame.iteration is None:
            self.set_caption("clean, no attack yet")
        else:
            self.set_caption(f"iteration {frame.iteration} / {frame.total_iterations}")


def _swatch(rgb: tuple[int, int, int]) -> QLabel:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(*rgb))
    label = QLabel()
    label.setPixmap(pixmap)
    return label


class PredictionView(ImagePanel):
    """The adversarial image, dimmed, under the agreement map of its prediction and the target."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Prediction vs target", "predictionView", parent)
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        lookup = np.zeros((256, 4), np.uint8)
        for code, (rgb, _) in AGREEMENT_COLORS.items():
            lookup[code] = (*rgb, 120 if code == 4 else 235)
        self.overlay_item.setLookupTable(lookup)
        self.overlay_item.setLevels((0, 255))
        self.view.addItem(self.overlay_item)
        self.overlay_item.setZValue(1)
        self.legend_entries = {}
        for code in (AGREE, MISSING, EXTRA, OUTSIDE):
            rgb, words = AGREEMENT_COLORS[code]
            entry = QWidget()
            row = QHBoxLayout(entry)
            row.setContentsMargins(0, 0, 6, 0)
            row.setSpacing(3)
            row.addWidget(_swatch(rgb))
            row.addWidget(QLabel(LEGEND_WORDS[code]))
            entry.setToolTip(words)
            self.footer_layout.addWidget(entry)
            self.legend_entries[code] = entry
        self.footer_layout.addStretch(1)
        self.legend_entries[OUTSIDE].setVisible(False)  # only where the model's output misses part of the image
        self.codes: np.ndarray | None = None

    def show_frame(self, frame: ShownFrame, pixels: np.ndarray) -> None:
        # Dimmed by its levels (white maps to 55 % grey), so the colours on top stand out; no copy needed.
        self.image_item.setImage(display_uint8(pixels), autoLevels=False, levels=(0, 255 / 0.55))
        self.codes = agreement_map(frame.prediction, frame.target)
        self.overlay_item.setImage(self.codes, autoLevels=False, levels=(0, 255))
        self._place(frame, self.image_item, self.overlay_item)
        self.legend_entries[OUTSIDE].setVisible(bool(frame.prediction is not None and (self.codes == OUTSIDE).any()))
        scores = (f"IoU {frame.metrics['iou']:.3f} · PA {frame.metrics['pixel_accuracy']:.3f}"
                  if "iou" in frame.metrics else "")
        if frame.prediction is None:
            self.set_caption("no prediction yet")
        elif frame.iteration is None:  # before any run: where the attack starts
            self.set_caption(f"{scores} (clean image)" if scores else "clean image")
        else:
            self.set_caption(scores)


class HeatmapView(ImagePanel):
    """Perturbation as magnitude (L2 over channels) or signed per channel, with a colour bar.

    Levels are set here, never auto-levelled: 0..top (or -top..top) where top is the
    largest perturbation of the newest frame, rounded up to 1, 2, 2.5 or 5 times a power of
    ten, divided by the amplification. A replayed
    early frame is drawn on the scale of the newest one, so the growth stays visible,
    and amplifying saturates the strongest pixels to reveal faint ones.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Perturbation", "heatmapView", parent)
        self.title_label.setToolTip("adversarial − original on the [0, 1] intensity scale; the colour bar gives values")
        self.colorbar = pg.ColorBarItem(colorMap="inferno", interactive=False, width=12, colorMapMenu=False,
                                        rounding=1e-12)
        self.colorbar.axis.enableAutoSIPrefix(False)
        self.colorbar.axis.setWidth(48)
        self.graphics.addItem(self.colorbar, row=0, col=1)
        self.colorbar.setImageItem(self.image_item)
        self.mode_combo = QComboBox()
        self.mode_combo.setObjectName("heatmapModeCombo")
        self.mode_combo.setToolTip("Magnitude: per-pixel L2 norm over channels of adversarial - original.\n"
                                   "Signed: one channel of adversarial - original (blue darker, red brighter).")
        self.amplify_combo = QComboBox()
        self.amplify_combo.setObjectName("heatmapAmplifyCombo")
        self.amplify_combo.setToolTip("Divide the colour scale by this factor: strong pixels saturate, faint ones show.")
        for factor in AMPLIFICATIONS:
            self.amplify_combo.addItem("auto" if factor is None else f"×{factor}", factor)
        for combo in (self.mode_combo, self.amplify_combo):  # they may narrow: the window must fit small screens
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.mode_combo.setMinimumContentsLength(6)
        self.amplify_combo.setMinimumContentsLength(3)
        self.footer_layout.addWidget(self.mode_combo, 1)
        self.footer_layout.addWidget(self.amplify_combo)
        self._channels = 0
        self._set_channels(3)

    def _set_channels(self, channels: int) -> None:
        if channels == self._channels:
            return
        self._channels = channels
        self.mode_combo.blockSignals(True)
        self.mode_combo.clear()
        self.mode_combo.addItem("magnitude |δ|", -1)
        names = CHANNEL_NAMES.get(channels, tuple(f"channel {index}" for index in range(channels)))
        for index, name in enumerate(names):
            self.mode_combo.addItem(f"signed δ, {name}", index)
        self.mode_combo.blockSignals(False)

    @property
    def amplification(self) -> float | None:
        """The chosen factor, or None for the "auto" (99th percentile) scale."""
        factor = self.amplify_combo.currentData()
        return None if factor is None else float(factor)

    def style(self) -> HeatmapStyle:
        """The view's mode and amplification, for the exported heatmap and figure."""
        channel = self.mode_combo.currentData()
        return HeatmapStyle(None if channel is None or channel < 0 else int(channel), self.amplification)

    def _top(self, frame: ShownFrame, peak: float) -> float:
        """The scale's top: the newest frame's peak over the factor, or its bulk for "auto"."""
        if self.amplification is None:
            return scale_top(frame.bulk_magnitude)
        return scale_top(peak, self.amplification)

    def show_frame(self, frame: ShownFrame) -> None:
        self._set_channels(frame.channels)
        channel = self.mode_combo.currentData()
        if channel is None or channel < 0:
            values = frame.kept.magnitude()
            top = self._top(frame, frame.peak_magnitude)
            levels, color_map, label = (0.0, top), "inferno", "|δ| (L2 over channels)"
        else:
            values = frame.kept.perturbation_channel(channel)
            top = self._top(frame, frame.peak_abs)
            levels, color_map, label = (-top, top), "CET-D1", f"δ {self.mode_combo.currentText().split(', ')[-1]}"
        if self.colorbar.colorMap().name != color_map:
            self.colorbar.setColorMap(pg.colormap.get(color_map))
        self.image_item.setImage(np.ascontiguousarray(values, dtype=np.float32), autoLevels=False)
        self.colorbar.setLevels(levels)
        self._place(frame, self.image_item)
        linf = frame.metrics.get("linf")
        self.set_caption(f"{label}, L∞ {linf:.2g}" if linf is not None else f"{label}, none yet")


class LiveViews(QWidget):
    """The three views side by side, redrawn together from the document."""

    redrawn = Signal()  # after each redraw, so the replay label names the iteration the views show

    def __init__(self, document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.adversarial_view = AdversarialView()
        self.prediction_view = PredictionView()
        self.heatmap_view = HeatmapView()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for view in (self.adversarial_view, self.prediction_view, self.heatmap_view):
            layout.addWidget(view, 1)
        self.refresh = CoalescingRefresh(self.redraw, interval_ms=125, parent=self)
        for signal in (document.imageChanged, document.modelChanged, document.targetChanged,
                       document.baselineChanged, document.baselineScored, document.runStarted,
                       document.snapshotAdded, document.runFinished, document.shownFrameChanged):
            signal.connect(self.refresh.mark_dirty)
        self.heatmap_view.mode_combo.currentIndexChanged.connect(self.refresh.mark_dirty)
        self.heatmap_view.amplify_combo.currentIndexChanged.connect(self.refresh.mark_dirty)
        self.display_window: DisplayWindow | None = None

    @Slot(object)
    def set_display_window(self, window: DisplayWindow | None) -> None:
        """Draw a greyscale medical image through ``window``, as the canvas shows it (None: as kept)."""
        self.display_window = window
        self.refresh.mark_dirty()

    def _shown_pixels(self, frame: ShownFrame) -> np.ndarray:
        image = self.document.image
        # a run made on another image, or another slice, stays as kept: this one's units would misread it
        of_another_image = frame.iteration is not None and "image" in self.document.run_differences()
        if self.display_window is None or frame.original is None or not has_window(image) or of_another_image:
            return frame.kept.adversarial
        return windowed_adversarial(frame.original, frame.kept.perturbation(), image, self.display_window)

    @Slot()
    def redraw(self) -> None:
        frame = shown_frame(self.document)
        if frame is None:
            for view in (self.adversarial_view, self.prediction_view, self.heatmap_view):
                view.clear()
            return
        pixels = self._shown_pixels(frame)
        self.adversarial_view.show_frame(frame, pixels)
        self.prediction_view.show_frame(frame, pixels)
        self.heatmap_view.show_frame(frame)
        self.redrawn.emit()


__all__ = ["AdversarialView", "HeatmapView", "LiveViews", "PredictionView", "display_uint8"]
