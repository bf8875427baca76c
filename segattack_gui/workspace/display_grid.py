"""The pixel grid the live views draw on: the image itself, or the image reduced for display.

A 2048 x 2048 scan shown in a 300-pixel panel needs no 4-million-pixel frame: converting,
keeping and drawing every frame at full size stalled the event loop for hundreds of
milliseconds. So each run's frames are reduced, in the attack's thread, by a whole factor
to at most ``DISPLAY_MAX_SIDE`` pixels a side: images by area averaging (what a viewer
would see), class ids by nearest neighbour, the prediction first placed on the image grid
(void outside the model's output). The views stretch the reduced frame over the image's
own extent, so coordinates stay image pixels. Exports never use these frames, except the
GIF. No Qt here.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np

from ..core.models import OutputGrid
from ..core.results import Snapshot
from ..io.figures import VOID_CLASS

DISPLAY_MAX_SIDE = 640


@dataclass(frozen=True)
class DisplayGrid:
    image_height: int
    image_width: int
    factor: int  # 1: the image's own pixels

    @classmethod
    def for_image(cls, height: int, width: int, max_side: int = DISPLAY_MAX_SIDE) -> "DisplayGrid":
        return cls(height, width, max(1, math.ceil(max(height, width) / max_side)))

    @property
    def shape(self) -> tuple[int, int]:
        return math.ceil(self.image_height / self.factor), math.ceil(self.image_width / self.factor)

    def image(self, pixels: np.ndarray) -> np.ndarray:
        """H x W x C float in [0, 1] -> the display grid, area-averaged (float32, channels kept)."""
        pixels = np.asarray(pixels, dtype=np.float32)
        if self.factor == 1:
            return pixels
        height, width = self.shape
        reduced = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
        return reduced.reshape(height, width, -1)

    def labels(self, class_ids: np.ndarray) -> np.ndarray:
        """H x W class ids -> the display grid, nearest neighbour (ids are never blended)."""
        class_ids = np.asarray(class_ids)
        if self.factor == 1:
            return class_ids
        height, width = self.shape
        return cv2.resize(class_ids.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST)

    def prediction(self, prediction: np.ndarray, output_grid: OutputGrid) -> np.ndarray:
        """A prediction on the model's output grid -> the display grid, void outside that grid."""
        pasted = output_grid.paste(np.asarray(prediction, dtype=np.uint8), self.image_height, self.image_width,
                                   fill=VOID_CLASS)
        return self.labels(pasted)

    def snapshot(self, snapshot: Snapshot, output_grid: OutputGrid) -> Snapshot:
        """The snapshot as the views use it: adversarial and prediction on the display grid."""
        return dataclasses.replace(snapshot, adversarial=self.image(snapshot.adversarial),
                                   prediction=self.prediction(snapshot.prediction, output_grid))
