"""Raster figures for exports: the side-by-side panel for papers and the frames of the GIF.

Both show what the window shows: the prediction against the target as an agreement map
(agree, missing, extra, outside the model's output, in colours that stay apart for
colour-blind readers) and the perturbation with a colour bar (:mod:`.heatmaps`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..core.results import AttackResult
from .heatmaps import HeatmapStyle, colour_bar, heatmap_values
from .images import to_uint8

VOID_CLASS = 255
"""Pixels outside the model's output grid in image-grid prediction maps."""

AGREE, MISSING, EXTRA, OUTSIDE = 1, 2, 3, 4
"""Codes of :func:`agreement_map`; 0 is background in both prediction and target."""

AGREEMENT_COLORS = {
    AGREE: ((0, 158, 115), "agree: target class predicted"),
    MISSING: ((214, 40, 214), "missing: target not predicted"),
    EXTRA: ((240, 150, 0), "extra: predicted, not in target"),
    OUTSIDE: ((128, 128, 128), "outside the model's output"),
}

_TITLE_HEIGHT = 28
_GAP = 6
GIF_PANEL_WIDTH = 320
"""The GIF's panels are at most this wide: an animation is for watching the run, the PNGs hold the pixels."""


def agreement_map(prediction: np.ndarray | None, target: np.ndarray) -> np.ndarray:
    """uint8 codes: AGREE, MISSING (target class not predicted), EXTRA (foreground where the target
    has background), OUTSIDE (no prediction there); 0 where both are background."""
    target = np.asarray(target)
    codes = np.zeros(target.shape, np.uint8)
    if prediction is None:
        return codes
    prediction = np.asarray(prediction)
    outside = prediction == VOID_CLASS
    wanted = target != 0
    codes[wanted & (prediction == target)] = AGREE
    codes[wanted & (prediction != target)] = MISSING
    codes[~wanted & (prediction != 0)] = EXTRA
    codes[outside] = OUTSIDE
    return codes


def agreement_image(image: np.ndarray, prediction: np.ndarray | None, target: np.ndarray) -> np.ndarray:
    """The image, dimmed, under the agreement map of ``prediction`` and ``target`` (RGB uint8), as the
    window's prediction view draws it."""
    picture = (_rgb(image).astype(np.float32) * 0.45 + 0.55 * 40).astype(np.uint8)
    codes = agreement_map(prediction, target)
    for code, (colour, _) in AGREEMENT_COLORS.items():
        picture[codes == code] = colour
    return picture


def colorize_classes(class_ids: np.ndarray, colors) -> np.ndarray:
    """Class ids as RGB with the model's colours; ids outside the palette (void) are grey."""
    table = np.full((256, 3), 128, dtype=np.uint8)
    for index, color in enumerate(colors[:256]):
        table[index] = color
    return table[class_ids.astype(np.uint8)]


def on_image_grid(prediction: np.ndarray, result: AttackResult) -> np.ndarray:
    """An output-grid prediction placed on the image grid, ``VOID_CLASS`` outside the grid."""
    height, width = result.original.shape[:2]
    return result.grid.paste(prediction.astype(np.uint8), height, width, fill=VOID_CLASS)


def _rgb(image: np.ndarray) -> np.ndarray:
    pixels = to_uint8(image)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    if pixels.shape[-1] == 1:
        pixels = np.repeat(pixels, 3, axis=-1)
    return pixels


