"""What the live views show right now: the newest snapshot, a replayed frame, or the clean image.

Kept apart from the widgets (no Qt) so the choice can be tested on hand-made arrays. The
agreement map is the exports' too (``io.figures``), so the files show what the window shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..io.figures import AGREE, AGREEMENT_COLORS, EXTRA, MISSING, OUTSIDE, agreement_map
from .display_grid import DisplayGrid
from .snapshot_store import KeptFrame

__all__ = ["AGREE", "AGREEMENT_COLORS", "EXTRA", "MISSING", "OUTSIDE", "ShownFrame", "agreement_map",
           "shown_frame"]

@dataclass(frozen=True)
class ShownFrame:
    """One state of the attack as the views draw it, on the display grid (the image, maybe reduced)."""

    iteration: int | None  # None before any run
    total_iterations: int | None
    kept: KeptFrame  # adversarial (uint8), perturbation and its magnitude
    prediction: np.ndarray | None  # uint8 class ids, VOID_CLASS outside the model's output grid
    target: np.ndarray  # class ids
    live: bool  # True while following a running attack
    peak_abs: float  # largest |perturbation| of one channel in the newest frame (fixes heatmap levels)
    peak_magnitude: float  # largest per-pixel L2 over channels in the newest frame
    image_shape: tuple[int, int]  # the image's own height and width: the views stretch the frame over it
    bulk_magnitude: float = 0.0  # 99th percentile of the moved pixels' magnitude in the newest frame ("auto" scale)
    original: np.ndarray | None = None  # the clean image on the display grid, float [0, 1] (for a display window)

    @property
    def metrics(self) -> dict[str, float]:
        return self.kept.metrics

    @property
    def channels(self) -> int:
        return self.kept.perturbation_int8.shape[2]


def shown_frame(document) -> ShownFrame | None:
    """The frame the views should draw for ``document`` (an :class:`AttackDocument`).

    While a run exists: the replayed kept frame, or the newest one (every snapshot is kept
    before it is drawn). Before any run: the clean image with the model's prediction on it.
    Either way on the display grid (``display_grid``), with the image's own size beside it.
    """
    run = document.run
    if run is not None and len(run.store):
        newest = run.store.newest()
        replaying = document.shown_frame is not None and document.shown_frame < len(run.store) - 1
        frame = run.store[document.shown_frame] if replaying else newest
        total = run.latest.total_iterations if run.latest is not None else run.config.get("iterations")
        return ShownFrame(frame.iteration, total, frame, frame.prediction, run.display_target,
                          not replaying and not run.finished, newest.peak_abs, newest.peak_magnitude,
                          run.original.shape[:2], newest.bulk_magnitude, run.display_original)
    image = document.image
    if image is None:
        return None
    display = DisplayGrid.for_image(image.height, image.width)
    prediction = None
    if document.baseline_prediction is not None and document.model is not None:
        grid = document.model.adapter.output_grid(image.height, image.width)
        prediction = display.prediction(document.baseline_prediction, grid)
    target = document.target if document.target.shape == (image.height, image.width) else np.zeros(
        (image.height, image.width), np.uint8)
    pixels = display.image(image.pixels)
    clean = KeptFrame.from_arrays(0, pixels, pixels, None, document.baseline_scores)
    return ShownFrame(None, None, clean, prediction, display.labels(target), False, 0.0, 0.0,
                      (image.height, image.width), original=pixels)
