"""Procedural, seeded generators of the demo's synthetic biomedical images.

No public pretrained medical model can be shipped, so the demo trains its own small
U-Nets on images drawn here. Two kinds, both 256 x 256 RGB with a class-id map:

* fundus-like: a dark reddish-orange retina inside a circular field of view, a
  vessel tree growing out of a bright yellowish optic disc that holds a brighter cup.
  Classes 0 background, 1 optic disc (the rim: disc minus cup), 2 optic cup.
* dermoscopy-like: skin texture, hairs, an irregular pigmented lesion.
  Classes 0 skin, 1 lesion.

Every sample is a pure function of its seed (a ``numpy.random.Generator`` built from
it), so training data, held-out data and the shipped demo files are reproducible.
Each generator first draws a small *layout* (where the structures are) and then
renders it; the label map depends on the layout alone, which lets the demo pick a
target mask from "another image" without rendering that image.

Edges are soft and the same layout boundary (the 0.5 level of the rendered blend)
defines the label, so the task is learnable; vessels and hairs drawn over the
structures, vignetting, noise, blur and colour jitter keep it from being trivial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from segattack_gui.demo.dermoscopy import (
    SKIN_CLASSES,
    SKIN_COLORS,
    generate_skin,
    lesion_moved_to,
    render_skin,
    skin_labels,
    skin_layout,
)
from segattack_gui.demo.fundus import (
    FUNDUS_CLASSES,
    FUNDUS_COLORS,
    disc_moved_to,
    fundus_labels,
    fundus_layout,
    generate_fundus,
    render_fundus,
)
from segattack_gui.demo.rendering import IMAGE_SIZE, Seed, as_generator

__all__ = [
    "IMAGE_SIZE",
    "KINDS",
    "SyntheticKind",
    "generate_fundus",
    "generate_skin",
    "FUNDUS_CLASSES",
    "FUNDUS_COLORS",
    "SKIN_CLASSES",
    "SKIN_COLORS",
]


@dataclass(frozen=True)
class SyntheticKind:
    """One generator family: its classes and colours, and its layout -> labels / image steps."""

    name: str
    classes: list[str]
    colors: list[list[int]]
    description: str  # goes to the model sidecar
    draw_layout: Callable[[np.random.Generator, int], Any]
    labels_of: Callable[[Any, int], np.ndarray]
    render: Callable[[np.random.Generator, Any, int], np.ndarray]
    moved_to: Callable[[Any, Any], Any]  # (other layout, host layout) -> other's structure at host's place

    def generate(self, seed: Seed, size: int = IMAGE_SIZE) -> tuple[np.ndarray, np.ndarray]:
        """(image uint8 H x W x 3, labels uint8 H x W) of the sample ``seed``."""
        rng = as_generator(seed)
        layout = self.draw_layout(rng, size)
        return self.render(rng, layout, size), self.labels_of(layout, size)

    def labels_only(self, seed: Seed, size: int = IMAGE_SIZE) -> np.ndarray:
        """The label map of ``generate(seed)`` without rendering the image (cheap)."""
        return self.labels_of(self.draw_layout(as_generator(seed), size), size)

    def layout(self, seed: Seed, size: int = IMAGE_SIZE) -> Any:
        """The layout ``generate(seed)`` renders."""
        return self.draw_layout(as_generator(seed), size)

    def labels_moved(self, seed: Seed, host_seed: Seed, size: int = IMAGE_SIZE) -> np.ndarray:
        """The label map of sample ``seed``'s structure placed where sample ``host_seed``'s is."""
        return self.labels_of(self.moved_to(self.layout(seed, size), self.layout(host_seed, size)), size)


KINDS = {
    "fundus": SyntheticKind(
        name="fundus",
        classes=FUNDUS_CLASSES,
        colors=FUNDUS_COLORS,
        description="Synthetic demo: fundus-like images (procedural vessel tree, optic disc and cup); "
        "segments the optic disc rim and the cup (NOT a clinical model)",
        draw_layout=fundus_layout,
        labels_of=fundus_labels,
        render=render_fundus,
        moved_to=disc_moved_to,
    ),
    "skin": SyntheticKind(
        name="skin",
        classes=SKIN_CLASSES,
        colors=SKIN_COLORS,
        description="Synthetic demo: dermoscopy-like images (procedural skin, hairs, irregular pigmented "
        "lesion); segments the lesion (NOT a clinical model)",
        draw_layout=skin_layout,
        labels_of=skin_labels,
        render=render_skin,
        moved_to=lesion_moved_to,
    ),
}