def _titled(panel: np.ndarray, title: str) -> np.ndarray:
    height, width = panel.shape[:2]
    framed = np.full((height + _TITLE_HEIGHT, width, 3), 255, dtype=np.uint8)
    framed[_TITLE_HEIGHT:] = panel
    font_scale = max(0.4, min(0.7, width / 400))
    (text_width, _), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    if text_width > width - 4:  # a narrow panel: smaller letters rather than a clipped title
        font_scale = max(0.3, font_scale * (width - 4) / text_width)
        (text_width, _), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
    x = max(2, (width - text_width) // 2)
    cv2.putText(framed, title, (x, _TITLE_HEIGHT - 9), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (20, 20, 20), 1, cv2.LINE_AA)
    return framed


def _row(panels: list[np.ndarray]) -> np.ndarray:
    """Panels of one height side by side on white, ``_GAP`` apart."""
    height = max(panel.shape[0] for panel in panels)
    row = []
    for index, panel in enumerate(panels):
        if index:
            row.append(np.full((height, _GAP, 3), 255, dtype=np.uint8))
        padded = np.full((height, panel.shape[1], 3), 255, dtype=np.uint8)
        padded[: panel.shape[0]] = panel
        row.append(padded)
    return np.concatenate(row, axis=1)


def side_by_side_figure(result: AttackResult, colors=None, heatmap: HeatmapStyle = HeatmapStyle()) -> np.ndarray:
    """original | target | adversarial | prediction vs target | heatmap with its colour bar, each
    titled, on white (RGB uint8)."""
    colors = colors or [(0, 0, 0), (255, 255, 255)] + [(200, 80, 80)] * 254
    final = result.final
    prediction = on_image_grid(result.prediction_adversarial, result)
    picture, top = heatmap_values(result.perturbation, heatmap)
    label = heatmap.label(result.perturbation.shape[-1], plain=True)
    panels = [
        (_rgb(result.original), "original"),
        (colorize_classes(result.target, colors), "target"),
        (_rgb(result.adversarial), f"adversarial (L2 {final['l2']:.2f})"),
        (agreement_image(result.adversarial, prediction, result.target), f"prediction (IoU {final['iou']:.2f})"),
        (picture, f"{label}, Linf {final['linf']:.3f}"),
    ]
    titled = [_titled(panel, title) for panel, title in panels]
    bar = colour_bar(titled[-1].shape[0] - _TITLE_HEIGHT, top, signed=heatmap.channel is not None)
    titled.append(np.concatenate([np.full((_TITLE_HEIGHT, bar.shape[1], 3), 255, np.uint8), bar]))
    legend = _agreement_legend(titled[0].shape[0])
    return _row(titled + [legend])


def _agreement_legend(height: int) -> np.ndarray:
    """The agreement colours with their words, for the side-by-side figure."""
    legend = np.full((max(height, 4 * 18 + _TITLE_HEIGHT), 190, 3), 255, np.uint8)
    for row, (colour, words) in enumerate(AGREEMENT_COLORS.values()):
        y = _TITLE_HEIGHT + row * 18
        legend[y : y + 12, 4:16] = colour
        cv2.putText(legend, words, (20, y + 10), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (20, 20, 20), 1, cv2.LINE_AA)
    return legend[:height] if legend.shape[0] > height else legend


@dataclass(frozen=True)
class GifFrame:
    """One kept iterate for ``iterations.gif``, with its prediction on the same grid as the image."""

    iteration: int
    adversarial: np.ndarray  # H x W x C, float in [0, 1] or uint8
    prediction: np.ndarray | None  # H x W class ids, VOID_CLASS outside the model's output
    iou: float | None = None


def iteration_frame(frame: GifFrame, target: np.ndarray) -> np.ndarray:
    """One GIF frame: the adversarial image beside its prediction against the target, titled with the
    iteration and IoU (RGB uint8, panels at most :data:`GIF_PANEL_WIDTH` wide)."""
    image = _rgb(frame.adversarial)
    agreement = agreement_image(frame.adversarial, frame.prediction, target)
    height, width = image.shape[:2]
    if width > GIF_PANEL_WIDTH:
        size = (GIF_PANEL_WIDTH, max(1, round(height * GIF_PANEL_WIDTH / width)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        agreement = cv2.resize(agreement, size, interpolation=cv2.INTER_NEAREST)
    iou = f", IoU {frame.iou:.3f}" if frame.iou is not None and np.isfinite(frame.iou) else ""
    return _row([_titled(image, f"iteration {frame.iteration}"), _titled(agreement, f"prediction vs target{iou}")])


def amplified_perturbation(perturbation: np.ndarray, gain: float) -> np.ndarray:
    """``0.5 + gain * perturbation`` as RGB uint8: grey where nothing changed, signed colour shifts."""
    return to_uint8(np.clip(0.5 + gain * perturbation.astype(np.float32), 0.0, 1.0))


def prediction_against_target(prediction: np.ndarray, target: np.ndarray, colors) -> np.ndarray:
    """The prediction in the model's colours with the target's class boundaries drawn in white."""
    picture = colorize_classes(prediction, colors)
    target = target.astype(np.int16)
    boundary = np.zeros(target.shape, bool)
    boundary[1:] |= target[1:] != target[:-1]
    boundary[:, 1:] |= target[:, 1:] != target[:, :-1]
    picture[boundary] = (255, 255, 255)
    return picture


def titled_row(panels: list[tuple[np.ndarray, str]]) -> np.ndarray:
    """RGB uint8 panels side by side, each under its title, on white, at 100 % (the README's demo figure)."""
    return _row([_titled(panel, title) for panel, title in panels])


def write_figure_png(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 figure (heatmap, side-by-side) as a PNG."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    path.write_bytes(encoded.tobytes())
