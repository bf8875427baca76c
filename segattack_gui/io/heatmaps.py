"""The perturbation as a picture with a colour bar, drawn the way the window's heatmap view draws it.

A heatmap scaled to its single largest pixel is nearly black: a few strong pixels take the
top of the scale and everything else sits in the first colours (exports measured a mean
of 2 to 4 of 255). So the scale has a stated top: the window exports its view's own mode
and amplification; without one, the top is a high percentile of the perturbed pixels,
rounded to a nice number, and the colour bar beside the picture says what each colour
means. ``summary.json`` records the style (:meth:`HeatmapStyle.record`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["HeatmapStyle", "heatmap_figure", "heatmap_values", "nice_ceiling", "perturbation_magnitude"]

AUTO_PERCENTILE = 99.0
"""Without a stated amplification, the scale's top is this percentile of the perturbed pixels."""

CHANNEL_NAMES = {1: ("grey",), 3: ("red", "green", "blue")}

_BAR_WIDTH = 14
_BAR_LABELS = 64


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``value`` (> 0)."""
    exponent = math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        candidate = step * 10.0 ** exponent
        if candidate >= value * (1 - 1e-6):  # float32 peaks sit a hair above their decimal value
            return candidate
    return 10.0 ** (exponent + 1)


def scale_top(peak: float, amplification: float = 1.0) -> float:
    """Top of a heatmap's colour scale: a round number at or above ``peak`` (so a colour bar's ticks
    change only now and then), divided by ``amplification``; one 8-bit step when nothing moved. The
    window's view and the exported files both use it."""
    return nice_ceiling(peak if peak > 0 else 1.0 / 255) / amplification


def perturbation_magnitude(perturbation: np.ndarray) -> np.ndarray:
    """Per-pixel L2 over channels of ``adversarial - original`` (H x W float32)."""
    return np.sqrt((perturbation.astype(np.float32) ** 2).sum(axis=-1))


@dataclass(frozen=True)
class HeatmapStyle:
    """How to draw a perturbation: its magnitude or one signed channel, and the scale's amplification.

    ``channel`` None draws the magnitude (L2 over channels, 0 .. top); a channel index draws
    that channel signed (-top .. top). ``amplification`` divides the top of a scale fitted to
    the peak, as the window's "×N" control does; None fits the top to the
    :data:`AUTO_PERCENTILE` percentile of the perturbed pixels instead.
    """

    channel: int | None = None
    amplification: float | None = None

    def values(self, perturbation: np.ndarray) -> np.ndarray:
        if self.channel is None:
            return perturbation_magnitude(perturbation)
        return perturbation[..., self.channel].astype(np.float32)

    def top(self, values: np.ndarray) -> float:
        """The value drawn in the scale's last colour (a nice number; one 8-bit step when nothing changed)."""
        magnitude = np.abs(values)
        if self.amplification is None:
            moved = magnitude[magnitude > 0]
            return scale_top(float(np.percentile(moved, AUTO_PERCENTILE)) if moved.size else 0.0)
        return scale_top(float(magnitude.max(initial=0.0)), self.amplification)

    def label(self, channels: int, plain: bool = False) -> str:
        """"|δ| (L2 over channels)" or "δ red"; ``plain`` spells δ out for fonts without it (figures)."""
        delta = "perturbation" if plain else "δ"
        if self.channel is None:
            return f"|{delta}|" if plain else f"|{delta}| (L2 over channels)"
        names = CHANNEL_NAMES.get(channels, ())
        return f"{delta} {names[self.channel] if self.channel < len(names) else f'channel {self.channel}'}"

    def record(self, perturbation: np.ndarray) -> dict:
        """What summary.json says about the exported heatmap."""
        values = self.values(perturbation)
        return {"mode": "magnitude" if self.channel is None else "signed", "channel": self.channel,
                "amplification": self.amplification, "scale_top": self.top(values),
                "scale": "percentile" if self.amplification is None else "peak",
                "label": self.label(perturbation.shape[-1])}


def _diverging_lut() -> np.ndarray:
    """Blue (negative) through white to red (positive), 256 RGB entries."""
    position = np.linspace(-1.0, 1.0, 256)[:, None]
    blue, white, red = np.array([40, 80, 200.0]), np.array([245, 245, 245.0]), np.array([200, 40, 40.0])
    rgb = np.where(position < 0, white + (blue - white) * -position, white + (red - white) * position)
    return rgb.round().astype(np.uint8)


def _inferno_lut() -> np.ndarray:
    ramp = np.arange(256, dtype=np.uint8)[:, None]
    return cv2.cvtColor(cv2.applyColorMap(ramp, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)[:, 0]


def heatmap_values(perturbation: np.ndarray, style: HeatmapStyle = HeatmapStyle()) -> tuple[np.ndarray, float]:
    """The coloured heatmap (RGB uint8, image size) and the top of its scale."""
    values = style.values(perturbation)
    top = style.top(values)
    if style.channel is None:
        index = np.clip(values / top, 0, 1) * 255
        lut = _inferno_lut()
    else:
        index = (np.clip(values / top, -1, 1) + 1) * 127.5
        lut = _diverging_lut()
    return lut[np.round(index).astype(np.uint8)], top


def colour_bar(height: int, top: float, signed: bool) -> np.ndarray:
    """A vertical colour bar with its top, middle and bottom values written beside it (RGB uint8)."""
    height = max(height, 48)
    ramp = np.linspace(1.0, 0.0, height)
    lut = _diverging_lut() if signed else _inferno_lut()
    bar = np.repeat(lut[np.round(ramp * 255).astype(np.uint8)][:, None], _BAR_WIDTH, axis=1)
    panel = np.full((height, _BAR_WIDTH + 4 + _BAR_LABELS, 3), 255, np.uint8)
    panel[:, 4 : 4 + _BAR_WIDTH] = bar
    bottom = -top if signed else 0.0
    for fraction, value in ((0.0, top), (0.5, (top + bottom) / 2), (1.0, bottom)):
        y = int(round(fraction * (height - 1)))
        text = f"{value:.3g}"
        baseline = min(max(y + 4, 10), height - 2)
        cv2.putText(panel, text, (_BAR_WIDTH + 7, baseline), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (20, 20, 20), 1,
                    cv2.LINE_AA)
    return panel


def heatmap_figure(perturbation: np.ndarray, style: HeatmapStyle = HeatmapStyle()) -> np.ndarray:
    """The heatmap with its colour bar to the right (RGB uint8)."""
    picture, top = heatmap_values(perturbation, style)
    bar = colour_bar(picture.shape[0], top, signed=style.channel is not None)
    height = max(picture.shape[0], bar.shape[0])
    figure = np.full((height, picture.shape[1] + 6 + bar.shape[1], 3), 255, np.uint8)
    figure[: picture.shape[0], : picture.shape[1]] = picture
    figure[: bar.shape[0], picture.shape[1] + 6 :] = bar
    return figure
