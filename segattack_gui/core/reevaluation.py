"""An adversarial image judged again: by another model (transfer) or after a transform (survival).

Each evaluation scores the model's prediction of the adversarial twice: against the target
(did the attack's goal carry over?) and against the same model's prediction of the clean image
(how much did the prediction change at all?). Binary models score their foreground class,
others the mean over classes present, as everywhere (:func:`.metrics.segmentation_scores`).
"""

from __future__ import annotations

import numpy as np
import torch

from .metrics import segmentation_scores
from .models import ModelAdapter


def evaluate_adversarial(adapter: ModelAdapter, adversarial: np.ndarray, original: np.ndarray,
                         target: np.ndarray) -> dict:
    """IoU and pixel accuracy of ``adapter``'s prediction of ``adversarial`` (``H x W x C`` in [0, 1])
    against ``target`` (``H x W`` class ids) and against its prediction of ``original``.

    ``ValueError`` when the target holds a class the model does not have.
    """
    if target.size and int(target.max()) >= adapter.num_classes:
        raise ValueError(f"the target holds class {int(target.max())} but the model has "
                         f"{adapter.num_classes} classes")
    height, width = target.shape
    grid = adapter.output_grid(height, width)
    target_grid = torch.as_tensor(grid.crop(np.asarray(target)).astype(np.int64))[None].to(adapter.device)
    with torch.no_grad():
        prediction = adapter.predict(adapter.to_device(adversarial))
        clean = adapter.predict(adapter.to_device(original))
    against_target = segmentation_scores(prediction, target_grid, adapter.num_classes)
    against_clean = segmentation_scores(prediction, clean, adapter.num_classes)
    return {
        "iou": float(against_target["iou"][0]),
        "pixel_accuracy": float(against_target["pixel_accuracy"][0]),
        "iou_vs_clean": float(against_clean["iou"][0]),
        "pixel_accuracy_vs_clean": float(against_clean["pixel_accuracy"][0]),
    }
