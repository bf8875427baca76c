"""Dermoscopy-like images: skin, hairs and an irregular pigmented lesion (classes 0, 1).

Skin with low-frequency shading, faint furrows and reddish patches; a lesion whose
outline is a radius function of the angle with random harmonics (elongated, lobed,
ragged), pigmented darker towards an off-centre core, with dots and globules and a
blurred border; dark thin hairs crossing everything; sometimes the dark circular
border of the dermoscope.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from segattack_gui.demo.rendering import (
    IMAGE_SIZE,
    Seed,
    acquisition_variation,
    as_generator,
    camera_finish,
    draw_strokes,
    pixel_grid,
    smooth_noise,
    soft_edge,
)

SKIN_CLASSES = ["skin", "lesion"]
SKIN_COLORS = [[0, 0, 0], [0, 220, 255]]


@dataclass(frozen=True)
class SkinLayout:
    """Geometry of one dermoscopy image: the lesion outline as a closed polygon."""

    outline: np.ndarray  # N x 2 float (x, y)
    scope_radius: float | None  # dark circular dermoscope border, or None


def skin_layout(rng: np.random.Generator, size: int = IMAGE_SIZE) -> SkinLayout:
    """An irregular blob: a radius function of the angle with random harmonics."""
    scale = size / IMAGE_SIZE
    centre_x = size / 2 + rng.uniform(-32, 32) * scale
    centre_y = size / 2 + rng.uniform(-32, 32) * scale
    mean_radius = rng.uniform(34, 70) * scale
    theta = np.linspace(0, 2 * np.pi, 480, endpoint=False)
    relative = np.ones_like(theta)
    relative *= 1 + rng.uniform(0.0, 0.25) * np.cos(2 * (theta - rng.uniform(0, np.pi)))  # elongation
    for harmonic in range(3, 9):
        amplitude = rng.uniform(0, 0.16) / harmonic**0.8
        relative += amplitude * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
    raggedness = rng.uniform(0.0, 0.1)
    for harmonic in range(9, 24):  # ragged border
        amplitude = raggedness * rng.random() / harmonic
        relative += amplitude * np.cos(harmonic * theta + rng.uniform(0, 2 * np.pi))
    relative = np.maximum(relative, 0.35)
    radius = mean_radius * relative
    # keep the whole lesion inside the frame with a margin
    limit = 0.46 * size
    radius = np.minimum(radius, limit)
    outline = np.stack([centre_x + radius * np.cos(theta), centre_y + radius * np.sin(theta)], axis=1)
    outline = np.clip(outline, 6 * scale, size - 1 - 6 * scale)
    scope_radius = rng.uniform(0.68, 0.74) * size if rng.random() < 0.35 else None
    return SkinLayout(outline=outline, scope_radius=scope_radius)


def lesion_moved_to(other: SkinLayout, host: SkinLayout) -> SkinLayout:
    """``other``'s lesion outline, centred where ``host``'s lesion is (kept inside the frame)."""
    size = IMAGE_SIZE
    outline = other.outline - other.outline.mean(axis=0) + host.outline.mean(axis=0)
    low, high = outline.min(axis=0), outline.max(axis=0)
    outline = outline + np.clip(6 - low, 0, None) - np.clip(high - (size - 7), 0, None)
    return SkinLayout(outline=outline, scope_radius=host.scope_radius)


def skin_labels(layout: SkinLayout, size: int = IMAGE_SIZE) -> np.ndarray:
    """Class ids: 0 skin, 1 lesion (filled outline, pixel centres inside)."""
    labels = np.zeros((size, size), np.uint8)
    shift = 4
    points = np.round((layout.outline - 0.0) * (1 << shift)).astype(np.int32)
    cv2.fillPoly(labels, [points.reshape(-1, 1, 2)], 1, cv2.LINE_8, shift)
    return labels


def _hairs(rng: np.random.Generator, size: int):
    """Dark thin curved hairs: quadratic Bezier curves crossing the frame."""
    scale = size / IMAGE_SIZE
    strokes = []
    count = rng.choice([0, 1, 2, 3, 4, 6, 9])
    t = np.linspace(0, 1, 40)[:, None]
    for _ in range(count):
        start = rng.uniform(-20, size + 20, 2)
        angle = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(60, 220) * scale
        end = start + length * np.array([np.cos(angle), np.sin(angle)])
        bend = rng.normal(0, 0.2) * length
        middle = (start + end) / 2 + bend * np.array([-np.sin(angle), np.cos(angle)])
        points = (1 - t) ** 2 * start + 2 * (1 - t) * t * middle + t**2 * end
        strokes.append((points, rng.uniform(0.7, 1.8) * scale))
    return strokes


def render_skin(rng: np.random.Generator, layout: SkinLayout, size: int = IMAGE_SIZE) -> np.ndarray:
    """Render a dermoscopy-like RGB uint8 image for ``layout``."""
    scale = size / IMAGE_SIZE
    x, y = pixel_grid(size)
    skin = np.array([rng.uniform(0.78, 0.95), rng.uniform(0.58, 0.74), rng.uniform(0.5, 0.66)], np.float32)
    shading = 1.0 + 0.04 * smooth_noise(rng, size, 3) + 0.02 * smooth_noise(rng, size, 20)
    # faint skin furrows: a thresholded mid-frequency pattern
    furrows = np.abs(smooth_noise(rng, size, 28)) < 0.12
    shading = shading - 0.025 * cv2.GaussianBlur(furrows.astype(np.float32), (0, 0), 0.8)
    image = skin[None, None, :] * shading[..., None]
    redness = np.clip(smooth_noise(rng, size, 5), 0, None) * rng.uniform(0.0, 0.035)
    image[..., 1] -= redness
    image[..., 2] -= redness

    labels = skin_labels(layout, size).astype(np.float32)
    edge_sigma = rng.uniform(2.5, 7.0) * scale  # a lesion's pigment fades into the skin over pixels
    lesion_alpha = cv2.GaussianBlur(labels, (0, 0), edge_sigma)
    # pigment: darker towards an off-centre core, blotchy, with dots and globules
    pigment_dark = np.array([rng.uniform(0.25, 0.45), rng.uniform(0.13, 0.25), rng.uniform(0.08, 0.18)], np.float32)
    pigment_light = np.array([rng.uniform(0.44, 0.6), rng.uniform(0.25, 0.37), rng.uniform(0.16, 0.26)], np.float32)
    core_x, core_y = layout.outline.mean(axis=0) + rng.normal(0, 8, 2) * scale
    spread = np.ptp(layout.outline, axis=0).mean() / 2
    core = np.exp(-((x - core_x) ** 2 + (y - core_y) ** 2) / (2 * (spread * rng.uniform(0.5, 0.9)) ** 2))
    mix = np.clip(0.55 * core + 0.25 * smooth_noise(rng, size, 10) + rng.uniform(0.0, 0.4), 0, 1)
    lesion = pigment_light * (1 - mix[..., None]) + pigment_dark * mix[..., None]
    dots = np.zeros((size, size), np.float32)
    for _ in range(rng.integers(0, 40)):
        px, py = layout.outline[rng.integers(len(layout.outline))]
        t = rng.uniform(0.1, 0.85)  # somewhere between the core and the border
        centre = (int(core_x + t * (px - core_x)), int(core_y + t * (py - core_y)))
        cv2.circle(dots, centre, int(rng.integers(1, 4) * scale), 1.0, -1, cv2.LINE_AA)
    lesion = lesion * (1 - 0.45 * dots[..., None])
    strength = rng.uniform(0.5, 0.97)  # from a faint, light-brown naevus to a dark, opaque lesion
    alpha = (lesion_alpha * strength)[..., None]
    image = image * (1 - alpha) + lesion * alpha

    hair = draw_strokes(size, _hairs(rng, size))
    hair_colour = np.array([rng.uniform(0.1, 0.25), rng.uniform(0.07, 0.16), rng.uniform(0.05, 0.12)], np.float32)
    hair_alpha = hair[..., None] * rng.uniform(0.75, 0.95)
    image = image * (1 - hair_alpha) + hair_colour * hair_alpha

    contrast = rng.uniform(0.85, 1.15)
    image = (image - image.mean()) * contrast + image.mean() + rng.uniform(-0.05, 0.05)
    image = acquisition_variation(rng, image)
    if layout.scope_radius is not None:
        radius = np.hypot(x - size / 2, y - size / 2)
        image = image * soft_edge(radius - layout.scope_radius, 4 * scale)[..., None]
    return camera_finish(rng, image, noise=rng.uniform(0.006, 0.018))


def generate_skin(seed: Seed, size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One dermoscopy-like sample: (image uint8 H x W x 3, labels uint8 H x W)."""
    rng = as_generator(seed)
    layout = skin_layout(rng, size)
    return render_skin(rng, layout, size), skin_labels(layout, size)
