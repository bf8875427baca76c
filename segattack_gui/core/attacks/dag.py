"""DAG, Dense Adversary Generation (Xie, Wang, Zhang, Zhou, Xie and Yuille, ICCV 2017).

"Adversarial Examples for Semantic Segmentation and Object Detection", Algorithm 1,
in its targeted form. With logits f(x) and an adversarial label l'_n for every pixel
t_n (here: the target mask T), iteration m keeps the *active set*

    T_m = { n : argmax_c f_c(x_m, t_n) != l'_n }

(pixels not yet at their target class) and ascends

    J(x_m) = sum_{n in T_m} [ f_{l'_n}(x_m, t_n) - f_{l_n}(x_m, t_n) ],

so r_m = grad J. Here l_n is the class the model *currently* predicts at t_n (the paper
writes the original label; for pixels still in T_m the two coincide until the
prediction moves to a third class, where pushing down the current winner is what
helps). The step is normalised by its largest entry,

    x_{m+1} = x_m + gamma / ||r_m||_inf * r_m,

so no pixel-channel moves by more than gamma per iteration.

Defaults: the paper used gamma = 0.5 on mean-subtracted 0..255 images and at most 200
iterations for segmentation; on our [0, 1] scale gamma = 0.5 / 255 (about 0.002).
The paper stops when T_m is empty; ``stop_fraction`` (default 1%) stops once at most
that share of the output-grid pixels still differ from T, because the last few pixels
on class boundaries can take many more iterations for no visible change.

``norm = "l2"`` replaces the L-inf normalisation by an L2 one,
r_m * gamma * sqrt(D) / ||r_m||_2 with D = C * H * W the number of entries: a step
whose root-mean-square entry is gamma, the same per-entry scale as the L-inf step
(whose largest entry is gamma), but that puts more of its length on the entries with
the largest gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..metrics import item_axes, l2_norms, max_abs
from .base import Attack, AttackConfig, StepInputs, parameter


@dataclass(frozen=True)
class DAGConfig(AttackConfig):
    """Parameters of DAG (defaults of Xie et al. 2017, rescaled to [0, 1] images)."""

    iterations: int = parameter(200, "Iterations of the attack loop (Xie et al. used at most 200).", minimum=1)
    gamma: float = parameter(
        0.5 / 255, "gamma: size of the normalised step (the paper's 0.5 on 0..255 images = 0.5/255).", minimum=0.0,
    )
    norm: str = parameter(
        "linf", "Step normalisation: linf (the paper's r / ||r||_inf) or l2 (r * sqrt(D) / ||r||_2).",
        choices=("linf", "l2"),
    )
    stop_fraction: float = parameter(
        0.01, "Stop once at most this share of the pixels still differs from the target (paper: none).",
        minimum=0.0, maximum=1.0,
    )


class DAG(Attack):
    """Dense Adversary Generation: logit-difference ascent over the pixels still wrong."""

    name = "dag"
    config_type: ClassVar[type[AttackConfig]] = DAGConfig

    def objective(self, inputs: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
        active = (inputs.prediction != inputs.target).unsqueeze(1)  # T_m
        target_logit = inputs.logits.gather(1, inputs.target.unsqueeze(1))  # f_{l'_n}
        predicted_logit = inputs.logits.gather(1, inputs.prediction.unsqueeze(1))  # f_{l_n}
        gaps = (target_logit - predicted_logit) * active
        loss = gaps.sum(item_axes(gaps))
        return loss, torch.full_like(inputs.iou, self.config.gamma)

    def step(self, x: torch.Tensor, gradient: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        if self.config.norm == "l2":
            scale = math.sqrt(gradient[0].numel()) / l2_norms(gradient)
        else:
            scale = 1 / max_abs(gradient)
        # An empty active set gives r = 0; step by nothing rather than by 0/0.
        scale = torch.where(torch.isfinite(scale), scale, torch.zeros_like(scale))
        return x + (multiplier * scale).view(-1, 1, 1, 1) * gradient

    def finished(self, inputs: StepInputs) -> torch.Tensor:
        still_wrong = (inputs.prediction != inputs.target).float()
        return still_wrong.mean(item_axes(still_wrong)) <= self.config.stop_fraction
