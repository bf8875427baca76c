"""The success-against-budget figure, as SVG (for a paper) and PNG (to look at), without matplotlib.

One panel per norm; x: the budget (L-inf in 8-bit steps, x/255; L2 on the [0, 1] scale), y: the
share of images that reached the target, in %. Each method is one series: a step curve for the
methods that run once per image, a polyline with markers for budget sweeps. The SVG is written
by hand; the PNG draws the same geometry with OpenCV, at twice the size for sharp lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import cv2
import numpy as np

from .files import write_file_bytes

COLORS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
          (227, 119, 194), (127, 127, 127))
"""RGB, the colours of common plotting defaults: distinct in print and for most colour-blind readers."""

PANEL_WIDTH, PANEL_HEIGHT = 380, 280
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 30, 46
LEGEND_ROW = 18


@dataclass(frozen=True)
class Series:
    """One method's curve on one panel."""

    label: str
    budgets: tuple[float, ...]
    shares: tuple[float, ...]  # 0..1
    steps: bool  # a step curve (one run per image) rather than sweep points


@dataclass(frozen=True)
class Panel:
    title: str
    axis_label: str
    scale: float  # budgets are shown multiplied by this (255 for L-inf in 8-bit steps)
    series: tuple[Series, ...]


def nice_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``high``: steps of 1, 2 or 5 times a power of ten."""
    if not high > 0:
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(int(math.ceil(high / step - 1e-9)) + 1)]


def _format(value: float) -> str:
    return f"{value:g}" if value == round(value, 6) else f"{value:.3g}"


def _layout(panels: list[Panel]) -> tuple[int, int, int]:
    labels = max(len(panel.series) for panel in panels)
    return PANEL_WIDTH * len(panels), PANEL_HEIGHT + 8 + LEGEND_ROW * labels, labels


def _panel_lines(panel: Panel, origin_x: float) -> tuple[list, list, list]:
    """Geometry of one panel: (polylines, markers, texts) in figure coordinates."""
    plot_left, plot_right = origin_x + LEFT, origin_x + PANEL_WIDTH - RIGHT
    plot_top, plot_bottom = TOP, PANEL_HEIGHT - BOTTOM
    highest = max((b * panel.scale for s in panel.series for b in s.budgets), default=1.0)
    ticks = nice_ticks(highest)
    x_max = ticks[-1]

    def to_x(value: float) -> float:
        return plot_left + (plot_right - plot_left) * value * panel.scale / x_max

    def to_y(share: float) -> float:
        return plot_bottom - (plot_bottom - plot_top) * share

    lines = [((0, 0, 0), 1.0, [(plot_left, plot_top), (plot_left, plot_bottom), (plot_right, plot_bottom)])]
    texts = [(panel.title, (plot_left + plot_right) / 2, TOP - 10, "middle", 13),
             (panel.axis_label, (plot_left + plot_right) / 2, PANEL_HEIGHT - 8, "middle", 12),
             ("reached (%)", origin_x + 14, (plot_top + plot_bottom) / 2, "vertical", 12)]
    for tick in ticks:
        x = plot_left + (plot_right - plot_left) * tick / x_max
        lines.append(((0, 0, 0), 1.0, [(x, plot_bottom), (x, plot_bottom + 4)]))
        texts.append((_format(tick), x, plot_bottom + 17, "middle", 11))
    for percent in (0, 25, 50, 75, 100):
        y = to_y(percent / 100)
        lines.append(((0, 0, 0), 1.0, [(plot_left - 4, y), (plot_left, y)]))
        lines.append(((225, 225, 225), 1.0, [(plot_left, y), (plot_right, y)]))
        texts.append((str(percent), plot_left - 7, y + 4, "end", 11))
    markers = []
    for index, series in enumerate(panel.series):
        color = COLORS[index % len(COLORS)]
        points = [(to_x(b), to_y(s)) for b, s in zip(series.budgets, series.shares) if math.isfinite(s)]
        if series.steps and points:
            stepped = [(plot_left, to_y(0.0))]
            for x, y in points:
                stepped += [(x, stepped[-1][1]), (x, y)]
            stepped.append((plot_right, stepped[-1][1]))
            lines.append((color, 2.0, stepped))
        elif points:
            lines.append((color, 2.0, points))
            markers += [(color, x, y) for x, y in points]
    return lines, markers, texts


def _legend(panels: list[Panel]) -> list[tuple]:
    labels = [series.label for series in max((p.series for p in panels), key=len)]
    return [(COLORS[i % len(COLORS)], label, LEFT, PANEL_HEIGHT + 8 + LEGEND_ROW * i + 12)
            for i, label in enumerate(labels)]


def figure_svg(panels: list[Panel]) -> str:
    width, height, _ = _layout(panels)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    for index, panel in enumerate(panels):
        lines, markers, texts = _panel_lines(panel, index * PANEL_WIDTH)
        for color, width_px, points in lines:
            path = " ".join(f"{x:.2f},{y:.2f}" for x, y in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="rgb{color}" stroke-width="{width_px}"/>')
        for color, x, y in markers:
            parts.append(f'<circle cx="{x:.2f}" cy="{y:.2f}" r="3.5" fill="rgb{color}"/>')
        for text, x, y, anchor, size in texts:
            if anchor == "vertical":
                parts.append(f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size}" text-anchor="middle" '
                             f'transform="rotate(-90 {x:.2f} {y:.2f})">{escape(text)}</text>')
            else:
                parts.append(f'<text x="{x:.2f}" y="{y:.2f}" font-size="{size}" text-anchor="{anchor}">'
                             f'{escape(text)}</text>')
    for color, label, x, y in _legend(panels):
        parts.append(f'<line x1="{x}" y1="{y - 4}" x2="{x + 24}" y2="{y - 4}" stroke="rgb{color}" stroke-width="2"/>')
        parts.append(f'<text x="{x + 30}" y="{y}" font-size="12">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def figure_png(panels: list[Panel], zoom: int = 2) -> np.ndarray:
    """The same figure as an RGB array, drawn with OpenCV at ``zoom`` times the SVG's size."""
    width, height, _ = _layout(panels)
    canvas = np.full((height * zoom, width * zoom, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX

    def scaled(x: float, y: float) -> tuple[int, int]:
        return int(round(x * zoom)), int(round(y * zoom))

    def put(text: str, x: float, y: float, anchor: str, size: int) -> None:
        scale = size * zoom / 30
        (text_width, _), _ = cv2.getTextSize(text, font, scale, 1)
        shift = {"middle": text_width / 2, "end": text_width}.get(anchor, 0) / zoom
        cv2.putText(canvas, text, scaled(x - shift, y), font, scale, (0, 0, 0), max(1, zoom // 2), cv2.LINE_AA)

    for index, panel in enumerate(panels):
        lines, markers, texts = _panel_lines(panel, index * PANEL_WIDTH)
        for color, width_px, points in lines:
            polyline = np.array([scaled(x, y) for x, y in points], np.int32)
            cv2.polylines(canvas, [polyline], False, color, max(1, int(width_px * zoom)), cv2.LINE_AA)
        for color, x, y in markers:
            cv2.circle(canvas, scaled(x, y), int(3.5 * zoom), color, -1, cv2.LINE_AA)
        for text, x, y, anchor, size in texts:
            if anchor == "vertical":  # OpenCV writes horizontally: draw on a strip and turn it
                scale = size * zoom / 30
                (text_width, text_height), _ = cv2.getTextSize(text, font, scale, 1)
                strip = np.full((text_height + 8, text_width + 4, 3), 255, np.uint8)
                cv2.putText(strip, text, (2, text_height + 2), font, scale, (0, 0, 0), max(1, zoom // 2), cv2.LINE_AA)
                turned = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
                left, top = scaled(x, y)
                top -= turned.shape[0] // 2
                left -= turned.shape[1] // 2
                canvas[top : top + turned.shape[0], left : left + turned.shape[1]] = turned
            else:
                put(text, x, y, anchor, size)
    for color, label, x, y in _legend(panels):
        cv2.line(canvas, scaled(x, y - 4), scaled(x + 24, y - 4), color, 2 * zoom, cv2.LINE_AA)
        put(label, x + 30, y, "start", 12)
    return canvas


def write_curve_figure(stem: Path, panels: list[Panel]) -> tuple[Path, Path]:
    """``stem.svg`` and ``stem.png``."""
    svg, png = stem.with_suffix(".svg"), stem.with_suffix(".png")
    write_file_bytes(svg, figure_svg(panels).encode("utf-8"))
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(figure_png(panels), cv2.COLOR_RGB2BGR))
    write_file_bytes(png, encoded.tobytes())
    return svg, png
