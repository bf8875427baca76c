"""Survival transforms and re-evaluation, against values worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.reevaluation import evaluate_adversarial
from segattack_gui.io.survival import parse_survival, survival_transform
from tests.core.tiny_models import ThresholdModel


def test_integer_grids_round_to_the_nearest_level():
    image = np.array([[[0.5 / 255 + 1e-4, 0.2 / 255, 1.2]]], np.float32)
    assert survival_transform("png8")(image).ravel().tolist() == pytest.approx([1 / 255, 0.0, 1.0])
    assert survival_transform("png16")(image).ravel()[1] == pytest.approx(round(0.2 / 255 * 65535) / 65535)


def test_blur_keeps_a_flat_image_and_spreads_a_point_with_unit_mass():
    flat = np.full((9, 9, 3), 0.3, np.float32)
    assert np.allclose(survival_transform("blur1.5")(flat), 0.3, atol=1e-6)
    point = np.zeros((15, 15, 1), np.float32)
    point[7, 7] = 1
    blurred = survival_transform("blur1")(point)
    assert blurred.shape == point.shape
    assert blurred.sum() == pytest.approx(1.0, abs=1e-3)
    assert blurred[7, 7, 0] == pytest.approx(1 / (2 * np.pi), rel=0.05)  # peak of a unit 2-D Gaussian, sigma 1


def test_rescale_by_half_averages_each_two_by_two_block():
    checker = np.zeros((4, 4, 1), np.float32)
    checker[::2, ::2] = checker[1::2, 1::2] = 1
    assert np.allclose(survival_transform("rescale0.5")(checker), 0.5)


def test_jpeg_changes_noise_but_not_a_flat_grey():
    flat = np.full((16, 16, 3), 128 / 255, np.float32)
    assert np.allclose(survival_transform("jpeg75")(flat), 128 / 255, atol=1.5 / 255)
    noise = np.random.default_rng(0).uniform(0, 1, (16, 16, 3)).astype(np.float32)
    assert np.abs(survival_transform("jpeg50")(noise) - noise).mean() > 0.05


@pytest.mark.parametrize("text", ["jpeg0", "jpeg101", "blur0", "rescale1", "gif", "jpeg75.5"])
def test_bad_tokens_are_refused(text):
    with pytest.raises(ValueError, match="is no transform"):
        parse_survival(text)


def test_parse_keeps_order_and_none_means_nothing():
    assert parse_survival("png8, JPEG75,png8") == ["png8", "jpeg75"]
    assert parse_survival("none") == []


def test_evaluation_against_target_and_clean_prediction():
    """Threshold model (class 1 above 0.5): the clean 4x4 image is all class 0; the adversarial
    lifts the top half; the target is the left half. Against the target: 8 of 16 pixels agree
    (top-left and bottom-right quarters), IoU 4 / 12; against the clean prediction: 8 agree,
    and the foreground IoU is 0 / 8."""
    adapter = ModelAdapter(ThresholdModel(), ModelSpec(), device="cpu")
    original = np.full((4, 4, 1), 0.4, np.float32)
    adversarial = original.copy()
    adversarial[:2] = 0.6
    target = np.zeros((4, 4), np.int64)
    target[:, :2] = 1
    scores = evaluate_adversarial(adapter, adversarial, original, target)
    assert scores["pixel_accuracy"] == pytest.approx(0.5)
    assert scores["iou"] == pytest.approx(4 / 12)
    assert scores["pixel_accuracy_vs_clean"] == pytest.approx(0.5)
    assert scores["iou_vs_clean"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="holds class 2"):
        evaluate_adversarial(adapter, adversarial, original, target + 1)


def test_an_ensemble_predicts_from_the_mean_of_its_members_logits():
    """Member A: z1 - z0 = 2x - 1; member B, scaled by 3 and shifted: z = 3 (A's) + (0, 1.2).
    The mean is 2 (A's) + (0, 0.6): class 1 once 4x - 2 + 0.6 > 0, i.e. x > 0.35."""
    import torch

    from segattack_gui.core.ensemble import EnsembleAdapter

    class Shifted(ThresholdModel):
        def forward(self, x):
            return 3 * super().forward(x) + torch.tensor([0.0, 1.2]).view(1, 2, 1, 1)

    first = ModelAdapter(ThresholdModel(), ModelSpec(), device="cpu")
    ensemble = EnsembleAdapter([first, ModelAdapter(Shifted(), ModelSpec(), device="cpu")])
    x = torch.tensor([0.30, 0.34, 0.36, 0.6]).view(1, 1, 1, 4)
    expected = (first.logits(x) * 4 + torch.tensor([0.0, 1.2]).view(1, 2, 1, 1)) / 2
    assert torch.allclose(ensemble.logits(x), expected)
    assert ensemble.predict(x).flatten().tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="at least two"):
        EnsembleAdapter([first])
