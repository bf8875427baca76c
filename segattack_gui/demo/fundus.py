"""Fundus-like images: retina, vessel tree, optic disc and cup (classes 0, 1 rim, 2 cup).

A dark reddish-orange retina inside a circular field of view, darker towards the
edge and at the macula; a bright yellowish optic disc (an ellipse left or right of
centre) holding a brighter cup; a branching vessel tree that leaves the cup, arches
around the macula and crosses the disc. Labels: 0 background, 1 optic disc (the rim:
disc minus cup), 2 optic cup.
"""

from __future__ import annotations

import math
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
    ellipse_distance,
    pixel_grid,
    smooth_noise,
    soft_edge,
)

FUNDUS_CLASSES = ["background", "optic disc", "optic cup"]
FUNDUS_COLORS = [[0, 0, 0], [255, 200, 0], [0, 160, 255]]


@dataclass(frozen=True)
class FundusLayout:
    """Geometry of one fundus image: field of view, optic disc and cup ellipses."""

    fov_radius: float
    disc_centre: tuple[float, float]
    disc_axes: tuple[float, float]
    disc_angle: float
    cup_centre: tuple[float, float]
    cup_axes: tuple[float, float]
    cup_angle: float
    macula_side: int  # +1: the macula (temporal side) lies to the right of the disc


def fundus_layout(rng: np.random.Generator, size: int = IMAGE_SIZE) -> FundusLayout:
    """Draw a plausible disc: left or right of centre, slightly tall, cup towards the macula."""
    scale = size / IMAGE_SIZE
    centre = size / 2
    disc_on_left = rng.random() < 0.5
    side = 1 if disc_on_left else -1
    disc_x = centre - side * rng.uniform(42, 68) * scale
    disc_y = centre + rng.uniform(-24, 24) * scale
    radius = rng.uniform(20, 30) * scale
    disc_axes = (radius * rng.uniform(0.88, 1.0), radius * rng.uniform(1.0, 1.12))
    disc_angle = rng.uniform(-0.3, 0.3)
    cup_ratio = rng.uniform(0.35, 0.62)
    cup_axes = (disc_axes[0] * cup_ratio * rng.uniform(0.9, 1.1), disc_axes[1] * cup_ratio)
    # The cup sits a little towards the temporal side; keep it well inside the disc.
    room = 1.0 - cup_ratio * 1.1
    cup_x = disc_x + side * rng.uniform(0.0, 0.45) * room * disc_axes[0]
    cup_y = disc_y + rng.uniform(-0.25, 0.25) * room * disc_axes[1]
    return FundusLayout(
        fov_radius=rng.uniform(0.455, 0.49) * size,
        disc_centre=(disc_x, disc_y),
        disc_axes=disc_axes,
        disc_angle=disc_angle,
        cup_centre=(cup_x, cup_y),
        cup_axes=cup_axes,
        cup_angle=disc_angle + rng.uniform(-0.3, 0.3),
        macula_side=side,
    )


def fundus_labels(layout: FundusLayout, size: int = IMAGE_SIZE) -> np.ndarray:
    """Class ids: 0 background, 1 disc rim, 2 cup (always inside the disc)."""
    disc = ellipse_distance(size, layout.disc_centre, layout.disc_axes, layout.disc_angle) < 0
    cup = ellipse_distance(size, layout.cup_centre, layout.cup_axes, layout.cup_angle) < 0
    labels = np.zeros((size, size), np.uint8)
    labels[disc] = 1
    labels[disc & cup] = 2
    return labels


def disc_moved_to(other: FundusLayout, host: FundusLayout) -> FundusLayout:
    """``other``'s disc and cup, placed where ``host``'s disc is: the cup keeps its offset inside the
    disc, mirrored when the two eyes' maculas lie on opposite sides. The paper's targets are other
    images' masks on disc-centred crops, where every disc sits at about the same place."""
    dy = host.disc_centre[1] - other.disc_centre[1]
    cup_offset = other.cup_centre[0] - other.disc_centre[0]
    if other.macula_side != host.macula_side:
        cup_offset = -cup_offset
    return FundusLayout(
        fov_radius=host.fov_radius,
        disc_centre=host.disc_centre,
        disc_axes=other.disc_axes,
        disc_angle=other.disc_angle,
        cup_centre=(host.disc_centre[0] + cup_offset, other.cup_centre[1] + dy),
        cup_axes=other.cup_axes,
        cup_angle=other.cup_angle,
        macula_side=host.macula_side,
    )


