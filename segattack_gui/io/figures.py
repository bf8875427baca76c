"""Raster figures for exports: the perturbation heatmap and the side-by-side panel for papers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..core.results import AttackResult
from .images import to_uint8

VOID_CLASS = 255
"""Pixels outside the model's output grid in image-grid prediction maps."""

_TITLE_HEIGHT = 28
_GAP = 6


def perturbation_magnitude(perturbation: np.ndarray) -> np.ndarray:
    """Per-pixel L2 over channels of ``adversarial - original`` (H x W float32)."""
    return np.sqrt((perturbation.astype(np.float32) ** 2).sum(axis=-1))


def heatmap_image(perturbation: np.ndarray, scale: float | None = None) -> np.ndarray:
    """Magnitude heatmap (inferno), scaled to its own maximum unless ``scale`` is given (RGB uint8)."""
    magnitude = perturbation_magnitude(perturbation)
    peak = scale if scale else float(magnitude.max())
    normalised = np.zeros_like(magnitude) if peak <= 0 else np.clip(magnitude / peak, 0, 1)
    coloured = cv2.applyColorMap(np.round(normalised * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB)


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
    x = max(2, (width - text_width) // 2)
    cv2.putText(framed, title, (x, _TITLE_HEIGHT - 9), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (20, 20, 20), 1, cv2.LINE_AA)
    return framed


def side_by_side_figure(result: AttackResult, colors=None) -> np.ndarray:
    """original | target | adversarial | prediction | heatmap, each titled, on white (RGB uint8)."""
    colors = colors or [(0, 0, 0), (255, 255, 255)] + [(200, 80, 80)] * 254
    final = result.final
    return titled_row([
        (_rgb(result.original), "original"),
        (colorize_classes(result.target, colors), "target"),
        (_rgb(result.adversarial), f"adversarial (L2 {final['l2']:.2f})"),
        (colorize_classes(on_image_grid(result.prediction_adversarial, result), colors),
         f"prediction (IoU {final['iou']:.2f})"),
        (heatmap_image(result.perturbation), f"|perturbation| (Linf {final['linf']:.3f})"),
    ])


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
    """RGB uint8 panels of one height side by side, each under its title, on white, at 100 %."""
    titled = [_titled(panel, title) for panel, title in panels]
    height = titled[0].shape[0]
    spacer = np.full((height, _GAP, 3), 255, dtype=np.uint8)
    row = []
    for index, panel in enumerate(titled):
        if index:
            row.append(spacer)
        row.append(panel)
    return np.concatenate(row, axis=1)


def write_figure_png(path: Path, rgb: np.ndarray) -> None:
    """Write an RGB uint8 figure (heatmap, side-by-side) as a PNG."""
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"cannot encode {path.name}")
    path.write_bytes(encoded.tobytes())
