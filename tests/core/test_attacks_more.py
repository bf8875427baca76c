"""DAG, the targeted PGD family and the universal perturbation on a hand-made model.

The model is a 1x1 convolution with fixed weights: a pixel is class 1 exactly when the
mean of its three channels exceeds 0.5 (logit gap z_1 - z_0 = 30 * (mean - 0.5)). The
images sit just below that threshold, so each pixel's prediction is controlled by its
own value and any target is reachable with a perturbation of a few / 255.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segattack_gui.core.attacks import METHOD_TITLES, METHODS, StepInputs, create_attack
from segattack_gui.core.attacks.pgd import cospgd_weights, segpgd_weights
from segattack_gui.core.attacks.universal import (
    UniversalConfig,
    evaluate_universal,
    fit_universal,
)
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import AttackControl, run_attack, run_batch

SIZE = 16
GAIN = 5.0


class ThresholdModel(nn.Module):
    """Per-pixel two-class model: class 1 where gain * (mean(x) - 0.5) > 0."""

    def __init__(self, gain_map: torch.Tensor | None = None):
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([[-GAIN] * 3, [GAIN] * 3]).view(2, 3, 1, 1))
            self.conv.bias.copy_(torch.tensor([1.5 * GAIN, -1.5 * GAIN]))
        # An optional spatial gain scales how strongly each pixel's input moves its logits.
        self.register_buffer("gain_map", gain_map if gain_map is not None else torch.ones(1, 1, SIZE, SIZE))

    def forward(self, x):
        return self.conv(0.5 + (x - 0.5) * self.gain_map)


@pytest.fixture(scope="module")
def adapter():
    return ModelAdapter(ThresholdModel(), ModelSpec(), device="cpu")


def make_image(seed: int, low: float = 0.47, high: float = 0.49) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, (SIZE, SIZE, 3)).astype(np.float32)


def make_target() -> np.ndarray:
    target = np.zeros((SIZE, SIZE), np.int64)
    target[4:10, 5:11] = 1
    return target


def foreground_iou(prediction: np.ndarray, target: np.ndarray) -> float:
    """Independent IoU of class 1 (both empty: 1)."""
    predicted, wanted = prediction == 1, target == 1
    union = np.logical_or(predicted, wanted).sum()
    return 1.0 if union == 0 else np.logical_and(predicted, wanted).sum() / union


def test_methods_are_registered_with_titles():
    for name in ("dag", "pgd", "segpgd", "cospgd"):
        assert name in METHODS and name in METHOD_TITLES
        assert METHODS[name].name == name
    with pytest.raises(ValueError, match="norm"):
        create_attack("pgd", norm="l1")
    with pytest.raises(ValueError, match="norm"):
        create_attack("dag", norm="l1")


def test_defaults_follow_the_papers():
    dag = create_attack("dag").config
    assert dag.gamma == pytest.approx(0.5 / 255) and dag.iterations == 200 and dag.stop_fraction == 0.01
    pgd = create_attack("pgd").config
    assert pgd.epsilon == pytest.approx(8 / 255) and pgd.alpha == pytest.approx(1 / 255) and pgd.norm == "linf"
    assert UniversalConfig().epsilon == pytest.approx(10 / 255)


CONVERGING = [
    ("dag", {}),
    ("dag", {"norm": "l2"}),
    ("pgd", {"iterations": 40}),
    ("pgd", {"iterations": 40, "norm": "l2"}),
    ("pgd", {"iterations": 40, "random_start": True}),
    ("segpgd", {"iterations": 40}),
    ("cospgd", {"iterations": 40}),
]


@pytest.mark.parametrize(("method", "parameters"), CONVERGING)
def test_each_method_moves_the_prediction_to_the_target(adapter, method, parameters):
    image, target = make_image(1), make_target()
    result = run_attack(adapter, image, target, create_attack(method, **parameters))
    assert result.history["iou"][0] == 0.0
    assert result.final["iou"] >= 0.9
    assert foreground_iou(result.prediction_adversarial, target) == pytest.approx(result.final["iou"])
    assert result.error is None


@pytest.mark.parametrize("method", ["pgd", "segpgd", "cospgd"])
def test_pgd_stays_in_its_linf_ball(adapter, method):
    epsilon = 4 / 255
    result = run_attack(adapter, make_image(2), make_target(), create_attack(method, iterations=20, epsilon=epsilon,
                                                                             random_start=True))
    assert result.history["linf"].max() <= epsilon + 1e-6
    assert np.abs(result.adversarial - result.original).max() <= epsilon + 1e-6
    assert result.final["linf"] == pytest.approx(epsilon, abs=1e-6)  # the sign steps reach the edge


@pytest.mark.parametrize("epsilon", [0.05, 0.1, 8 / 255])
def test_quantized_pgd_stays_in_its_linf_ball(adapter, epsilon):
    """Rounding to 8 bits after the projection must not step past an epsilon between two levels."""
    image = np.round(make_image(3) * 255) / 255  # an 8-bit image, as PNG inputs are
    result = run_attack(adapter, image.astype(np.float32), make_target(),
                        create_attack("pgd", iterations=30, epsilon=epsilon, alpha=2 / 255, quantize=True))
    assert np.abs(result.adversarial - result.original).max() <= epsilon + 1e-6
    assert np.abs(np.round(result.adversarial * 255) - result.adversarial * 255).max() < 1e-3  # on the 8-bit grid
    assert result.final_quantized["linf"] <= epsilon + 1e-6
    assert result.final_quantized["iou"] == pytest.approx(result.final["iou"])


def test_pgd_stays_in_its_l2_ball(adapter):
    radius = 0.2
    attack = create_attack("pgd", iterations=20, norm="l2", l2_epsilon=radius, l2_alpha=0.05, random_start=True)
    result = run_attack(adapter, make_image(2), make_target(), attack)
    assert result.history["l2"].max() <= radius + 1e-5
    assert np.linalg.norm(result.adversarial - result.original) <= radius + 1e-5
    assert result.final["l2"] == pytest.approx(radius, rel=1e-3)
    assert result.history["multiplier"][0] == pytest.approx(0.05)


@pytest.mark.parametrize("radius", [0.3, 1.0])
def test_quantized_l2_pgd_stays_in_its_l2_ball(radius):
    """Rounding every pixel to 8 bits lengthens a perturbation on the L2 sphere; the export must not."""
    adapter = ModelAdapter(ThresholdModel(), ModelSpec(), device="cpu")
    image = np.round(make_image(4, 0.3, 0.6) * 255) / 255
    attack = create_attack("pgd", iterations=30, norm="l2", l2_epsilon=radius, l2_alpha=radius / 4,
                           random_start=True, quantize=True)
    result = run_attack(adapter, image.astype(np.float32), make_target(), attack)
    assert np.abs(np.round(result.adversarial * 255) - result.adversarial * 255).max() < 1e-3  # on the 8-bit grid
    assert np.linalg.norm(result.adversarial - result.original) <= radius + 1e-5
    assert result.final_quantized["l2"] <= radius + 1e-5 and result.history["l2"].max() <= radius + 1e-5


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_a_random_start_does_not_depend_on_the_batch(adapter, norm):
    """Each image starts as it would alone (its seed is the run's), whatever its batch and place in it."""
    attack = create_attack("pgd", iterations=3, random_start=True, norm=norm, l2_epsilon=0.5, seed=5)
    images = [make_image(seed) for seed in (3, 4, 5)]
    together = run_batch(adapter, images, [make_target()] * 3, attack)
    for image, result in zip(images, together):
        alone = run_attack(adapter, image, make_target(), attack)
        # Equal up to float rounding of the batched L2 norms (a start drawn per batch was 0.1 off).
        np.testing.assert_allclose(result.adversarial, alone.adversarial, rtol=0, atol=1e-6)


def test_with_quantize_the_best_iterate_is_one_a_png_holds(adapter):
    attack = create_attack("asma", iterations=40, tau=2e-4, beta=2e-3, quantize=True, quantize_fraction=0.25)
    result = run_attack(adapter, make_image(6), make_target(), attack)
    assert result.best["iteration"] >= 30  # the last quarter of the rows steps on the 8-bit grid


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_random_start_is_deterministic_for_a_seed(adapter, norm):
    def first_iterate(seed):
        attack = create_attack("pgd", iterations=1, random_start=True, norm=norm, l2_epsilon=0.5, seed=seed)
        return run_attack(adapter, make_image(3), make_target(), attack)

    first, again, other = first_iterate(7), first_iterate(7), first_iterate(8)
    np.testing.assert_array_equal(first.adversarial, again.adversarial)
    assert not np.array_equal(first.adversarial, other.adversarial)
    start_size = first.history["linf" if norm == "linf" else "l2"][0]
    assert 0 < start_size <= (8 / 255 if norm == "linf" else 0.5) + 1e-6


@pytest.mark.parametrize(("method", "parameters"), [
    ("dag", {"iterations": 40}), ("dag", {"iterations": 40, "norm": "l2"}),
    ("pgd", {"iterations": 40, "random_start": True}),
    ("pgd", {"iterations": 40, "norm": "l2", "random_start": True}), ("segpgd", {"iterations": 40}),
    ("cospgd", {"iterations": 40}),
])
def test_region_is_honoured(adapter, method, parameters):
    image, target = make_image(4), make_target()
    region = np.zeros((SIZE, SIZE), bool)
    region[:, :8] = True  # the left half; the target square spans both halves
    result = run_attack(adapter, image, target, create_attack(method, **parameters), region=region)
    np.testing.assert_array_equal(result.adversarial[~region], image[~region])
    np.testing.assert_array_equal(result.best_adversarial[~region], image[~region])
    # Inside the region the target pixels were converted; outside, none could be.
    inside = (target == 1) & region
    assert (result.prediction_adversarial[inside] == 1).all()
    assert (result.prediction_adversarial[(target == 1) & ~region] == 0).all()


def test_normalised_steps_see_only_the_region():
    """DAG's L-inf step is gamma inside the region even when larger gradients lie outside it."""
    gain_map = torch.ones(1, 1, SIZE, SIZE)
    gain_map[..., 8:] = 10.0  # pixels outside the region pull 10x harder
    strong_right = ModelAdapter(ThresholdModel(gain_map), ModelSpec(), device="cpu")
    image = np.full((SIZE, SIZE, 3), 0.495, np.float32)
    target = np.ones((SIZE, SIZE), np.int64)
    region = np.zeros((SIZE, SIZE), bool)
    region[:, :8] = True
    gamma = 0.5 / 255
    result = run_attack(strong_right, image, target, create_attack("dag", iterations=1, gamma=gamma), region=region)
    assert result.history["linf"][1] == pytest.approx(gamma, rel=1e-4)


def test_dag_stops_when_few_pixels_remain_wrong(adapter):
    image, target = make_image(5), make_target()
    result = run_attack(adapter, image, target, create_attack("dag", iterations=200), check_every=1)
    assert result.stop_reason == "finished"
    assert result.iterations_run < 200
    wrong = (result.prediction_adversarial != target).mean()
    assert wrong <= 0.01
    # The iteration before it stopped still had more than 1% of the pixels wrong.
    assert result.history["pixel_accuracy"][-2] < 0.99
    np.testing.assert_allclose(result.history["multiplier"], 0.5 / 255, rtol=1e-6)


def test_dag_objective_sums_logit_gaps_over_the_active_pixels():
    logits = torch.tensor([[[[2.0, 0.0]], [[1.0, 3.0]], [[0.0, 1.0]]]])  # [1, 3 classes, 1, 2]
    prediction = logits.argmax(1)  # [[0, 1]]
    target = torch.tensor([[[2, 1]]])  # pixel 0 is wrong (2 vs 0), pixel 1 is already right
    inputs = StepInputs(0, logits, prediction, target, F.one_hot(target, 3).permute(0, 3, 1, 2).float(),
                        torch.zeros(1, 3, 1, 2), torch.zeros(1, 3, 1, 2), torch.zeros(1))
    loss, multiplier = create_attack("dag").objective(inputs)
    assert loss.item() == pytest.approx(0.0 - 2.0)  # z_target - z_pred at the one active pixel
    assert multiplier.item() == pytest.approx(0.5 / 255)


def test_segpgd_weights_follow_the_schedule():
    prediction = torch.tensor([[[0, 1], [1, 1]]])
    target = torch.tensor([[[1, 1], [0, 1]]])
    converted = prediction == target  # (0, 1) and (1, 1)
    first = segpgd_weights(prediction, target, iteration=0, iterations=10)  # t = 1: lambda = 0
    np.testing.assert_allclose(first.numpy(), [[[1, 0], [1, 0]]])
    later = segpgd_weights(prediction, target, iteration=5, iterations=10)  # t = 6: lambda = 5/20
    np.testing.assert_allclose(later[converted].numpy(), 0.25)
    np.testing.assert_allclose(later[~converted].numpy(), 0.75)

    logits = torch.tensor([[[[0.0, 0.0], [2.0, 0.0]], [[1.0, 3.0], [0.5, 1.0]]]])
    inputs = StepInputs(5, logits, logits.argmax(1), target, F.one_hot(target, 2).permute(0, 3, 1, 2).float(),
                        torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 2), torch.zeros(1))
    loss, _ = create_attack("segpgd", iterations=10).objective(inputs)
    probabilities = logits.softmax(1)[0]
    expected = 0.0
    for row in range(2):
        for column in range(2):
            wanted = int(target[0, row, column])
            weight = 0.25 if logits[0, :, row, column].argmax() == wanted else 0.75
            expected += weight * -math.log(float(probabilities[wanted, row, column]))
    assert loss.item() == pytest.approx(-expected / 4, rel=1e-5)


