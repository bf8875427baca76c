"""Targeted PGD / I-FGSM and its segmentation weightings SegPGD and CosPGD.

**PGD** (Kurakin, Goodfellow and Bengio 2017, "Adversarial examples in the physical
world", I-FGSM; Madry et al. 2018, PGD with a random start). With the per-pixel
cross-entropy L_CE(f(x)_i, T_i) to the target mask T, the targeted attack *descends*

    L(x) = 1/(h w) sum_i w_i * L_CE(f(x)_i, T_i)                     (w_i = 1 for PGD)

by sign steps projected onto the epsilon ball around x_0:

    x_{t+1} = Proj_{B_eps(x_0)} ( x_t - alpha * sign(grad L(x_t)) ),

then the runner applies the perturbation region and the [0, 1] box. The runner
ascends, so :meth:`objective` returns -L and :meth:`step` adds alpha * sign(grad(-L)).
``random_start`` draws x_0 + U(-eps, eps) from the run's seed, afresh for each item, so an
image starts where it would alone whatever its batch and place in it.

``norm = "l2"`` is the L2 version: steps of length ``l2_alpha`` along the normalised
gradient, g / ||g||_2, and projection onto the L2 ball of radius ``l2_epsilon`` (over
all channels and pixels, [0, 1] scale, the ``l2`` column of the metrics).

**SegPGD** (Gu, Zhao, Tresp and Torr, ECCV 2022, Eq. 4) splits the pixels into those
the attack has already won and those it has not, and moves the weight from the latter
to the former over the run:

    L = 1/(h w) [ (1 - lambda_t) sum_{i not yet won} L_CE_i + lambda_t sum_{i won} L_CE_i ],
    lambda_t = (t - 1) / (2 T),  t = 1..T.

Untargeted, "won" means already misclassified; targeted, it means already predicted as
the target class (the targeted mode of the authors' reference package weights the same
way). Early steps thus pull the pixels still to convert; later ones also hold the
converted ones in place.

**CosPGD** (Agnihotri, Jung and Keuper, ICML 2024, Alg. 1) weights each pixel's loss
by the cosine similarity between the softmax prediction and the one-hot label,
cos_i = <softmax(f(x)_i), 1_{T_i}> / ||softmax(f(x)_i)||_2, detached from the graph.
Untargeted it weights by cos_i (pixels still close to their label count most); in the
targeted form it weights by 1 - cos_i, as the paper's targeted variant and its
reference code do: pixels already confident in their target class contribute nothing,
pixels far from it contribute fully.

Defaults: eps = 8/255 and alpha = 1/255 (the I-FGSM step of Kurakin et al., 8 steps to
the edge of the ball), 100 iterations (the longest budgets SegPGD and CosPGD evaluate);
L2: eps = 3.0, the radius used for ImageNet-size inputs in the adversarial-robustness
literature (on a 256 x 256 RGB image an RMS change of about 1.7/255), alpha = 3/8 so
that, like the L-inf default, 8 steps reach the edge of the ball.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..metrics import item_axes, l2_norms
from .base import (
    Attack,
    AttackConfig,
    StepInputs,
    parameter,
    quantize_grid,
    quantize_within_linf,
)


@dataclass(frozen=True)
class PGDConfig(AttackConfig):
    """Parameters of the targeted PGD family (I-FGSM step, PGD projection)."""

    iterations: int = parameter(100, "Iterations of the attack loop (SegPGD and CosPGD evaluate up to 100).", minimum=1)
    norm: str = parameter("linf", "Threat model: linf (sign steps, box ball) or l2 (normalised steps, L2 ball).",
                          choices=("linf", "l2"))
    epsilon: float = parameter(8 / 255, "epsilon: L-inf radius of the perturbation on [0, 1] images (8/255).",
                               minimum=0.0, maximum=1.0, applies_when={"norm": "linf"})
    alpha: float = parameter(1 / 255, "alpha: L-inf step, each pixel moves by alpha per iteration (1/255).",
                             minimum=0.0, maximum=1.0, applies_when={"norm": "linf"})
    l2_epsilon: float = parameter(3.0, "L2 radius of the perturbation over all pixels and channels (norm l2).",
                                  minimum=0.0, applies_when={"norm": "l2"})
    l2_alpha: float = parameter(0.375, "L2 length of one step (norm l2; 3/8 reaches the default radius in 8).",
                                minimum=0.0, applies_when={"norm": "l2"})
    random_start: bool = parameter(False, "Start from a uniformly random point in the ball (seeded).")


def segpgd_weights(prediction: torch.Tensor, target: torch.Tensor, iteration: int, iterations: int) -> torch.Tensor:
    """SegPGD's per-pixel weights ``[B, h, w]`` at 0-based ``iteration`` of ``iterations``.

    lambda_t = (t - 1) / (2 T) with t = iteration + 1: pixels already at their target
    class get lambda_t, pixels still wrong get 1 - lambda_t.
    """
    schedule = iteration / (2 * iterations)
    return torch.where(prediction == target, schedule, 1 - schedule).float()


def cospgd_weights(logits: torch.Tensor, target_one_hot: torch.Tensor) -> torch.Tensor:
    """Targeted CosPGD's per-pixel weights ``[B, h, w]``: 1 - cos(softmax(logits), one-hot target), detached."""
    similarity = F.cosine_similarity(logits.detach().softmax(1), target_one_hot, dim=1)
    return 1 - similarity


