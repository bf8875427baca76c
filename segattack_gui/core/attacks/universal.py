"""Universal perturbation towards a static target (Metzen, Kumar, Brox and Fischer, ICCV 2017).

"Universal Adversarial Perturbations Against Semantic Image Segmentation", static
target: one perturbation xi (C x H x W) is fitted to a set of images x^(1..m) so
that every x^(k) + xi is segmented as the target y^target. With the mean per-pixel cross-entropy
J_ss(f(x), y^target) and the gradient of its mean over the set,

    grad_D(xi) = 1/m sum_k grad_x J_ss(f(clip_[0,1](x^(k) + xi)), y^target,k),

the iteration is a sign step projected onto the L-inf ball,

    xi^(0) = 0,   xi^(n+1) = Clip_eps{ xi^(n) - alpha * sign(grad_D(xi^(n))) }.

Each iteration is one pass over the whole set in mini-batches of ``batch_size`` (the
gradient is accumulated, then one step is taken). Every image is kept in its own
[0, 1] box when xi is added; an optional perturbation region R (one mask for all
images) zeroes xi outside R.

This does not fit the per-image loop of :mod:`segattack_gui.core.runner` (one variable
shared by many images), so it has its own small driver that reuses the runner's input
preparation, 8-bit rounding and final metrics. It is for the batch runner and the CLI.

Defaults chosen here: eps = 10/255, a little above the image-specific PGD radius
(8/255) because one pattern must work for every image; alpha = 1/255 (the I-FGSM
step); 100 passes; no random start (xi^(0) = 0 as in the paper, so ``seed`` is only
recorded).

The history records, per pass n, the set's mean IoU, mean pixel accuracy and mean
cross-entropy at xi^(n), and the L2 and L-inf norms of xi^(n) itself (the change each
image receives can be smaller where the [0, 1] box clips it; ``evaluate_universal``
reports that per image).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics import segmentation_scores
from ..models import ModelAdapter
from ..runner import AttackControl, final_scores, prepare_batch, to_image
from .base import AttackConfig, parameter, quantize_within_linf

ProgressCallback = Callable[[int, int, float], None]
"""Called after every pass with (pass done, passes in all, mean IoU of the set)."""

UNIVERSAL_HISTORY_COLUMNS = ("mean_iou", "mean_pixel_accuracy", "cross_entropy", "l2", "linf")


@dataclass(frozen=True)
class UniversalConfig(AttackConfig):
    """Parameters of the universal perturbation (one xi for a set of images)."""

    iterations: int = parameter(100, "Passes over the image set; each takes one sign step on the mean gradient.",
                                minimum=1)
    epsilon: float = parameter(10 / 255, "epsilon: L-inf radius of the universal perturbation on [0, 1] (10/255).",
                               minimum=0.0, maximum=1.0)
    alpha: float = parameter(1 / 255, "alpha: L-inf step per pass (1/255).", minimum=0.0, maximum=1.0)
    batch_size: int = parameter(8, "Images per forward/backward pass while accumulating the mean gradient.",
                                minimum=1)


@dataclass
class UniversalResult:
    """A fitted universal perturbation and how the set's agreement with the target evolved."""

    perturbation: np.ndarray  # H x W x C float32, the last iterate xi
    best_perturbation: np.ndarray  # highest mean IoU, then smallest L2
    best_iteration: int
    history: dict[str, np.ndarray]  # UNIVERSAL_HISTORY_COLUMNS plus iteration and seconds, row n = xi^(n)
    iterations_run: int
    stop_reason: str  # iterations, stop_iou, non-finite or user
    seconds: float
    config: dict = field(default_factory=dict)
    error: str | None = None


def _targets_for(images: Sequence[np.ndarray], targets) -> list[np.ndarray]:
    """One target per image; a single ``H x W`` mask is the static target of every image."""
    if isinstance(targets, np.ndarray) and targets.ndim == 2:
        return [targets] * len(images)
    return list(targets)


def _set_pass(adapter, x0, target, perturbation, batch_size, with_gradient, quantized, epsilon):
    """Mean gradient over the set (or None), mean IoU, mean pixel accuracy and mean cross-entropy."""
    count = x0.shape[0]
    xi = perturbation.detach().requires_grad_(with_gradient)
    gradient = torch.zeros_like(perturbation) if with_gradient else None
    iou_sum = accuracy_sum = cross_entropy_sum = torch.zeros((), device=x0.device)
    for start in range(0, count, batch_size):
        x = (x0[start : start + batch_size] + xi).clamp(0, 1)
        if quantized:
            # Straight-through: the model sees the PNG's pixels, which stay in the epsilon ball.
            x = x + (quantize_within_linf(x, x0[start : start + batch_size], epsilon) - x).detach()
        logits = adapter.logits(x)
        batch_target = target[start : start + batch_size]
        cross_entropy = F.cross_entropy(logits, batch_target, reduction="none").flatten(1).mean(1)
        if with_gradient:
            gradient += torch.autograd.grad(cross_entropy.sum() / count, xi)[0]
        scores = segmentation_scores(logits.detach().argmax(1), batch_target, adapter.num_classes)
        iou_sum = iou_sum + scores["iou"].sum()
        accuracy_sum = accuracy_sum + scores["pixel_accuracy"].sum()
        cross_entropy_sum = cross_entropy_sum + cross_entropy.detach().sum()
    return gradient, iou_sum / count, accuracy_sum / count, cross_entropy_sum / count