def test_cospgd_weights_are_one_minus_cosine_to_the_target():
    logits = torch.tensor([[[[0.0, 0.0]], [[math.log(3.0), math.log(3.0)]]]], requires_grad=True)  # p = (1/4, 3/4)
    target = torch.tensor([[[1, 0]]])
    weights = cospgd_weights(logits, F.one_hot(target, 2).permute(0, 3, 1, 2).float())
    norm = math.sqrt(0.25**2 + 0.75**2)
    np.testing.assert_allclose(weights.detach().numpy(), [[[1 - 0.75 / norm, 1 - 0.25 / norm]]], rtol=1e-5)
    assert not weights.requires_grad  # the weights scale the loss but carry no gradient
    uniform = cospgd_weights(torch.zeros(1, 3, 1, 1), F.one_hot(torch.tensor([[[2]]]), 3).permute(0, 3, 1, 2).float())
    assert uniform.item() == pytest.approx(1 - 1 / math.sqrt(3), rel=1e-5)


@pytest.mark.parametrize("method", ["dag", "pgd", "segpgd", "cospgd"])
def test_stop_iou_stops_early(adapter, method):
    result = run_attack(adapter, make_image(6), make_target(), create_attack(method, iterations=100, stop_iou=0.3),
                        check_every=1)
    assert result.stop_reason == "stop_iou"
    assert result.iterations_run < 100
    assert result.history["iou"][-1] >= 0.3
    assert (result.history["iou"][:-1] < 0.3).all()


