"""PDPGD (Matyasko and Chau, "PDPGD: Primal-Dual Proximal Gradient Descent Adversarial Attack",
2021), for segmentation: the smallest L-inf or L2 perturbation winning a share of the pixels.

The attack treats "pixel i is predicted as its target" as a constraint m_i(x) <= 0 with
m_i = max_{c != T_i} z_{i,c} - z_{i,T_i} (:mod:`.constraints`) and looks for a saddle point of
the Lagrangian of min ||delta|| s.t. m_i <= 0, with the dual variables kept on the simplex:

    lambda_bar = softmax([0, lambda_1, ..., lambda_N])_{1..N}      (weights of the pixels;
                                                                    1 - sum lambda_bar weighs the norm)
    L(delta)   = sum_i lambda_bar_i softplus(m_i(x_0 + delta))   (the smooth part)

Each iteration n:

1. primal gradient step with Adam on the smooth part, step theta_n = lr * d^(n / N_it), d =
   ``lr_decrease``, then the [0, 1] box;
2. proximal step for the norm term in Adam's metric (proximal Adam, Melchior et al. 2019):
   with psi the Adam denominator, H = psi / max psi and mu = (1 - sum lambda_bar) / sum lambda_bar
   * theta_n / max psi, ``proximal_steps`` iterations of z <- prox_{mu ||.||}(z - H (z - delta)),
   each followed by the box, stopping early (per item) once z moves by less than 1 % of its norm;
3. dual ascent: lambda_i <- clip(lambda_i + theta^lambda_n sign(m_i), +-log(1e12)), theta^lambda_n
   falling linearly from ``dual_lr`` to ``dual_lr * dual_lr_decrease``; lambda_bar follows it as an
   exponential moving average with weight ``dual_ema`` on the past.

lambda starts at -log(N), so the pixels together weigh as much as the norm. The prox is exact for
L-inf (:func:`.proximal.prox_linf`, with the box) and block soft thresholding for L2. As ALMA
prox, the result is the best iterate: smallest norm among those reaching ``success_share``, else
the largest share. Defaults are adv-lib 0.2.8's for segmentation (read to understand the method).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from .base import Attack, AttackConfig, StepInputs, parameter
from .constraints import target_margins
from .proximal import prox_l2, prox_linf

_ADAM_BETAS = (0.9, 0.999)
_DUAL_LIMIT = math.log(1e12)
_SETTLED = 1e-2  # a proximal sub-iteration that moves z by less than this share of its norm ends it


@dataclass(frozen=True)
class PDPGDConfig(AttackConfig):
    """Parameters of PDPGD (adv-lib's defaults for segmentation)."""

    iterations: int = parameter(500, "Iterations of the attack loop (500).", minimum=1)
    norm: str = parameter("linf", "Norm to minimise: linf or l2.", choices=("linf", "l2"))
    success_share: float = parameter(
        0.99, "Share of the pixels that must reach their target class for an image to count as fooled (0.99).",
        minimum=0.0, maximum=1.0)
    primal_lr: float = parameter(0.1, "Initial Adam step of the perturbation (0.1).", minimum=0.0)
    lr_decrease: float = parameter(0.01, "Final primal step as a share of the initial one (exponential decay; 0.01).",
                                   minimum=1e-6, maximum=1.0)
    dual_lr: float = parameter(0.1, "Initial step of the dual ascent on the pixels' weights (0.1).", minimum=0.0)
    dual_lr_decrease: float = parameter(0.1, "Final dual step as a share of the initial one (linear decay; 0.1).",
                                        minimum=0.0, maximum=1.0)
    dual_ema: float = parameter(0.9, "Weight of the past in the moving average of the dual weights (0.9).",
                                minimum=0.0, maximum=0.999999)
    proximal_steps: int = parameter(5, "Proximal sub-iterations per iteration (proximal Adam; 5).", minimum=1)


def dual_weights(dual: torch.Tensor) -> torch.Tensor:
    """softmax([0, lambda_1..lambda_N])_{1..N} per item: the pixels' weights, summing to less than 1."""
    flat = F.pad(dual.flatten(1), (1, 0), value=0.0)
    return flat.softmax(1)[:, 1:].view_as(dual)


class _RunState:
    def __init__(self, x0: torch.Tensor):
        self.x0 = x0
        self.first_moment = torch.zeros_like(x0)
        self.second_moment = torch.zeros_like(x0)
        self.dual = self.weights = self.signs = None
        self.iteration = 0


class PDPGD(Attack):
    """PDPGD: primal-dual proximal gradient descent towards the smallest L-inf or L2 perturbation."""

    name = "pdpgd"
    config_type: ClassVar[type[AttackConfig]] = PDPGDConfig
    returns_best = True

    def start(self, x0: torch.Tensor, seed: int) -> torch.Tensor:
        self.run_state = _RunState(x0)
        return x0.clone()

    def ranking(self, scores: dict, l2: torch.Tensor, linf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reaching the share first, then the smallest norm of the method's own kind."""
        return scores["pixel_accuracy"].clamp(max=self.config.success_share), l2 if self.config.norm == "l2" else linf

    def objective(self, inputs: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
        config, state, n = self.config, self.run_state, inputs.iteration
        margins = -target_margins(inputs.logits, inputs.target)  # m_i <= 0: won
        if state.dual is None:
            pixels = margins[0].numel()
            state.dual = torch.full_like(margins.detach(), -math.log(pixels))
            state.weights = dual_weights(state.dual)
        elif n > 0:
            state.weights = torch.lerp(state.weights, dual_weights(state.dual), 1 - config.dual_ema)
        loss = (F.softplus(margins) * state.weights).flatten(1).sum(1)
        state.signs = margins.detach().sign()
        state.iteration = n
        step = config.primal_lr * config.lr_decrease ** (n / config.iterations)
        return -loss, torch.full_like(inputs.iou, step)

    def step(self, x: torch.Tensor, gradient: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        config, state, n = self.config, self.run_state, self.run_state.iteration
        x0, lower, upper = state.x0, -state.x0, 1 - state.x0
        beta1, beta2 = _ADAM_BETAS
        descent = -gradient  # the runner's gradient ascends -L
        state.first_moment = torch.lerp(state.first_moment, descent, 1 - beta1)
        state.second_moment = beta2 * state.second_moment + (1 - beta2) * descent.square()
        denominator = (state.second_moment / (1 - beta2 ** (n + 1))).sqrt() + 1e-8
        step = multiplier.view(-1, 1, 1, 1)
        delta = x - x0 - step / (1 - beta1 ** (n + 1)) * state.first_moment / denominator
        delta = torch.maximum(torch.minimum(delta, upper), lower)

        largest = denominator.flatten(1).amax(1)
        total = state.weights.flatten(1).sum(1)
        threshold = (1 - total) / total * multiplier / largest  # mu
        metric = denominator / largest.view(-1, 1, 1, 1)
        z = delta
        moving = torch.ones_like(total, dtype=torch.bool)
        for _ in range(config.proximal_steps):
            moved = z - metric * (z - delta)
            if config.norm == "l2":
                new = prox_l2(moved, threshold, lower, upper)
            else:
                new = prox_linf(moved, threshold, None, lower, upper)
            new = torch.where(moving.view(-1, 1, 1, 1), new, z)
            change = (new - z).flatten(1).norm(dim=1) / new.flatten(1).norm(dim=1).clamp_min(1e-12)
            moving = moving & (change > _SETTLED)
            z = new

        dual_step = config.dual_lr * ((config.iterations - 1 - n) / max(config.iterations - 1, 1)
                                      * (1 - config.dual_lr_decrease) + config.dual_lr_decrease)
        state.dual = (state.dual + dual_step * state.signs).clamp(-_DUAL_LIMIT, _DUAL_LIMIT)
        return x0 + z