class TargetedPGD(Attack):
    """Targeted PGD: every pixel's cross-entropy to the target counts equally."""

    name = "pgd"
    config_type: ClassVar[type[AttackConfig]] = PGDConfig

    def pixel_weights(self, inputs: StepInputs) -> torch.Tensor | None:
        """Per-pixel weights w_i of the cross-entropy; ``None`` means all ones."""
        return None

    def start(self, x0: torch.Tensor, seed: int) -> torch.Tensor:
        if not self.config.random_start:
            return x0.clone()
        return torch.stack([self._random_start(image, seed) for image in x0])

    def _random_start(self, x0: torch.Tensor, seed: int) -> torch.Tensor:
        """One image's start, drawn from its own generator seeded with the run's seed."""
        generator = torch.Generator(device=x0.device).manual_seed(seed)
        draw = {"generator": generator, "device": x0.device, "dtype": x0.dtype}
        if self.config.norm == "l2":
            # Uniform in the L2 ball: a Gaussian direction, radius eps * U^(1/D).
            direction = torch.randn(x0.shape, **draw)
            direction = direction / torch.linalg.vector_norm(direction).clamp_min(1e-12)
            radius = self.config.l2_epsilon * torch.rand((), **draw).pow(1 / x0.numel())
            return x0 + radius * direction
        return x0 + (2 * torch.rand(x0.shape, **draw) - 1) * self.config.epsilon

    def objective(self, inputs: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
        cross_entropy = F.cross_entropy(inputs.logits, inputs.target, reduction="none")  # [B, h, w]
        weights = self.pixel_weights(inputs)
        if weights is not None:
            cross_entropy = cross_entropy * weights
        step = self.config.l2_alpha if self.config.norm == "l2" else self.config.alpha
        return -cross_entropy.mean(item_axes(cross_entropy)), torch.full_like(inputs.iou, step)

    def step(self, x: torch.Tensor, gradient: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        if self.config.norm == "l2":
            length = l2_norms(gradient)
            direction = gradient / torch.where(length > 0, length, torch.ones_like(length)).view(-1, 1, 1, 1)
        else:
            direction = gradient.sign()
        return x + multiplier.view(-1, 1, 1, 1) * direction

    def quantize(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        """Rounded to the 8-bit grid, staying in the budget's ball: for L-inf, one level back towards
        ``x0`` where rounding would leave it (an epsilon that is no whole number of 8-bit steps, e.g.
        0.05); for L2, an image that rounding takes out of the ball has every pixel's change rounded
        towards zero instead, which cannot lengthen it (for an 8-bit ``x0``)."""
        if self.config.norm == "l2":
            levels = self.grid_levels
            rounded = quantize_grid(x, levels)
            toward_x0 = rounded if levels is None else quantize_grid(x0 + torch.trunc((x - x0) * levels) / levels, levels)
            outside = l2_norms(rounded - x0) > self.config.l2_epsilon + 1e-6
            return torch.where(outside.view(-1, 1, 1, 1), toward_x0, rounded)
        return quantize_within_linf(x, x0, self.config.epsilon, self.grid_levels)

    def project(self, x: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
        delta = x - x0
        if self.config.norm == "l2":
            length = l2_norms(delta)
            shrink = torch.clamp(self.config.l2_epsilon / length.clamp_min(1e-12), max=1.0)
            return x0 + delta * shrink.view(-1, 1, 1, 1)
        return x0 + delta.clamp(-self.config.epsilon, self.config.epsilon)


class SegPGD(TargetedPGD):
    """SegPGD: weight moves from the pixels still to convert to the converted ones over the run."""

    name = "segpgd"

    def pixel_weights(self, inputs: StepInputs) -> torch.Tensor:
        return segpgd_weights(inputs.prediction, inputs.target, inputs.iteration, self.config.iterations)


class CosPGD(TargetedPGD):
    """CosPGD: each pixel's loss scaled by 1 - cos(softmax prediction, one-hot target)."""

    name = "cospgd"

    def pixel_weights(self, inputs: StepInputs) -> torch.Tensor:
        return cospgd_weights(inputs.logits, inputs.target_one_hot)
