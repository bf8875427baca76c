"""``tau = auto``: the step multiplier of the segmentation-mask attacks, picked from the first gradient.

SSM, ASM and ASMA step by the raw gradient, ``x_{n+1} = x_n + tau_n * grad J``, so how far a
step moves the pixels depends on the model's gradient scale as much as on tau. The published
tau = 1e-7 (beta = 1e-6) fits the paper's U-Net; on another model it may move nothing in
thousands of iterations, or turn the image into noise. The rule here (docs/step-size.md):

    tau_0 * max |grad J(x_0)| = first_step,   beta = 10 * tau (the published beta / tau)

with tau_0 the multiplier of the first step (``beta * IoU_0 + tau`` for ASMA, ``tau`` for ASM
and SSM) and the maximum over the pixels the attack may change. The first step then moves no
pixel by more than ``first_step`` (one 8-bit level by default) and some pixel by exactly that,
before the [0, 1] box. The rule runs once, before the attack; the run records "auto" and the
values it gave, and a rerun uses those values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..metrics import max_abs, segmentation_scores, target_codes
from ..models import class_ids
from . import create_attack
from .base import ParameterError, StepInputs

AUTO = "auto"
BETA_PER_TAU = 10.0
"""beta / tau of the published defaults (1e-6 / 1e-7), kept when tau is picked automatically."""


def is_auto(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == AUTO


def without_auto(parameters: dict) -> dict:
    """The parameters less an ``auto`` tau: what can be checked before the gradient (a beta given
    with it is checked for its value here, and refused by :func:`resolve_auto_step`)."""
    if not is_auto(parameters.get("tau")):
        return parameters
    return {name: value for name, value in parameters.items() if name != "tau"}


@dataclass(frozen=True)
class StepRule:
    """What ``tau = auto`` decided, as ``summary.json`` records it (key ``"step_size"``)."""

    first_step: float  # the first step's largest pixel change asked for
    tau: float  # the multiplier it gave
    beta: float | None  # BETA_PER_TAU * tau for ASMA; None for methods without beta
    largest_gradient: float  # max |grad J(x_0)| over the pixels that may change
    iou_at_start: float  # IoU(argmax g(x_0), target): sets ASMA's first multiplier

    def record(self) -> dict:
        return {"tau": AUTO, "first_step": self.first_step, "tau_used": self.tau, "beta_used": self.beta,
                "largest_gradient": self.largest_gradient, "iou_at_start": self.iou_at_start,
                "rule": "tau_0 * max|grad J(x_0)| = first_step; beta = 10 * tau"}


def resolve_auto_step(adapter, method: str, parameters: dict, image: np.ndarray, target: np.ndarray,
                      region: np.ndarray | None = None) -> tuple[dict, StepRule | None]:
    """``parameters`` with ``tau = "auto"`` replaced by the value of the rule (and beta set with it).

    Returns the parameters unchanged and None when tau is not "auto". Raises ParameterError
    (naming tau or beta) when the rule cannot apply: beta given by hand, or a first gradient
    that is zero (the prediction already is the target) or not finite.
    """
    if not is_auto(parameters.get("tau")):
        return parameters, None
    if parameters.get("beta") is not None and not is_auto(parameters.get("beta")):
        raise ParameterError("beta", "is set by tau auto (beta = 10 tau, the published ratio); leave it out")
    first_step = parameters.get("first_step")
    unit = {name: value for name, value in parameters.items() if name not in ("tau", "beta")}
    # tau = 1 (and beta = 10): the objective's multiplier is then the first step's per unit of tau.
    probe = create_attack(method, **unit, tau=1.0, beta=BETA_PER_TAU)
    first_step = probe.config.first_step if first_step is None else first_step
    largest, unit_multiplier, iou = _first_gradient(adapter, probe, image, target, region)
    if not np.isfinite(largest):
        raise ParameterError("tau", "auto cannot be used: the first gradient is not finite")
    if largest <= 0.0:
        raise ParameterError("tau", "auto cannot be used: the first gradient is zero (does the prediction "
                                    "already equal the target?); give tau as a number")
    tau = float(first_step / (largest * unit_multiplier))
    has_beta = bool(getattr(probe, "dynamic_multiplier", False))  # ASMA's tau_n = beta * IoU + tau
    beta = BETA_PER_TAU * tau if has_beta else None
    resolved = {**unit, "tau": tau, **({"beta": beta} if has_beta else {})}
    return resolved, StepRule(float(first_step), tau, beta, float(largest), float(iou))


def with_auto_step(adapter, attack, parameters: dict, image: np.ndarray, target: np.ndarray,
                   region: np.ndarray | None = None):
    """``attack`` built again with the rule's tau (and beta) for this image, keeping the image
    format's grid (``grid_levels``), and the :class:`StepRule`; ``parameters`` hold tau "auto".
    The CLI's ``attack`` and ``batch`` and the window's attack thread all build it here."""
    resolved, rule = resolve_auto_step(adapter, attack.name, parameters, image, target, region)
    rebuilt = create_attack(attack.name, **resolved)
    rebuilt.grid_levels = attack.grid_levels
    return rebuilt, rule


def _first_gradient(adapter, attack, image, target, region) -> tuple[float, float, float]:
    """max |grad J(x_0)| (over the region), the first multiplier of ``attack`` and IoU_0: the
    runner's first iteration, up to its step."""
    from ..runner import prepare_batch

    x0, target_grid, region_mask, _ = prepare_batch(adapter, [image], [target], None if region is None else [region])
    num_classes = adapter.num_classes
    with torch.enable_grad():
        x = x0.detach().clone().requires_grad_(True)
        logits = adapter.logits(x)
        prediction = class_ids(logits)
        scores = segmentation_scores(prediction, target_grid, num_classes, target_codes(target_grid, num_classes))
        one_hot = F.one_hot(target_grid, num_classes).permute(0, 3, 1, 2).float()
        inputs = StepInputs(0, logits, prediction, target_grid, one_hot, x, x0, scores["iou"])
        loss, multiplier = attack.objective(inputs)
        (gradient,) = torch.autograd.grad(loss.sum(), x)
    if region_mask is not None:
        gradient = gradient * region_mask
    return float(max_abs(gradient)[0]), float(multiplier[0]), float(scores["iou"][0])
