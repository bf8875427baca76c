"""Success against budget: the share of images whose adversarial reaches the target within a norm.

An image counts as reached when its prediction agrees with the target well enough: pixel
accuracy at least a threshold (99 % by default, the share ALMA prox and PDPGD aim for) or IoU
at least a threshold. Two kinds of method give the curve differently:

* a method that looks for the smallest perturbation (ALMA prox, PDPGD), or has no budget at all
  (ASMA, DAG), runs once per image; its curve at budget b is the share of images whose answer
  reached the target with a norm at most b (a step function of the answers' norms);
* a method with a fixed budget (the PGD family) runs once per budget and image; its curve at b
  is the share of images its run with budget b reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

TOLERANCE = 1e-6
"""Norms are float32 sums; an answer this close above a budget still fits it."""


@dataclass(frozen=True)
class Answer:
    """One image's outcome: did it reach the target, and the size of its perturbation."""

    reached: bool
    linf: float
    l2: float


def reached(scores: dict, criterion: str, threshold: float) -> bool:
    """``criterion`` ``"pa"`` (pixel accuracy) or ``"iou"``, at least ``threshold``."""
    value = scores["pixel_accuracy"] if criterion == "pa" else scores["iou"]
    return bool(value >= threshold)


def share_within(answers: Sequence[Answer], norm: str, budgets: Sequence[float]) -> list[float]:
    """Per budget, the share of ``answers`` that reached the target with ``norm`` at most that budget."""
    if not answers:
        return [float("nan")] * len(budgets)
    sizes = np.array([getattr(a, norm) if a.reached else np.inf for a in answers])
    return [float(np.mean(sizes <= b + TOLERANCE)) for b in budgets]


def step_budgets(answers: Sequence[Answer], norm: str, budgets: Sequence[float]) -> list[float]:
    """The given budgets and every reached answer's norm: where a minimal-norm curve steps."""
    steps = {getattr(a, norm) for a in answers if a.reached}
    return sorted(set(budgets) | steps)
