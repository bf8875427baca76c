"""Curves of the attack's per-iteration metrics: IoU and pixel accuracy, L2, L-inf, multiplier.

Four small plots with linked iteration axes read better than one plot with many axes:
the agreement metrics live on [0, 1], the perturbation norms on the image's [0, 1]
intensity scale but orders of magnitude apart, and the step multiplier on its own scale
(1e-7 for ASMA). Curves are updated with ``setData`` from the coalescing timer, never
per snapshot. A vertical line marks the iteration the slider replays.

Ranges are set here, not auto-ranged: re-ranging regenerates every axis and was the
largest cost of a redraw. The iteration axis spans the planned iterations from the
start (the curves grow across it, like a progress bar); a y axis is set by the first
non-zero value and then only grows, in steps of a "nice" number, when a curve outgrows it.
At the end the axes fit the run.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QWidget

from . import plot_style
from ...io.heatmaps import nice_ceiling
from .refresh import CoalescingRefresh

PLOTS = (
    # (key, title, left-axis label, curves)
    ("agreement", "Agreement", "IoU, pixel accuracy", ("iou", "pixel_accuracy")),
    ("l2", "Perturbation L2 norm ([0,1] scale)", "‖δ‖₂", ("l2",)),
    ("linf", "Perturbation L∞ norm ([0,1] scale)", "‖δ‖∞", ("linf",)),
    ("multiplier", "Step multiplier τₙ", "τₙ", ("multiplier",)),
)
CURVE_NAMES = {"iou": "IoU", "pixel_accuracy": "pixel accuracy", "l2": "L2", "linf": "L∞", "multiplier": "τₙ"}
STEP_NAMES = {  # what the "multiplier" column is for each family: (title, axis label)
    "asma": ("Step multiplier τₙ", "τₙ"), "asm": ("Step multiplier τ", "τ"), "ssm": ("Step multiplier τ", "τ"),
    "dag": ("Step scale γ", "γ"),
    "pgd": ("Step size α", "α"), "segpgd": ("Step size α", "α"), "cospgd": ("Step size α", "α"),
}


def _title_html(title: str, names) -> str:
    """The plot title, with a colour key when the plot holds several curves (no legend over the data)."""
    text = f"<span style='font-size:9pt; color:#222'>{title}</span>"
    if len(names) > 1:
        keys = [f"<span style='color:rgb{plot_style.CURVE_COLORS[name]}'>━ {CURVE_NAMES[name]}</span>"
                for name in names]
        text += "<span style='font-size:9pt'>&nbsp;&nbsp;" + "&nbsp;&nbsp;".join(keys) + "</span>"
    return text


class MetricsPlot(pg.GraphicsLayoutWidget):
    """objectName ``metricsPlot``; ``curves[name]`` are the PlotDataItems, holding the raw values.

    Small values get a power-of-ten factor in the axis label (pyqtgraph's SI scaling, e.g.
    "τₙ (x1e-06)"), so ticks stay short and never collide with the label.
    """

    def __init__(self, document, parent: QWidget | None = None):
        super().__init__(parent)
        self.setBackground(plot_style.BACKGROUND)
        self.setObjectName("metricsPlot")
        self.setMinimumHeight(220)
        self.document = document
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.markers: list[pg.InfiniteLine] = []
        self._x_top: float | None = None
        self._y_tops: dict[str, float] = {}
        self._build()
        self.refresh = CoalescingRefresh(self.redraw, interval_ms=400, parent=self)
        document.runStarted.connect(self._forget_ranges)
        for signal in (document.runStarted, document.snapshotAdded, document.runFinished,
                       document.shownFrameChanged, document.imageChanged):
            signal.connect(self.refresh.mark_dirty)

    def _build(self) -> None:
        first = None
        for index, (key, title, label, names) in enumerate(PLOTS):
            plot = self.addPlot(row=index // 2, col=index % 2, title=_title_html(title, names))
            plot.showGrid(x=True, y=True, alpha=0.2)
            for side in ("left", "bottom"):
                # Grid lines on the labelled ticks only: minor grid lines cost ten times the curves.
                plot.getAxis(side).setStyle(maxTickLevel=0)
            plot.disableAutoRange()
            plot.setLabel("left", label)
            plot.setLabel("bottom", "iteration")
            plot.getAxis("left").enableAutoSIPrefix(key != "agreement")
            plot.setMenuEnabled(False)
            plot.setMouseEnabled(x=True, y=False)
            if first is None:
                first = plot
            else:
                plot.setXLink(first)
            for name in names:
                self.curves[name] = plot.plot([], [], pen=plot_style.pen(name, width=1), name=CURVE_NAMES[name],
                                              skipFiniteCheck=True)
            marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((120, 120, 120), width=1, dash=[4, 3]))
            marker.setVisible(False)
            plot.addItem(marker)
            self.markers.append(marker)
            self.plots[key] = plot
        for column in (0, 1):
            self.ci.layout.setColumnStretchFactor(column, 1)
            self.ci.layout.setColumnPreferredWidth(column, 200)

    def curve_data(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(iterations, values) of one curve, as drawn."""
        x, y = self.curves[name].getData()
        if x is None:
            return np.zeros(0), np.zeros(0)
        return np.asarray(x), np.asarray(y)

    @Slot()
    def redraw(self) -> None:
        run = self.document.run
        history = self._history(run)
        if history is None:
            for curve in self.curves.values():
                curve.setData([], [])
            for marker in self.markers:
                marker.setVisible(False)
            self._set_ranges(1, {}, fit=True)
            return
        iterations = np.asarray(history["iteration"], dtype=np.float64)
        drawn = {}
        for name, curve in self.curves.items():
            values = np.asarray(history[name], dtype=np.float64)
            curve.setData(iterations, values)
            drawn[name] = values
        finished = run.result is not None
        planned = run.config.get("iterations") or 1
        self._set_ranges(max(1, int(iterations[-1])) if finished else planned, drawn, fit=finished)
        self._place_marker(run)

    def _set_ranges(self, x_top: float, drawn: dict[str, np.ndarray], fit: bool) -> None:
        if x_top != self._x_top:
            self._x_top = x_top
            self.plots["agreement"].setXRange(0, x_top, padding=0.02)  # the others are linked to it
        self.plots["agreement"].setYRange(0, 1, padding=0.02)
        for key in ("l2", "linf", "multiplier"):
            values = drawn.get(key)
            peak = float(np.nanmax(values)) if values is not None and values.size else 0.0
            if not (np.isfinite(peak) and peak > 0):
                # Nothing to scale to yet (the first snapshot is the clean image): a placeholder range,
                # not remembered, so the first real value sets the axis (a PGD L-inf of 0.03 is not flat).
                if key not in self._y_tops:
                    self.plots[key].setYRange(0, 1, padding=0.02)
                continue
            top = self._y_tops.get(key)
            if fit or top is None or peak > top:
                top = nice_ceiling(peak * (1.0 if fit else 1.5))
                if top != self._y_tops.get(key):
                    self._y_tops[key] = top
                    self.plots[key].setYRange(0, top, padding=0.02)

    def _history(self, run):
        if run is None:
            return None
        if run.result is not None:
            return run.result.history
        if run.latest is not None:
            return run.latest.history
        return None

    @Slot()
    def _forget_ranges(self) -> None:
        """A new run: its axes start afresh, and the step plot takes the method's own name for its step."""
        self._x_top = None
        self._y_tops.clear()
        title, label = STEP_NAMES.get(self.document.run.method, PLOTS[-1][1:3])
        plot = self.plots["multiplier"]
        plot.setTitle(_title_html(title, ("multiplier",)))
        plot.setLabel("left", label)

    def _place_marker(self, run) -> None:
        index = self.document.shown_frame
        visible = index is not None and index < len(run.store)
        for marker in self.markers:
            marker.setVisible(visible)
            if visible:
                marker.setValue(run.store.iteration_at(index))