def _vessel_tree(rng: np.random.Generator, layout: FundusLayout, size: int):
    """Polylines of a branching vessel tree growing out of the optic cup.

    Four main trunks as in a real retina: two temporal arcades that arch above and
    below the macula, two straighter nasal trunks; each walks with a drifting
    curvature, thins as it goes and sheds thinner branches.
    """
    scale = size / IMAGE_SIZE
    side = layout.macula_side
    # the central vessels emerge from the cup, on its nasal side
    cx = layout.cup_centre[0] - side * 0.3 * layout.cup_axes[0]
    cy = layout.cup_centre[1]
    centre = size / 2
    step = 2.5 * scale
    trunks = []
    for vertical in (-1, 1):  # superior, inferior
        # temporal arcade: leaves the disc near-vertically, bends towards the macula
        angle = np.arctan2(vertical * 1.0, side * rng.uniform(0.25, 0.6))
        trunks.append((angle, -vertical * side * rng.uniform(0.007, 0.013) / scale, rng.uniform(2.6, 3.4)))
        # nasal trunk: heads away from the macula, gently curved
        angle = np.arctan2(vertical * rng.uniform(0.4, 1.2), -side * 1.0)
        trunks.append((angle, vertical * side * rng.uniform(0.0, 0.006) / scale, rng.uniform(1.8, 2.6)))
    for _ in range(rng.integers(1, 4)):  # a few small vessels leaving in any direction
        trunks.append((rng.uniform(-np.pi, np.pi), rng.normal(0, 0.005) / scale, rng.uniform(1.0, 1.6)))

    active = []
    for angle, curvature, width in trunks:
        start = (cx + rng.normal(0, 2) * scale, cy + rng.normal(0, 2) * scale)
        active.append([start, angle, curvature, width * scale])
    strokes = []
    budget = 6000
    fov = layout.fov_radius - 2 * scale
    max_curvature = 0.016 / scale
    while active and budget > 0:
        (x, y), angle, curvature, width = active.pop()
        heading = angle
        points = [(x, y)]
        while width > 0.55 * scale and budget > 0:
            budget -= 1
            # vessels bend but never loop: bounded curvature and total turn
            curvature = min(max(curvature + rng.normal(0, 0.0005) / scale, -max_curvature), max_curvature)
            angle = min(max(angle + curvature * step + rng.normal(0, 0.045), heading - 2.0), heading + 2.0)
            x, y = x + step * math.cos(angle), y + step * math.sin(angle)
            if math.hypot(x - centre, y - centre) > fov:
                break
            points.append((x, y))
            width *= 0.994
            if width > 0.9 * scale and rng.random() < 0.035:
                child_width = width * rng.uniform(0.5, 0.75)
                turn = rng.choice([-1, 1]) * rng.uniform(0.45, 1.1)
                active.append([(x, y), angle + turn, rng.normal(0, 0.006) / scale, child_width])
                width *= 0.93
            if len(points) >= 6:  # short polylines let the width taper
                strokes.append((np.array(points), width))
                points = [(x, y)]
        if len(points) > 1:
            strokes.append((np.array(points), width))
    return strokes


def _pale_lookalikes(rng: np.random.Generator, layout: FundusLayout, image: np.ndarray, disc_distance: np.ndarray,
                     size: int) -> np.ndarray:
    """Pale things that are not the disc: a crescent of peripapillary atrophy hugging the disc on
    its temporal side (often), and small yellowish drusen or exudates (sometimes). Labels stay
    as they are, so the net must learn the disc's shape and place, not just "pale is disc"."""
    scale = size / IMAGE_SIZE
    x, y = pixel_grid(size)
    pale = np.array([rng.uniform(0.8, 0.95), rng.uniform(0.55, 0.7), rng.uniform(0.35, 0.5)], np.float32)
    if rng.random() < 0.6:
        width = rng.uniform(3, 8) * scale
        ring = soft_edge(np.abs(disc_distance - width / 2 - 1.5 * scale) - width / 2, 1.2 * scale)
        side = layout.macula_side * (x - layout.disc_centre[0]) / layout.disc_axes[0]
        crescent = ring * np.clip(side + rng.uniform(-0.3, 0.3), 0, 1) * rng.uniform(0.25, 0.55)
        image = image * (1 - crescent[..., None]) + pale * crescent[..., None]
    if rng.random() < 0.5:
        spots = np.zeros((size, size), np.float32)
        for _ in range(rng.integers(3, 25)):
            angle, distance = rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.8) * layout.fov_radius
            centre = (size / 2 + distance * np.cos(angle), size / 2 + distance * np.sin(angle))
            if np.hypot(centre[0] - layout.disc_centre[0], centre[1] - layout.disc_centre[1]) < 1.6 * layout.disc_axes[1]:
                continue
            cv2.circle(spots, (int(centre[0] * 16), int(centre[1] * 16)), int(rng.uniform(1, 3.5) * scale * 16),
                       1.0, -1, cv2.LINE_AA, 4)
        spots = cv2.GaussianBlur(spots, (0, 0), 0.7) * rng.uniform(0.4, 0.8)
        image = image * (1 - spots[..., None]) + pale * spots[..., None]
    return image


