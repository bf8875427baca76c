"""Window/level for showing a greyscale medical image: display only, the attacked values never change.

A window is (level, width) in the image's own units (HU for CT), as radiology viewers state it:
values from level - width/2 (black) to level + width/2 (white). CT opens on the soft-tissue preset,
other images on their 1st..99th percentile; dragging changes width (across) and level (up/down)
in proportion to the width, as in ITK-SNAP and 3D Slicer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CT_PRESETS = {
    "soft tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}
"""Common CT windows (level, width) in HU."""

PERCENTILES = (1.0, 99.0)
DRAG_SENSITIVITY = 0.005
"""Share of the current width one screen pixel of drag changes the width or level by."""


@dataclass(frozen=True)
class DisplayWindow:
    level: float
    width: float

    @property
    def low(self) -> float:
        return self.level - self.width / 2

    @property
    def high(self) -> float:
        return self.level + self.width / 2


def has_window(image) -> bool:
    """Greyscale DICOM or NIfTI with known values: shown through a window."""
    return image is not None and image.source is not None and image.value_scale is not None and image.channels == 1


def raw_values(image) -> np.ndarray:
    """H x W values in the image's own units."""
    return image.value_scale.file_values(image.pixels[..., 0])


def default_window(image) -> DisplayWindow:
    """Soft tissue for CT (values in HU), else the 1st..99th percentile of the values."""
    if image.value_scale.units == "HU":
        return DisplayWindow(*CT_PRESETS["soft tissue"])
    return percentile_window(image)


def percentile_window(image) -> DisplayWindow:
    low, high = np.percentile(raw_values(image), PERCENTILES)
    width = float(high - low) if high > low else 1.0
    return DisplayWindow(float(low) + width / 2, width)


def inverted(image) -> bool:
    """MONOCHROME1 stores higher values as darker: shown inverted."""
    return "MONOCHROME1" in image.conversion


def display_pixels(image, window: DisplayWindow) -> np.ndarray:
    """float32 H x W x 1 in [0, 1]: the image as the window shows it (MONOCHROME1 inverted)."""
    return _through(raw_values(image), image, window)


def windowed_adversarial(original: np.ndarray, perturbation: np.ndarray, image, window: DisplayWindow
                         ) -> np.ndarray:
    """An attacked frame of ``image`` (its clean [0, 1] pixels and the perturbation, H x W x 1 on any
    grid) as ``window`` shows it, float32 H x W x 1 in [0, 1].

    Built from the clean pixels and the perturbation, not from the uint8 frame the views keep: a
    16-bit CT's [0, 1] range spans 65535 HU, so one 8-bit step is 257 HU, more than a soft-tissue
    window's width and most attacks' whole change."""
    unit = np.clip(np.asarray(original, np.float32) + perturbation, 0.0, 1.0)[..., 0]
    return _through(image.value_scale.to_raw(unit), image, window)


def _through(values: np.ndarray, image, window: DisplayWindow) -> np.ndarray:
    shown = np.clip((values - window.low) / max(window.width, 1e-12), 0.0, 1.0)
    if inverted(image):
        shown = 1.0 - shown
    return shown.astype(np.float32)[..., np.newaxis]


def dragged(window: DisplayWindow, dx: float, dy: float) -> DisplayWindow:
    """Right widens, left narrows; up raises the level, down lowers it (screen y grows downwards)."""
    step = max(window.width, 1e-6) * DRAG_SENSITIVITY
    return DisplayWindow(window.level - dy * step, max(window.width + dx * step, 1e-6))
