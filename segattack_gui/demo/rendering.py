"""Drawing pieces shared by the synthetic demo generators (numpy + OpenCV).

Soft edges are the key to a learnable task: a structure's opacity is 0.5 on
the boundary that defines its label, so the label is a function of the image.
"""

from __future__ import annotations

import cv2
import numpy as np

IMAGE_SIZE = 256

Seed = int | list[int] | tuple[int, ...] | np.random.Generator


def as_generator(seed: Seed) -> np.random.Generator:
    """A Generator from an int, a sequence of ints (e.g. [seed, stream, index]) or a Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y), float32, shape size x size."""
    coords = np.arange(size, dtype=np.float32)
    return np.meshgrid(coords, coords)


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Zero-mean, unit-std noise varying on the scale of ``size / cells`` pixels."""
    coarse = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    upscale = size / cells
    big = cv2.resize(coarse, None, fx=upscale, fy=upscale, interpolation=cv2.INTER_CUBIC)
    offset = int(round(upscale * 1.5))
    field = big[offset : offset + size, offset : offset + size]
    return (field - field.mean()) / (field.std() + 1e-6)


def ellipse_distance(size: int, centre, axes, angle: float) -> np.ndarray:
    """Approximate signed distance (pixels) to an ellipse boundary: < 0 inside.

    First-order estimate (q - 1) / |grad q| of the implicit q = |(u/a, v/b)|;
    exact on circles and accurate near the boundary, which is all the soft edges need.
    """
    x, y = pixel_grid(size)
    cos, sin = np.cos(angle), np.sin(angle)
    dx, dy = x - centre[0], y - centre[1]
    u = cos * dx + sin * dy
    v = -sin * dx + cos * dy
    a, b = axes
    q = np.sqrt((u / a) ** 2 + (v / b) ** 2)
    gradient = np.sqrt((u / a**2) ** 2 + (v / b**2) ** 2) / np.maximum(q, 1e-6)
    distance = (q - 1.0) / np.maximum(gradient, 1e-6)
    return np.where(q < 1e-3, -min(a, b), distance).astype(np.float32)


def soft_edge(distance: np.ndarray, softness: float) -> np.ndarray:
    """Opacity 1 inside, 0 outside, 0.5 exactly on the boundary."""
    return (1.0 / (1.0 + np.exp(np.clip(distance / softness, -30, 30)))).astype(np.float32)


def draw_strokes(size: int, strokes, supersample: int = 2) -> np.ndarray:
    """Coverage in [0, 1] of anti-aliased polylines ``[(points Nx2, width px), ...]``.

    Drawn at ``supersample`` times the resolution and area-averaged down, so that
    sub-pixel widths give partial coverage (thin vessels and hairs look fainter).
    """
    big = np.zeros((size * supersample, size * supersample), np.uint8)
    shift = 4  # cv2 fixed-point bits for sub-pixel positions
    for points, width in strokes:
        scaled = np.round(np.asarray(points) * supersample * (1 << shift)).astype(np.int32)
        thickness = max(1, int(round(width * supersample)))
        cv2.polylines(big, [scaled.reshape(-1, 1, 2)], False, 255, thickness, cv2.LINE_AA, shift)
    small = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def acquisition_variation(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """What differs between two photographs of the same eye or skin: uneven illumination
    (a tilted brightness ramp), haze (a cataract, a fogged lens: a blend towards a flat
    colour) and a fine sensor-pattern texture. A model that must work through these
    cannot rely on absolute brightness, as a model trained on real photographs cannot.
    """
    size = image.shape[0]
    x, y = pixel_grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((x - size / 2) * np.cos(angle) + (y - size / 2) * np.sin(angle)) / size
    image = image * (1.0 + rng.uniform(0.0, 0.5) * ramp)[..., None]
    haze = rng.uniform(0.0, 0.35) if rng.random() < 0.5 else 0.0
    haze_colour = image.reshape(-1, 3).mean(0) * rng.uniform(0.9, 1.3)
    image = image * (1 - haze) + haze_colour * haze
    texture = smooth_noise(rng, size, size // 3)
    return image * (1.0 + rng.uniform(0.0, 0.05) * texture)[..., None]


def camera_finish(rng: np.random.Generator, image: np.ndarray, noise: float) -> np.ndarray:
    """Camera-like finish: gamma, blur, sensor noise, 8-bit quantisation."""
    image = np.clip(image, 0.0, 1.0) ** rng.uniform(0.85, 1.18)
    sigma = rng.uniform(0.4, 1.1)
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image + rng.normal(0.0, noise, image.shape).astype(np.float32)
    return np.clip(np.round(image * 255.0), 0, 255).astype(np.uint8)
