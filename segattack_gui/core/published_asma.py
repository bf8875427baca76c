"""The structure of the ASMA authors' published loop, re-created as a baseline.

It follows the reference implementation's *structure*, not its code: per iteration a
forward pass with weight gradients enabled, one masked sum per class, a backward pass
into the weights as well as the input, a second forward pass on the stepped image to
update the multiplier, and a host synchronisation for the metrics. The benchmark
times our engine against it, and the tests check that both produce the same
trajectory. Its multiplier for step n comes from the prediction of the *unclamped*
image after step n-1, starting from IoU 0, as in the published code.
"""

from __future__ import annotations

import numpy as np
import torch

from .models import ModelAdapter, set_requires_grad


def _numpy_iou_and_accuracy(prediction: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Binary foreground IoU and pixel accuracy, computed on the host as the published code does."""
    intersection = np.logical_and(prediction == 1, target == 1).sum()
    union = np.logical_or(prediction == 1, target == 1).sum()
    iou = float(intersection / union) if union else 1.0
    return iou, float((prediction == target).mean())


def published_asma_loop(
    adapter: ModelAdapter,
    image: torch.Tensor,
    target: torch.Tensor,
    iterations: int,
    tau: float = 1e-7,
    beta: float = 1e-6,
    weight_gradients: bool = True,
) -> dict[str, list[float]]:
    """Run the published loop on ``image`` ``[1, C, H, W]`` towards ``target`` ``[1, h, w]``.

    Returns per-iteration IoU, pixel accuracy, L2 and L-inf of the image after each step.
    """
    model = adapter.model
    if weight_gradients:
        set_requires_grad(model, True)
    classes = list(range(adapter.num_classes))
    target_host = target[0].cpu().numpy()
    original = image.clone()
    x = image.clone()
    multiplier = beta * 0 + tau
    history: dict[str, list[float]] = {"iou": [], "pixel_accuracy": [], "l2": [], "linf": []}
    try:
        for _ in range(iterations):
            x = x.detach().requires_grad_(True)
            logits = adapter.logits(x)
            prediction = logits.argmax(1)
            loss = 0
            for single_class in classes:
                wanted = (target == single_class).float()
                wrong = (prediction != single_class).float()
                loss = loss + (logits[:, single_class] * wanted * wrong).sum()
            loss = loss - ((x - original) ** 2).sum()
            model.zero_grad(set_to_none=True)
            loss.backward()
            stepped = x.detach() + x.grad * multiplier
            with torch.no_grad():
                stepped_prediction = adapter.logits(stepped).argmax(1)[0].cpu().numpy()
            iou, accuracy = _numpy_iou_and_accuracy(stepped_prediction, target_host)
            difference = stepped - original
            history["iou"].append(iou)
            history["pixel_accuracy"].append(accuracy)
            history["l2"].append(float(difference.norm()))
            history["linf"].append(float(difference.abs().max()))
            multiplier = beta * iou + tau
            x = stepped.clamp(0, 1)
    finally:
        set_requires_grad(model, False)
        model.zero_grad(set_to_none=True)
    return history
