"""SSM, ASM and ASMA against hand-computed losses and updates (docs/design.md, Attacks)."""

import numpy as np
import pytest
import torch

from segattack_gui.core.attacks import METHODS, create_attack
from segattack_gui.core.attacks.asma import ASM, ASMA, SSM
from segattack_gui.core.attacks.base import ParameterError
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_attack

from .tiny_models import ThresholdModel

# z0 = 0.5 - x, z1 = x - 0.5: class 1 where x > 0.5.
X0 = np.array([[0.2, 0.8], [0.6, 0.1]], dtype=np.float32)[..., None]
TARGET = np.array([[1, 0], [1, 1]])


@pytest.fixture
def adapter():
    return ModelAdapter(ThresholdModel(), ModelSpec(classes=("background", "foreground")))


def test_asma_two_steps_match_hand_computation(adapter):
    # Prediction [[0,1],[1,0]]; wrong pixels pull: (0,0)->class 1 (+1), (0,1)->class 0 (-1), (1,1)->class 1 (+1).
    # J(x0) = (0.2-0.5) + (0.5-0.8) + (0.1-0.5) - 0 = -1.0; IoU = 1/4; tau_0 = 0.2*0.25 + 0.1 = 0.15.
    # x1 = x0 + 0.15 * [1, -1, 0, 1] = [0.35, 0.65, 0.6, 0.25]
    # grad J(x1) = [1, -1, 0, 1] - 2 (x1 - x0) = [0.7, -0.7, 0, 0.7]; x2 = x1 + 0.15 * that.
    attack = create_attack("asma", iterations=2, tau=0.1, beta=0.2)
    result = run_attack(adapter, X0, TARGET, attack)
    expected_x2 = np.array([[0.455, 0.545], [0.6, 0.355]], dtype=np.float32)
    np.testing.assert_allclose(result.adversarial[..., 0], expected_x2, atol=1e-6)
    np.testing.assert_allclose(result.history["loss"][:2], [-1.0, -0.55 - 3 * 0.15**2], atol=1e-6)
    np.testing.assert_allclose(result.history["multiplier"][:2], [0.15, 0.15], atol=1e-7)
    np.testing.assert_allclose(result.history["iou"][0], 0.25)
    assert result.iterations_run == 2
    assert len(result.history["iou"]) == 3  # rows x0, x1, x2


def test_ssm_pulls_every_target_pixel_with_constant_multiplier(adapter):
    # SSM weights every target pixel: (1,0) is already class 1 but still pulls (+1).
    result = run_attack(adapter, X0, TARGET, create_attack("ssm", iterations=1, tau=0.1, beta=0.2))
    np.testing.assert_allclose(result.adversarial[..., 0], [[0.3, 0.7], [0.7, 0.2]], atol=1e-6)
    np.testing.assert_allclose(result.history["loss"][0], -0.9, atol=1e-6)
    np.testing.assert_allclose(result.history["multiplier"][0], 0.1)


def test_asm_is_asma_with_a_constant_multiplier(adapter):
    asm = run_attack(adapter, X0, TARGET, create_attack("asm", iterations=1, tau=0.1, beta=0.2))
    np.testing.assert_allclose(asm.adversarial[..., 0], [[0.3, 0.7], [0.6, 0.2]], atol=1e-6)
    np.testing.assert_allclose(asm.history["multiplier"][0], 0.1)


def test_family_switches():
    assert (ASMA.adaptive, ASMA.dynamic_multiplier) == (True, True)
    assert (ASM.adaptive, ASM.dynamic_multiplier) == (True, False)
    assert (SSM.adaptive, SSM.dynamic_multiplier) == (False, False)
    for name in ("ssm", "asm", "asma"):
        assert METHODS[name].name == name


def test_published_defaults():
    config = create_attack("asma").config
    assert (config.tau, config.beta, config.iterations) == (1e-7, 1e-6, 2501)


def test_asma_reaches_the_target_and_keeps_best(adapter):
    rng = np.random.default_rng(0)
    image = rng.uniform(0.3, 0.7, (12, 12, 1)).astype(np.float32)  # within reach of the L2 pull-back
    target = (rng.uniform(size=(12, 12)) > 0.5).astype(int)
    result = run_attack(adapter, image, target, create_attack("asma", iterations=200, tau=0.01, beta=0.05, stop_iou=0.9))
    assert result.final["iou"] >= 0.9
    assert result.stop_reason == "stop_iou"
    assert result.iterations_run < 200
    assert result.best["iou"] == result.final["iou"]
    assert result.best["iteration"] == result.iterations_run
    assert np.all(result.adversarial >= 0) and np.all(result.adversarial <= 1)


def test_unknown_method_and_bad_parameters():
    with pytest.raises(ValueError, match="unknown method"):
        create_attack("fgsm-ish")
    with pytest.raises(ParameterError, match="^tau must be >= 0.0, not -1.0$") as caught:
        create_attack("asma", tau=-1.0)
    assert caught.value.flag == "--tau" and caught.value.problem == "must be >= 0.0, not -1.0"
    with pytest.raises(ParameterError, match="^beta must be a finite number"):
        create_attack("asma", beta=float("nan"))
    with pytest.raises(ValueError, match="no parameter"):
        create_attack("ssm", epsilon=0.1)


def test_no_weight_gradients_are_kept(adapter):
    run_attack(adapter, X0, TARGET, create_attack("asma", iterations=3, tau=0.1, beta=0.2))
    assert all(not p.requires_grad and p.grad is None for p in adapter.model.parameters())


def test_cpu_runs_are_deterministic(adapter):
    torch.manual_seed(1)
    from segattack_gui.core.architectures import PaddedUNet

    model = ModelAdapter(PaddedUNet(widths=(4, 8)), ModelSpec())
    rng = np.random.default_rng(3)
    image = rng.uniform(size=(32, 32, 3)).astype(np.float32)
    target = np.zeros((32, 32), int)
    target[8:24, 8:24] = 1
    first = run_attack(model, image, target, create_attack("asma", iterations=5, tau=1e-3))
    second = run_attack(model, image, target, create_attack("asma", iterations=5, tau=1e-3))
    np.testing.assert_array_equal(first.adversarial, second.adversarial)
    np.testing.assert_array_equal(first.history["loss"], second.history["loss"])


@pytest.mark.parametrize("upstream", [-1.0, 0.37, 3.0])
def test_the_distance_term_gives_autograds_numbers_bit_for_bit(upstream):
    """The hand-written squared distance equals autograd's graph for (x - x0).pow(2).sum() exactly,
    value and gradient, whatever weight the loss puts on it (docs/design.md, Performance: fewer passes, same attack)."""
    from segattack_gui.core.attacks.asma import _SquaredDistance

    generator = torch.Generator().manual_seed(0)
    x0 = torch.rand(3, 3, 17, 19, generator=generator)
    x = (x0 + 0.05 * torch.randn(3, 3, 17, 19, generator=generator)).requires_grad_(True)
    weights = torch.tensor([upstream, 1.0, -0.5])

    reference = (x - x0).flatten(1).pow(2).sum(1)
    (expected,) = torch.autograd.grad((reference * weights).sum(), x)
    ours = _SquaredDistance.apply(x, x.detach() - x0)
    (gradient,) = torch.autograd.grad((ours * weights).sum(), x)
    assert torch.equal(ours.detach(), reference.detach())
    assert torch.equal(gradient, expected)