def render_fundus(rng: np.random.Generator, layout: FundusLayout, size: int = IMAGE_SIZE) -> np.ndarray:
    """Render a fundus-like RGB uint8 image for ``layout``."""
    scale = size / IMAGE_SIZE
    x, y = pixel_grid(size)
    centre = size / 2
    radius = np.hypot(x - centre, y - centre)

    background = np.array([rng.uniform(0.66, 0.86), rng.uniform(0.22, 0.34), rng.uniform(0.06, 0.14)], np.float32)
    shading = 1.0 + 0.10 * smooth_noise(rng, size, 4) + 0.04 * smooth_noise(rng, size, 16)
    vignette = np.clip(1.0 - rng.uniform(0.35, 0.6) * (radius / layout.fov_radius) ** 2.2, 0.15, 1.0)
    macula_x = layout.disc_centre[0] + layout.macula_side * rng.uniform(2.4, 2.9) * layout.disc_axes[0] * 2
    macula_y = layout.disc_centre[1] + rng.uniform(-8, 8) * scale
    macula_sigma = rng.uniform(14, 22) * scale
    macula = 1.0 - rng.uniform(0.2, 0.4) * np.exp(-((x - macula_x) ** 2 + (y - macula_y) ** 2) / (2 * macula_sigma**2))
    brightness = shading * vignette * macula
    image = background[None, None, :] * brightness[..., None]
    # choroidal texture, mostly in red
    image[..., 0] += 0.03 * smooth_noise(rng, size, 48)

    disc_distance = ellipse_distance(size, layout.disc_centre, layout.disc_axes, layout.disc_angle)
    # Discs range from vivid to faint (a pale fundus, a small pupil): the label does not change.
    disc_alpha = soft_edge(disc_distance, rng.uniform(0.8, 1.6) * scale) * rng.uniform(0.45, 1.0)
    disc_colour = np.array([rng.uniform(0.86, 0.98), rng.uniform(0.6, 0.74), rng.uniform(0.28, 0.42)], np.float32)
    disc_colour = disc_colour * (1.0 + 0.05 * smooth_noise(rng, size, 24))[..., None]
    # the disc keeps part of the local shading, as in a real photograph
    disc_colour = disc_colour * (0.75 + 0.25 * vignette)[..., None]
    image = image * (1 - disc_alpha[..., None]) + disc_colour * disc_alpha[..., None]

    cup_distance = ellipse_distance(size, layout.cup_centre, layout.cup_axes, layout.cup_angle)
    cup_alpha = soft_edge(cup_distance, rng.uniform(0.9, 1.8) * scale) * rng.uniform(0.4, 0.9)
    cup_colour = np.array([1.0, rng.uniform(0.88, 0.97), rng.uniform(0.62, 0.8)], np.float32)
    image = image * (1 - cup_alpha[..., None]) + cup_colour[None, None, :] * cup_alpha[..., None]

    image = _pale_lookalikes(rng, layout, image, disc_distance, size)

    vessels = draw_strokes(size, _vessel_tree(rng, layout, size))
    vessel_tint = np.array([rng.uniform(0.45, 0.6), rng.uniform(0.25, 0.4), rng.uniform(0.3, 0.45)], np.float32)
    darkness = vessels[..., None] * rng.uniform(0.7, 0.9)
    image = image * (1 - darkness * (1 - vessel_tint))

    contrast = rng.uniform(0.85, 1.15)
    image = (image - image.mean()) * contrast + image.mean()
    image = acquisition_variation(rng, image)
    fov_alpha = soft_edge(radius - layout.fov_radius, 0.8 * scale)
    image = image * fov_alpha[..., None]
    return camera_finish(rng, image, noise=rng.uniform(0.006, 0.02))


def generate_fundus(seed: Seed, size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """One fundus-like sample: (image uint8 H x W x 3, labels uint8 H x W)."""
    rng = as_generator(seed)
    layout = fundus_layout(rng, size)
    return render_fundus(rng, layout, size), fundus_labels(layout, size)