def test_universal_perturbation_fits_a_set_and_transfers_to_held_out_images(adapter):
    training = [make_image(seed) for seed in range(10, 14)]
    held_out = [make_image(seed) for seed in range(20, 23)]
    target = make_target()
    before = evaluate_universal(adapter, np.zeros((SIZE, SIZE, 3), np.float32), held_out, target)
    assert all(record["iou"] == 0.0 for record in before)
    calls = []
    config = UniversalConfig(iterations=20, batch_size=3)  # two mini-batches per pass
    result = fit_universal(adapter, training, [target] * 4, config, progress=lambda *args: calls.append(args))
    epsilon = config.epsilon
    assert np.abs(result.perturbation).max() <= epsilon + 1e-6
    assert result.history["mean_iou"][0] == 0.0 and result.history["mean_iou"][-1] >= 0.9
    assert len(result.history["iteration"]) == result.iterations_run + 1 == 21
    assert [call[0] for call in calls] == list(range(1, 21))
    after = evaluate_universal(adapter, result.perturbation, held_out, target)
    assert len(after) == 3
    for image, record in zip(held_out, after):
        assert record["iou"] >= 0.9
        assert record["linf"] <= epsilon + 1e-6
        applied = np.clip(image + result.perturbation, 0, 1) - image
        assert record["l2"] == pytest.approx(np.linalg.norm(applied), rel=1e-4)
        prediction = adapter.predict(adapter.to_device(np.clip(image + result.perturbation, 0, 1)))[0].numpy()
        assert record["iou"] == pytest.approx(foreground_iou(prediction, target))
        assert record["pixel_accuracy"] == pytest.approx((prediction == target).mean())


