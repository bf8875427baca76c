"""ALMA prox and PDPGD on cases whose smallest perturbation is known by hand.

The model is :class:`ThresholdModel`: one channel, two classes, pixel i is class 1 exactly when
x_i > 0.5. An image whose pixels sit at 0.45 (half of them) and 0.30 (the other half), attacked
towards "everything class 1", needs an L-inf of 0.05 to win half the pixels and 0.20 to win all;
the smallest L2 to win all is sqrt(N / 2 (0.05^2 + 0.2^2)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from segattack_gui.core.attacks import METHOD_TITLES, METHODS, create_attack
from segattack_gui.core.attacks.alma_prox import penalty, penalty_slope, without_largest
from segattack_gui.core.attacks.constraints import dlr_constraints, target_margins
from segattack_gui.core.attacks.pdpgd import dual_weights
from segattack_gui.core.attacks.proximal import linf_radius, prox_l2, prox_linf
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_attack
from tests.core.tiny_models import ThresholdModel

SIZE = 8


@pytest.fixture(scope="module")
def adapter():
    return ModelAdapter(ThresholdModel(), ModelSpec(), device="cpu")


def two_level_image() -> np.ndarray:
    image = np.full((SIZE, SIZE, 1), 0.30, np.float32)
    image[:, : SIZE // 2] = 0.45
    return image


ALL_FOREGROUND = np.ones((SIZE, SIZE), np.int64)


def brute_force_linf_prox(delta, lam, weights, lower, upper):
    """min over a fine grid of radii t of 1/2 ||clip(clip(d), -t, t) - d||_H^2 + lam t."""
    inside = torch.maximum(torch.minimum(delta, upper), lower)
    radii = torch.linspace(0, float(inside.abs().max()), 40001)
    values = [0.5 * (weights * (inside.clamp(-t, t) - delta) ** 2).sum() + lam * t for t in radii]
    return float(torch.stack(values).min())


@pytest.mark.parametrize("seed", range(3))
def test_linf_prox_is_the_minimum_of_its_objective(seed):
    generator = torch.Generator().manual_seed(seed)
    delta = torch.randn(2, 3, 4, 4, generator=generator) * 0.2
    x0 = torch.rand(2, 3, 4, 4, generator=generator)
    weights = torch.rand(2, 3, 4, 4, generator=generator) + 0.1
    lam = torch.tensor([0.05, 0.4])
    z = prox_linf(delta, lam, weights, -x0, 1 - x0)
    for item in range(2):
        ours = 0.5 * (weights[item] * (z[item] - delta[item]) ** 2).sum() + lam[item] * z[item].abs().max()
        best = brute_force_linf_prox(delta[item], lam[item], weights[item], -x0[item], 1 - x0[item])
        assert float(ours) == pytest.approx(best, abs=1e-6)
        assert bool(((x0[item] + z[item]) >= -1e-7).all() and ((x0[item] + z[item]) <= 1 + 1e-7).all())


def sorted_radius(delta, lam, weights, lower, upper):
    """The radius by sorting: the k largest clipped coordinates are the active set, k the number of
    breakpoints a_k with f'(a_k) = lam + a_k W_{k-1} - S_{k-1} > 0, and the root of f' on that
    segment or, where f' jumps over zero, the segment's end."""
    flat = delta.reshape(delta.shape[0], -1)
    a = torch.maximum(torch.minimum(flat, upper.reshape(flat.shape)), lower.reshape(flat.shape)).abs()
    a, order = a.sort(1, descending=True)
    h = weights.reshape(flat.shape).gather(1, order)
    hd = h * flat.abs().gather(1, order)
    s, w = hd.cumsum(1), h.cumsum(1)
    rising = lam.view(-1, 1) + a * (w - h) - (s - hd) > 0
    k = rising.sum(1, keepdim=True)
    root = (s.gather(1, k - 1) - lam.view(-1, 1)) / w.gather(1, k - 1)
    # Inside the k-th segment [a_{k+1}, a_k]; at its end where f' jumps over 0 (a clipped coordinate).
    below = torch.cat([a, torch.zeros_like(a[:, :1])], 1).gather(1, k)
    return torch.minimum(torch.maximum(root, below), a.gather(1, k - 1)).clamp_min(0).squeeze(1)


@pytest.mark.parametrize("scale", [0.01, 0.3, 3.0])
def test_linf_radius_matches_the_sorted_solution_on_large_inputs(scale):
    generator = torch.Generator().manual_seed(7)
    delta = torch.randn(6, 3, 32, 32, generator=generator, dtype=torch.float64) * scale
    x0 = torch.rand(6, 3, 32, 32, generator=generator, dtype=torch.float64)
    weights = torch.rand(6, 3, 32, 32, generator=generator, dtype=torch.float64) + 0.01
    lam = torch.tensor([1e-4, 1e-2, 0.1, 1.0, 10.0, 1e3], dtype=torch.float64)
    ours = linf_radius(delta, lam, weights, -x0, 1 - x0)
    assert torch.allclose(ours, sorted_radius(delta, lam, weights, -x0, 1 - x0), rtol=1e-9, atol=1e-12)


def test_linf_prox_by_hand():
    """d = (3, 1, -2), lam = 2, H = 1: clipping at t costs (3 - t) + (2 - t) = 2 at t = 1.5."""
    delta = torch.tensor([[3.0, 1.0, -2.0]])
    assert float(linf_radius(delta, torch.tensor([2.0]))) == pytest.approx(1.5)
    assert prox_linf(delta, torch.tensor([2.0])).tolist() == [[1.5, 1.0, -1.5]]
    # lam at least ||d||_1 = 6 sends everything to zero (the Moreau identity: d - Proj_{lam B_1}(d) = 0).
    assert prox_linf(delta, torch.tensor([6.0])).abs().max() == 0


def test_l2_prox_by_hand():
    delta = torch.tensor([[3.0, 4.0]])  # length 5
    assert prox_l2(delta, torch.tensor([1.0])).tolist() == [[pytest.approx(2.4), pytest.approx(3.2)]]
    assert prox_l2(delta, torch.tensor([6.0])).abs().max() == 0


def test_margins_and_constraints_for_two_and_four_classes():
    logits = torch.tensor([[1.0, 3.0], [2.0, -1.0]]).reshape(1, 2, 1, 2)  # pixel 0: (1, 2), pixel 1: (3, -1)
    target = torch.tensor([[[1, 1]]])
    assert target_margins(logits, target).flatten().tolist() == [1.0, -4.0]
    # Two classes: scale is the mean logit range over the pixels, (1 + 4) / 2 = 2.5.
    g = dlr_constraints(logits, target, kappa=0.0).flatten()
    assert g.tolist() == [pytest.approx(-1 / 2.5), pytest.approx(4 / 2.5)]
    four = torch.tensor([4.0, 1.0, 0.0, 2.0]).view(1, 4, 1, 1)  # top 4, 2, 1, 0: scale 4 - (1 + 0) / 2 = 3.5
    g4 = dlr_constraints(four, torch.tensor([[[3]]]), kappa=0.5)
    assert float(g4) == pytest.approx((0.5 - (2 - 4)) / 3.5)


def test_penalty_slope_is_the_derivative_of_the_penalty():
    y = torch.tensor([-2.0, -0.3, 0.0, 0.4, 1.5], dtype=torch.float64, requires_grad=True)
    rho = torch.tensor([0.5, 2.0, 1.0, 3.0, 0.01], dtype=torch.float64)
    mu = torch.tensor([0.2, 1.0, 0.7, 0.1, 1.0], dtype=torch.float64)
    (slope,) = torch.autograd.grad(penalty(y, rho, mu).sum(), y)
    assert torch.allclose(slope, penalty_slope(y.detach(), rho, mu))


def test_constraint_masking_drops_exactly_the_largest():
    values = torch.tensor([[[0.1, 0.9], [0.5, 0.7]]])
    assert without_largest(values, 2).tolist() == [[[True, False], [True, False]]]
    assert without_largest(values, 0).all()


def test_dual_weights_leave_room_for_the_norm():
    weights = dual_weights(torch.full((1, 2, 2), -math.log(4)))
    assert float(weights.sum()) == pytest.approx(0.5)  # 4 * (1/4) / (1 + 4 * 1/4)


def test_methods_are_registered():
    assert {"alma_prox", "pdpgd"} <= set(METHODS) <= set(METHOD_TITLES)


@pytest.mark.parametrize("method, parameters", [
    ("alma_prox", {"learning_rate": 0.01}),
    ("pdpgd", {"primal_lr": 0.01}),
])
@pytest.mark.parametrize("share, expected", [(0.5, 0.05), (1.0, 0.20)])
def test_smallest_linf_on_the_two_level_image(adapter, method, parameters, share, expected):
    attack = create_attack(method, iterations=300, success_share=share, **parameters)
    result = run_attack(adapter, two_level_image(), ALL_FOREGROUND, attack)
    assert result.final["pixel_accuracy"] >= share
    assert expected <= result.final["linf"] <= expected * 1.1  # within 10 % of the smallest
    # The answer is the best iterate, which the history shows reaching the share at that L-inf.
    best = result.best["iteration"]
    assert result.history["pixel_accuracy"][best] >= share
    assert result.history["linf"][best] == pytest.approx(result.final["linf"], abs=1e-6)


def test_pdpgd_l2_finds_the_smallest_l2(adapter):
    """Winning every pixel: each moves to the threshold, so the L2 is sqrt(N/2 (0.05^2 + 0.2^2))."""
    attack = create_attack("pdpgd", iterations=300, success_share=1.0, norm="l2", primal_lr=0.01)
    result = run_attack(adapter, two_level_image(), ALL_FOREGROUND, attack)
    smallest = math.sqrt(SIZE * SIZE / 2 * (0.05**2 + 0.2**2))
    assert result.final["pixel_accuracy"] == 1.0
    assert smallest <= result.final["l2"] <= smallest * 1.05


def test_alma_prox_on_a_four_class_model():
    """Four classes take the difference-of-logits-ratio path: class k wins where x is nearest k / 3."""

    class Nearest(torch.nn.Module):
        def forward(self, x):
            centres = torch.arange(4.0).view(1, 4, 1, 1) / 3
            return -20 * (x.mean(1, keepdim=True) - centres) ** 2

    adapter = ModelAdapter(Nearest(), ModelSpec(classes=("a", "b", "c", "d")), device="cpu")
    image = np.full((SIZE, SIZE, 1), 0.30, np.float32)  # class 1 (1/3); class 2 wins above 0.5
    target = np.full((SIZE, SIZE), 2, np.int64)
    result = run_attack(adapter, image, target, create_attack("alma_prox", iterations=300, learning_rate=0.01))
    assert result.final["pixel_accuracy"] >= 0.99
    assert 0.2 <= result.final["linf"] <= 0.2 * 1.1


def test_reference_slope_is_adv_libs_and_is_what_the_reference_penalty_backpropagates():
    """adv-lib 0.2.8's backward of P2 on y >= 0: mu y + 2 mu rho y + rho^2 y^2 / 2 (by hand at one point)."""
    from segattack_gui.core.attacks.alma_prox import SLOPES, reference_slope

    y, rho, mu = torch.tensor([0.5, -0.5]), torch.tensor([2.0, 2.0]), torch.tensor([0.25, 0.25])
    by_hand = torch.tensor([0.25 * 0.5 + 2 * 0.25 * 2 * 0.5 + 4 * 0.25 / 2, 0.25 / (1 + 2 * 0.5) ** 2])
    assert torch.allclose(reference_slope(y, rho, mu), by_hand)
    penalised, slope = SLOPES["reference"]
    y = y.clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(penalised(y, rho, mu).sum(), y)
    assert torch.allclose(gradient, by_hand) and slope is reference_slope
    assert torch.allclose(penalised(y, rho, mu), penalty(y, rho, mu))  # the same penalty, another slope