def fit_universal(
    adapter: ModelAdapter,
    images: Sequence[np.ndarray],
    targets: Sequence[np.ndarray] | np.ndarray,
    config: UniversalConfig | None = None,
    *,
    region: np.ndarray | None = None,
    control: AttackControl | None = None,
    progress: ProgressCallback | None = None,
) -> UniversalResult:
    """Fit one perturbation to equally sized ``images`` (``H x W x C`` in [0, 1]) towards ``targets``."""
    config = config if config is not None else UniversalConfig()
    config.validate()
    targets = _targets_for(images, targets)
    regions = None if region is None else [region] * len(images)
    x0, target, region_mask, _ = prepare_batch(adapter, images, targets, regions)
    region_mask = None if region_mask is None else region_mask[:1]
    iterations = config.iterations
    quantized_from = config.quantized_from
    history = torch.zeros(iterations + 1, len(UNIVERSAL_HISTORY_COLUMNS), device=x0.device)
    seconds = np.zeros(iterations + 1)
    perturbation = previous_perturbation = torch.zeros_like(x0[:1])  # xi^(0) = 0
    best_perturbation, best_iou, best_l2, best_iteration = perturbation, -1.0, float("inf"), 0
    stop_reason, error = "iterations", None
    started = time.perf_counter()
    row = 0
    with torch.enable_grad():
        for row in range(iterations + 1):
            if control is not None:
                control.wait_while_paused()
                if control.stop_requested:
                    stop_reason = "user"
            final_row = row == iterations or stop_reason == "user"
            gradient, mean_iou, mean_accuracy, cross_entropy = _set_pass(
                adapter, x0, target, perturbation, config.batch_size, not final_row, row >= quantized_from,
                config.epsilon,
            )
            l2 = perturbation.flatten().norm()
            history[row] = torch.stack([mean_iou, mean_accuracy, cross_entropy, l2, perturbation.abs().amax()])
            seconds[row] = time.perf_counter() - started
            iou_now, l2_now, loss_now = torch.stack([mean_iou, l2, cross_entropy]).tolist()  # one sync a pass
            if not math.isfinite(loss_now):  # a NaN or infinite output: its IoU means nothing, keep xi^(n-1)
                stop_reason, perturbation = "non-finite", previous_perturbation
                error = (f"the model's output became NaN or infinite at iteration {row}; "
                         f"kept the iterates up to iteration {row - 1}" if row else
                         "the model's output is NaN or infinite on the clean images: nothing to attack")
                row = max(row - 1, 0)
                break
            if row == quantized_from:  # from here on, the best perturbation is one 8-bit images can hold
                best_iou = -1.0
            if iou_now > best_iou or (iou_now == best_iou and l2_now < best_l2):
                best_perturbation, best_iou, best_l2, best_iteration = perturbation, iou_now, l2_now, row
            on_final_grid = not config.quantize or row >= quantized_from
            if config.stop_iou is not None and iou_now >= config.stop_iou and on_final_grid:
                stop_reason = "stop_iou"
                break
            if final_row:
                break
            if not bool(torch.isfinite(gradient).all()):
                stop_reason = "non-finite"
                error = f"the gradient became NaN or infinite at iteration {row}; kept the iterates up to it"
                break
            if region_mask is not None:
                gradient = gradient * region_mask
            previous_perturbation = perturbation
            perturbation = (perturbation - config.alpha * gradient.sign()).clamp(-config.epsilon, config.epsilon)
            if region_mask is not None:
                perturbation = perturbation * region_mask
            if progress is not None:
                progress(row + 1, iterations, iou_now)
    columns = history[: row + 1].cpu().numpy().astype(np.float64)
    result_history = {name: columns[:, index] for index, name in enumerate(UNIVERSAL_HISTORY_COLUMNS)}
    result_history["iteration"] = np.arange(row + 1)
    result_history["seconds"] = seconds[: row + 1].copy()
    return UniversalResult(
        perturbation=to_image(perturbation[0]),
        best_perturbation=to_image(best_perturbation[0]),
        best_iteration=best_iteration,
        history=result_history,
        iterations_run=row,
        stop_reason=stop_reason,
        seconds=time.perf_counter() - started,
        config=config.as_dict(),
        error=error,
    )


def evaluate_universal(
    adapter: ModelAdapter,
    perturbation: np.ndarray,
    images: Sequence[np.ndarray],
    targets: Sequence[np.ndarray] | np.ndarray,
    *,
    batch_size: int = 8,
    quantize: bool = False,
) -> list[dict]:
    """Per-image metrics of clip_[0,1](x + xi) against the target, e.g. on held-out images.

    Each record holds ``iou``, ``pixel_accuracy``, ``dice``, ``l2`` and ``linf`` (of the
    change actually applied, after the [0, 1] box), ``psnr``, ``ssim`` and
    ``per_class_iou``; ``quantize`` evaluates the 8-bit images a PNG would hold.
    """
    targets = _targets_for(images, targets)
    records = []
    for start in range(0, len(images), batch_size):
        x0, target, _, _ = prepare_batch(
            adapter, images[start : start + batch_size], targets[start : start + batch_size], None,
        )
        xi = adapter.to_device(perturbation)
        x = (x0 + xi).clamp(0, 1)
        if quantize:  # never a larger change than xi's own largest: its epsilon ball holds for the PNG too
            x = quantize_within_linf(x, x0, float(np.abs(perturbation).max()))
        batch_records, _ = final_scores(adapter, x, x0, target)
        records.extend(batch_records)
    return records