def test_universal_honours_region_stop_iou_and_stop(adapter):
    training = [make_image(seed) for seed in range(30, 34)]
    target = make_target()
    region = np.zeros((SIZE, SIZE), bool)
    region[:, :8] = True
    result = fit_universal(adapter, training, target, UniversalConfig(iterations=15), region=region)
    assert (result.perturbation[~region] == 0).all()
    assert (result.perturbation[region] != 0).any()

    stopped = fit_universal(adapter, training, target, UniversalConfig(iterations=40, stop_iou=0.3))
    assert stopped.stop_reason == "stop_iou" and stopped.iterations_run < 40
    assert stopped.history["mean_iou"][-1] >= 0.3

    control = AttackControl()
    control.stop()
    halted = fit_universal(adapter, training, target, UniversalConfig(iterations=40), control=control)
    assert halted.stop_reason == "user" and halted.iterations_run == 0
    assert (halted.perturbation == 0).all()


@pytest.mark.parametrize("epsilon", [0.05, 0.1])
def test_the_exported_png_of_pgd_stays_in_its_budget_without_quantize(adapter, epsilon):
    """Plain rounding of an iterate on the edge of a ball that is no whole number of 8-bit steps
    would leave it (0.05 became 0.05098): the PNG and the scores of it keep to the budget."""
    image = np.round(make_image(3) * 255) / 255
    result = run_attack(adapter, image.astype(np.float32), make_target(),
                        create_attack("pgd", iterations=30, epsilon=epsilon, alpha=2 / 255))
    png = np.round(result.adversarial_8bit * 255)
    assert np.abs(png - result.adversarial_8bit * 255).max() < 1e-3  # on the 8-bit grid
    assert np.abs(result.adversarial_8bit - result.original).max() <= epsilon + 1e-6
    assert result.final_quantized["linf"] <= epsilon + 1e-6


def test_the_8bit_images_of_a_universal_perturbation_keep_its_budget(adapter):
    """An epsilon between two 8-bit levels: rounding x + xi must not step past it (0.05 became 0.05098)."""
    images = [np.round(make_image(seed) * 255) / 255 for seed in (1, 2)]
    images = [image.astype(np.float32) for image in images]
    config = UniversalConfig(iterations=15, epsilon=0.05, alpha=0.01, quantize=True)
    result = fit_universal(adapter, images, make_target(), config)
    for record in evaluate_universal(adapter, result.perturbation, images, make_target(), quantize=True):
        assert record["linf"] <= 0.05 + 1e-6
