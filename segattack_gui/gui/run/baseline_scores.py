"""The model's IoU and pixel accuracy on the clean image against the target, scored off the GUI thread.

The prediction view shows them before a run: where the attack starts, by the same
definitions as every iteration's. Scoring a 1-megapixel target takes tens of
milliseconds, too long for the GUI thread at every brush stroke, so each change of
target or prediction queues a job; a job finds nothing to do if its inputs were scored.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from PySide6.QtCore import QObject, Slot

from ...core.metrics import segmentation_scores
from ..background import JobFailed, TaskQueue

log = logging.getLogger(__name__)


def clean_scores(prediction: np.ndarray, target: np.ndarray, num_classes: int) -> dict[str, float]:
    """IoU and pixel accuracy of ``prediction`` against ``target`` (both on the output grid)."""
    scores = segmentation_scores(torch.from_numpy(prediction.astype(np.int64))[None],
                                 torch.from_numpy(np.asarray(target, np.int64))[None], num_classes)
    return {name: float(scores[name][0]) for name in ("iou", "pixel_accuracy")}


class BaselineScorer(QObject):
    """Keeps ``document.baseline_scores`` in step with the document's prediction and target."""

    def __init__(self, document, parent: QObject | None = None):
        super().__init__(parent)
        self.document = document
        self.tasks = TaskQueue("scores", self)
        for signal in (document.baselineChanged, document.targetChanged):
            signal.connect(self.schedule)

    @Slot()
    def schedule(self) -> None:
        document = self.document

        def prepare():
            prediction, target = document.baseline_prediction, document.target
            if prediction is None or document.model is None or target.shape != document.image_shape:
                return None
            if document.baseline_scores:  # these inputs are scored already
                return None
            adapter, revision = document.model.adapter, document.masks.revisions()[0]
            cropped = adapter.output_grid(*document.image_shape).crop(target).copy()  # painting goes on meanwhile
            return lambda: (prediction, revision, clean_scores(prediction, cropped, adapter.num_classes))

        self.tasks.submit("score the clean prediction", prepare, self._done, self._failed)

    def _done(self, result) -> None:
        self.document.set_baseline_scores(*result)

    def _failed(self, failure: JobFailed) -> None:
        log.info("the clean prediction was not scored: %s", failure.error)

    def shutdown(self) -> None:
        self.tasks.shutdown()
