"""``tau = auto`` (docs/step-size.md): the first step moves the pixels by the amount asked for."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.attacks.base import ParameterError
from segattack_gui.core.attacks.step_size import BETA_PER_TAU, resolve_auto_step, without_auto
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_attack


class ChannelWeights(torch.nn.Module):
    """Two classes, z1 = w . x - 0.5 * sum(w), z0 = -z1 per pixel: grad of z1 is w, known by hand."""

    def __init__(self, weights):
        super().__init__()
        self.weights = torch.tensor(weights, dtype=torch.float32).view(1, 3, 1, 1)

    def forward(self, x):
        score = (x * self.weights).sum(1, keepdim=True) - 0.5 * self.weights.sum()
        return torch.cat([-score, score], 1)


WEIGHTS = [2.0, -7.0, 3.0]


@pytest.fixture
def adapter():
    return ModelAdapter(ChannelWeights(WEIGHTS), ModelSpec(classes=("background", "foreground")))


def _inputs():
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.7, (16, 16, 3)).astype(np.float32)
    image[:] = np.where((image @ np.array(WEIGHTS, np.float32) > 0.5 * sum(WEIGHTS))[..., None], 0.5, image)
    target = np.zeros((16, 16), np.int64)
    target[4:12, 4:12] = 1
    return image, target


def _prediction(image):
    return (image @ np.array(WEIGHTS, np.float32) - 0.5 * sum(WEIGHTS) > 0).astype(np.int64)


def test_auto_tau_is_the_hand_computed_multiplier(adapter):
    image, target = _inputs()
    prediction = _prediction(image)
    wrong = (target == 1) & (prediction != 1)
    assert wrong.any()
    # ASMA's J at x_0: sum of z1 over target pixels still wrong, so grad J = w there, 0 elsewhere.
    largest = max(abs(w) for w in WEIGHTS)
    intersection, union = ((prediction == 1) & (target == 1)).sum(), ((prediction == 1) | (target == 1)).sum()
    iou = intersection / union
    first_step = 2 / 255
    resolved, rule = resolve_auto_step(adapter, "asma", {"tau": "auto", "first_step": first_step}, image, target)
    expected_tau = first_step / (largest * (1 + BETA_PER_TAU * iou))
    assert rule.largest_gradient == pytest.approx(largest)
    assert rule.iou_at_start == pytest.approx(iou)
    assert resolved["tau"] == pytest.approx(expected_tau, rel=1e-6)
    assert resolved["beta"] == pytest.approx(BETA_PER_TAU * expected_tau, rel=1e-6)
    record = rule.record()
    assert record["tau"] == "auto" and record["tau_used"] == resolved["tau"] and record["first_step"] == first_step


@pytest.mark.parametrize("method", ["asma", "asm", "ssm"])
def test_the_first_step_of_the_run_moves_pixels_by_first_step(adapter, method):
    image, target = _inputs()
    first_step = 3 / 255
    resolved, _ = resolve_auto_step(adapter, method, {"tau": "auto", "first_step": first_step, "iterations": 1},
                                    image, target)
    result = run_attack(adapter, image, target, create_attack(method, **resolved))
    step = np.abs(result.adversarial - result.original)
    assert step.max() == pytest.approx(first_step, rel=1e-4)  # the largest pixel change: exactly as asked
    assert result.history["linf"][1] == pytest.approx(first_step, rel=1e-4)
    assert resolved.get("beta", 1e-6) == pytest.approx(BETA_PER_TAU * resolved["tau"] if method == "asma" else 1e-6)


def test_the_region_limits_the_gradient_the_rule_reads(adapter):
    image, target = _inputs()
    region = np.zeros((16, 16), bool)
    region[6:8, 6:8] = True  # inside the target, where grad J = w: the same largest gradient
    everywhere, _ = resolve_auto_step(adapter, "ssm", {"tau": "auto"}, image, target)
    inside, _ = resolve_auto_step(adapter, "ssm", {"tau": "auto"}, image, target, region)
    assert inside["tau"] == pytest.approx(everywhere["tau"])
    region[:] = False
    region[0:2, 0:2] = True  # outside the target, already background: ASMA's mask gives no gradient there
    with pytest.raises(ParameterError, match="zero"):
        resolve_auto_step(adapter, "asma", {"tau": "auto"}, image, target, region)


def test_numbers_pass_through_and_conflicts_are_refused(adapter):
    image, target = _inputs()
    parameters = {"tau": 1e-7, "beta": 1e-6}
    assert resolve_auto_step(adapter, "asma", parameters, image, target) == (parameters, None)
    with pytest.raises(ParameterError) as raised:
        resolve_auto_step(adapter, "asma", {"tau": "auto", "beta": 1e-6}, image, target)
    assert raised.value.name == "beta"
    reached = _prediction(image)
    with pytest.raises(ParameterError, match="already equal"):
        resolve_auto_step(adapter, "asma", {"tau": "auto"}, image, reached)
    assert without_auto({"tau": "auto", "beta": 1.0, "iterations": 3}) == {"beta": 1.0, "iterations": 3}
    assert without_auto(parameters) == parameters
