"""ALMA prox (Rony, Pesquet and Ben Ayed, CVPR 2023): the smallest L-inf perturbation that puts
a chosen share of the pixels on their target.

The problem (their Eq. 2, targeted) is

    min_delta ||delta||_inf   s.t.   (1/N) sum_i 1[g_i(x_0 + delta) <= 0] >= share,   x_0 + delta in [0, 1],

with g_i the per-pixel constraint of :mod:`.constraints` (the targeted difference-of-logits
ratio; <= 0 once pixel i is predicted as its target). It is solved with an augmented
Lagrangian whose smooth part is handled by a gradient step and whose non-smooth part, the
norm and the box, by a proximal step (their Alg. 1). At iteration n, with constraint scale w,
penalty parameters rho_i and multipliers mu_i:

    c_i   = w * g_i(x_0 + delta_n)                                          (scaled constraints)
    L(delta) = sum_{i in M_n} P(c_i, rho_i, mu_i)                             (Eq. 6, masked)
    s_n   = alpha s_{n-1} + (1 - alpha) (grad L)^2,   H_n = sqrt(s_n / (1 - alpha^{n+1}))   (RMSProp metric)
    delta_{n+1} = prox^{H_n}_{lambda_n ||.||_inf + iota_box} ( delta_n - lambda_n H_n^{-1} grad L )   (Eq. 8)

with the penalty-Lagrangian P2 of Birgin et al. used by ALMA (Rony et al., CVPR 2021, Eq. 5):

    P(y, rho, mu) = mu y + mu rho y^2 + rho^2 y^3 / 6     (y >= 0)
                  = mu y / (1 - rho' y)                    (y < 0),   rho' = max(rho, 1)

and, every iteration after the first, the multiplier update mu_i <- EMA_alpha( dP/dy (c_i) ) on
the kept constraints, clipped to [1e-12, 1]; rho_i grows by gamma every ``check_steps``
iterations for the pixels whose constraint neither improved by the factor tau nor was won
meanwhile. The scale w shrinks by (1 + scale_rate) while the item reaches the share and grows
by (1 - scale_rate)^-1 while it does not, within [scale_min, 1] (the paper's w^(k)).

**Constraint masking** (their Sec. 4.2): only ``share`` of the pixels need to be won, so the
(1 - share) N largest constraints (the pixels least likely to be won) are left out of M_n; the
number left out grows linearly from 0 to (1 - share) N over the run.

**Step size.** lambda_n = lr * t / (max(0, n - n_found) + t), t = r / (1 - r) * (N_it - n_found),
r = ``lr_reduction``: the step decays from ``learning_rate`` to ``lr_reduction`` times it,
starting at the iteration n_found where the share was first reached (or half-way).

**The proximal step** is exact (:func:`.proximal.prox_linf`: one sort per image).

The result is the best iterate: the one with the smallest L-inf among those that reach the
share, or, if none does, the one with the largest share (:meth:`ALMAProx.ranking`).

**The derivative of P** on y >= 0. adv-lib 0.2.8's ``alma_prox``, the code behind the paper's
numbers, back-propagates mu y + 2 mu rho y + rho^2 y^2 / 2 there (mu y where the polynomial's own
derivative has mu), in the step and in the multiplier update alike. ``penalty_gradient`` chooses:
``exact`` (default) the polynomial's, ``reference`` adv-lib's. They trade differently (measured in
docs/performance.md): on a two-level image whose smallest answer is known, the exact slope ends
within 10 % of it and the reference one 47 % above; on 8 fundus images the exact slope reaches
7 of 8 and the reference one (like adv-lib) 6 of 8, with a 13 % smaller median L-inf on the six
both reach (8.57 against 9.86/255). ``reference`` repeats adv-lib's results; ``exact`` is the
method as written.

Other differences from adv-lib's ``alma_prox``, which was read to understand the method: the
margin kappa is demanded in the target's favour (g_i <= 0 only once m_i >= kappa); the prox is
exact rather than a ternary search; and two- or three-class models work (:mod:`.constraints`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from .base import Attack, AttackConfig, StepInputs, parameter
from .constraints import dlr_constraints
from .proximal import prox_linf


@dataclass(frozen=True)
class ALMAProxConfig(AttackConfig):
    """Parameters of ALMA prox (defaults of the paper's segmentation experiments)."""

    iterations: int = parameter(500, "Iterations of the attack loop (the paper's budget: 500).", minimum=1)
    success_share: float = parameter(
        0.99, "Share of the pixels that must reach their target class for an image to count as fooled (0.99).",
        minimum=0.0, maximum=1.0)
    learning_rate: float = parameter(0.001, "Initial step size lambda_0 of the proximal gradient step (0.001).",
                                     minimum=0.0)
    lr_reduction: float = parameter(
        0.1, "Final step size as a share of the initial one; the decay starts once the share is reached (0.1).",
        minimum=1e-6, maximum=1.0)
    multiplier_init: float = parameter(1.0, "mu_0: initial Lagrange multiplier of every pixel's constraint (1).",
                                       minimum=1e-12, maximum=1.0)
    penalty_init: float = parameter(0.01, "rho_0: initial penalty parameter of every pixel's constraint (0.01).",
                                    minimum=0.0)
    check_steps: int = parameter(10, "Iterations between the checks that grow rho where a constraint stalls (10).",
                                 minimum=1)
    improvement_rate: float = parameter(0.95, "tau: a constraint that did not fall below tau times its value at "
                                        "the last check gets a larger rho (0.95).", minimum=0.0, maximum=1.0)
    penalty_growth: float = parameter(2.0, "gamma: factor by which rho grows at a stalled constraint (2).",
                                      minimum=1.0)
    ema: float = parameter(0.8, "alpha: weight of the past in the multiplier and RMSProp averages (0.8).",
                           minimum=0.0, maximum=0.999999)
    scale_min: float = parameter(0.1, "w_min: smallest constraint scale (0.1).", minimum=1e-6, maximum=1.0)
    scale_rate: float = parameter(0.02, "Rate at which the constraint scale w adapts each iteration (0.02).",
                                  minimum=0.0, maximum=0.5)
    logit_margin: float = parameter(1e-4, "kappa: logit margin by which the target class must win a pixel (1e-4).",
                                    minimum=0.0)
    penalise_all_pixels: bool = parameter(
        False, "Keep every pixel in the penalty; off (default), the (1 - share) hardest are left out, more as the "
        "run goes on (constraint masking).")
    penalty_gradient: str = parameter(
        "exact", "Slope of the penalty where a pixel's constraint is violated: exact (the polynomial's) or "
        "reference (adv-lib 0.2.8's, behind the paper's numbers; see docs/performance.md).",
        choices=("exact", "reference"))


def penalty(y: torch.Tensor, rho: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """P2(y, rho, mu): a penalty that grows fast once the constraint is violated (y >= 0)."""
    violated = mu * y + mu * rho * y**2 + rho**2 * y**3 / 6
    satisfied = mu * y / (1 - rho.clamp(min=1) * y.clamp(max=0))
    return torch.where(y >= 0, violated, satisfied)


def penalty_slope(y: torch.Tensor, rho: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """dP2/dy: the multiplier the next iteration's mu moves towards."""
    violated = mu + 2 * mu * rho * y + rho**2 * y**2 / 2
    satisfied = mu / (1 - rho.clamp(min=1) * y.clamp(max=0)) ** 2
    return torch.where(y >= 0, violated, satisfied)


def reference_slope(y: torch.Tensor, rho: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """The slope adv-lib 0.2.8 back-propagates through P2: mu y, not mu, leads the violated side."""
    violated = mu * y + 2 * mu * rho * y + rho**2 * y**2 / 2
    satisfied = mu / (1 - rho.clamp(min=1) * y.clamp(max=0)) ** 2
    return torch.where(y >= 0, violated, satisfied)


class _ReferencePenalty(torch.autograd.Function):
    """P2 forward, :func:`reference_slope` backward (``penalty_gradient = "reference"``)."""

    @staticmethod
    def forward(ctx, y, rho, mu):
        ctx.save_for_backward(y, rho, mu)
        return penalty(y, rho, mu)

    @staticmethod
    def backward(ctx, grad_output):
        y, rho, mu = ctx.saved_tensors
        return grad_output * reference_slope(y, rho, mu), None, None


SLOPES = {"reference": (_ReferencePenalty.apply, reference_slope), "exact": (penalty, penalty_slope)}
"""``penalty_gradient`` -> (P2 with that slope under autograd, the slope itself)."""


def without_largest(values: torch.Tensor, count: int) -> torch.Tensor:
    """``[B, h, w]`` bool: every pixel but the ``count`` largest values of each item."""
    keep = torch.ones_like(values, dtype=torch.bool)
    if count > 0:
        flat = values.reshape(values.shape[0], -1)
        keep.view(values.shape[0], -1).scatter_(1, flat.topk(count, dim=1).indices, False)
    return keep


class _RunState:
    """What ALMA prox carries from one iteration to the next, for one batch."""

    def __init__(self, x0: torch.Tensor, config: ALMAProxConfig):
        batch = x0.shape[0]
        self.x0 = x0
        self.scale = torch.full((batch,), 1.0, device=x0.device)  # w
        self.found_at = torch.full((batch,), config.iterations // 2, device=x0.device)  # n_found
        self.found = torch.zeros(batch, dtype=torch.bool, device=x0.device)
        self.squares = torch.zeros_like(x0)  # s_n
        self.multipliers = self.penalties = None  # mu_i, rho_i: shaped like the output at iteration 0
        self.previous = self.won_since_check = None
        self.iteration = 0


class ALMAProx(Attack):
    """ALMA prox: smallest L-inf perturbation putting a share of the pixels on the target."""

    name = "alma_prox"
    config_type: ClassVar[type[AttackConfig]] = ALMAProxConfig
    returns_best = True

    def start(self, x0: torch.Tensor, seed: int) -> torch.Tensor:
        self.run_state = _RunState(x0, self.config)
        return x0.clone()

    def ranking(self, scores: dict, l2: torch.Tensor, linf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reaching the share first (capped there, so any success ties), then the smallest L-inf."""
        return scores["pixel_accuracy"].clamp(max=self.config.success_share), linf

    def step_size(self, iteration: int, found_at: torch.Tensor) -> torch.Tensor:
        """lambda_n: ``learning_rate``, decaying towards ``lr_reduction`` times it after n_found."""
        config = self.config
        if config.lr_reduction == 1:
            return torch.full_like(found_at, config.learning_rate, dtype=torch.float32)
        horizon = config.lr_reduction / (1 - config.lr_reduction) * (config.iterations - found_at).clamp(min=1)
        return config.learning_rate * horizon / ((iteration - found_at).clamp(min=0) + horizon)

    def objective(self, inputs: StepInputs) -> tuple[torch.Tensor, torch.Tensor]:
        config, state, n = self.config, self.run_state, inputs.iteration
        won = inputs.prediction == inputs.target
        reached = won.flatten(1).float().mean(1) >= config.success_share
        if n < config.iterations // 2:
            state.found_at = torch.where(~state.found & reached, n, state.found_at)
        state.found |= reached
        state.scale = (state.scale / torch.where(reached, 1 + config.scale_rate, 1 - config.scale_rate)).clamp(
            config.scale_min, 1.0)

        constraints = state.scale.view(-1, 1, 1) * dlr_constraints(inputs.logits, inputs.target, config.logit_margin)
        pixels = won[0].numel()
        kept = torch.ones_like(won)
        if not config.penalise_all_pixels:
            dropped = math.floor((1 - config.success_share) * pixels * n / max(config.iterations - 1, 1))
            kept = without_largest(constraints.detach(), min(dropped, pixels - 1))

        c = constraints.detach()
        penalised, slope = SLOPES[config.penalty_gradient]
        if state.multipliers is None:
            state.multipliers = torch.full_like(c, config.multiplier_init)
            state.penalties = torch.full_like(c, config.penalty_init)
            state.won_since_check = torch.zeros_like(won)
        state.won_since_check |= won
        if n == 0:
            state.previous = c
        elif (n + 1) % config.check_steps == 0:
            improved = c * kept <= config.improvement_rate * state.previous
            state.penalties = torch.where(state.won_since_check | improved, state.penalties,
                                          config.penalty_growth * state.penalties)
            state.previous = c
            state.won_since_check = torch.zeros_like(won)
        if n > 0:
            target = slope(c, state.penalties, state.multipliers) * kept
            state.multipliers = torch.lerp(state.multipliers, target, 1 - config.ema).clamp(1e-12, 1)

        loss = (penalised(constraints, state.penalties, state.multipliers) * kept).flatten(1).sum(1)
        state.iteration = n
        return -loss, self.step_size(n, state.found_at)

    def step(self, x: torch.Tensor, gradient: torch.Tensor, multiplier: torch.Tensor) -> torch.Tensor:
        """RMSProp-scaled gradient step on delta, then the exact prox of lambda ||.||_inf + the box."""
        state, alpha = self.run_state, self.config.ema
        state.squares = alpha * state.squares + (1 - alpha) * gradient.square()
        metric = (state.squares / (1 - alpha ** (state.iteration + 1))).sqrt().clamp(min=1e-8)
        step = multiplier.view(-1, 1, 1, 1)
        x0 = state.x0
        delta = x - x0 + step * gradient / metric  # the runner's gradient ascends -L
        return x0 + prox_linf(delta, multiplier, metric, -x0, 1 - x0)
