"""SSM, ASM and ASMA (Ozbulak, Van Messem and De Neve, MICCAI 2019): one loss, two switches.

With logits g, target mask Y^A and original image x_0, the paper's objective at
iterate x_n is

    J(x_n) = sum_c sum_pixels g(x_n)_c * 1[Y^A = c] * 1[argmax g(x_n) != c]  -  ||x_n - x_0||_2^2

and the step is raw gradient ascent x_{n+1} = clip_[0,1](x_n + tau_n * grad J), with
the dynamic multiplier tau_n = beta * IoU(argmax g(x_n), Y^A) + tau.

* ``adaptive`` keeps the factor 1[argmax g != c]: pixels already at their target
  class stop pulling (the *adaptive* mask). Off, every target pixel pulls: SSM.
* ``dynamic_multiplier`` grows the step as the prediction approaches the target.
  Off, tau_n = tau.

ASMA = both on; ASM = adaptive mask, constant multiplier; SSM = neither.
The published code starts with the multiplier of IoU 0 and updates it from the
next prediction; here tau_n uses the prediction of x_n itself, as the equation
reads, so the very first step may differ (by beta * IoU_0), nothing after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..metrics import item_axes
from .base import Attack, AttackConfig, StepInputs, parameter


@dataclass(frozen=True)
class SegmentationMaskConfig(AttackConfig):
    """Parameters of the segmentation-mask attacks (defaults of the published code)."""

    iterations: int = parameter(2501, "Iterations of the attack loop (published default 2501).", minimum=1)

    tau: float = parameter(
        1e-7, "tau: the constant perturbation multiplier (published default 1e-7); auto: picked from the first "
        "gradient so the first step moves pixels by first_step, with beta = 10 tau (docs/step-size.md).",
        minimum=0.0, auto=True,
    )
    beta: float = parameter(
        1e-6, "beta: weight of the IoU in the dynamic multiplier tau_n = beta * IoU + tau (published 1e-6; ASMA only).",
        minimum=0.0, applies_when={"method": ("asma",)}, applies_unless={"tau": "auto"},
    )
    first_step: float = parameter(
        1 / 255, "With tau auto: the largest pixel change of the first step (default one 8-bit level).",
        minimum=1e-12, maximum=1.0, applies_when={"tau": "auto"},
    )


class SegmentationMaskAttack(Attack):
    """The shared loss of SSM, ASM and ASMA; subclasses set the two switches."""

    config_type: ClassVar[type[AttackConfig]] = SegmentationMaskConfig
    adaptive: ClassVar[bool] = True
    dynamic_multiplier: ClassVar[bool] = True

    def objective(self, inputs: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
        weight = inputs.target_one_hot  # 1[Y^A = c]
        if self.adaptive:
            still_wrong = (inputs.prediction != inputs.target).unsqueeze(1)  # 1[argmax g != c] where Y^A = c
            weight = weight * still_wrong
        prediction_loss = (inputs.logits * weight).sum(item_axes(weight))
        distance_loss = _SquaredDistance.apply(inputs.x, inputs.perturbation)
        if self.dynamic_multiplier:
            multiplier = self.config.beta * inputs.iou + self.config.tau
        else:
            multiplier = torch.full_like(inputs.iou, self.config.tau)
        return prediction_loss - distance_loss, multiplier

    def step(self, x: torch.Tensor, gradient: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        return x + multiplier.view(-1, 1, 1, 1) * gradient


class _SquaredDistance(torch.autograd.Function):
    """``||x - x0||^2`` per item from the perturbation the runner already holds; gradient ``2 (x - x0)``.

    Autograd's own graph for ``(x - x0).pow(2).sum()`` makes five passes over the image
    (the difference, the square, and in the backward pass a copy and two products);
    this makes one forward (the sum of squares) and one backward. Same numbers: scaling
    by two is exact, so ``d * (2 g)`` equals autograd's ``g * (2 d)`` bit for bit.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, perturbation: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(perturbation)
        return perturbation.pow(2).sum(item_axes(perturbation))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (perturbation,) = ctx.saved_tensors
        return perturbation * (2 * grad).view(-1, *([1] * (perturbation.ndim - 1))), None


class ASMA(SegmentationMaskAttack):
    """Adaptive Segmentation Mask Attack: adaptive mask and dynamic multiplier."""

    name = "asma"


class ASM(SegmentationMaskAttack):
    """Adaptive mask with a constant multiplier tau."""

    name = "asm"
    dynamic_multiplier = False


class SSM(SegmentationMaskAttack):
    """Static segmentation mask: every target pixel pulls every step; constant multiplier."""

    name = "ssm"
    adaptive = False
    dynamic_multiplier = False
