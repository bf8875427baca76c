"""Metrics against hand-made masks and independent NumPy computations (docs/design.md, Metrics)."""

import math

import numpy as np
import pytest
import torch

from segattack_gui.core.metrics import (
    perturbation_norms,
    psnr,
    segmentation_scores,
    ssim,
)


def scores(prediction, target, num_classes):
    result = segmentation_scores(torch.tensor([prediction]), torch.tensor([target]), num_classes)
    return {key: value[0].numpy() for key, value in result.items()}


def test_binary_iou_is_foreground_iou():
    prediction = [[1, 1, 0], [0, 0, 0]]
    target = [[1, 0, 0], [1, 0, 0]]
    result = scores(prediction, target, 2)
    assert result["iou"] == pytest.approx(1 / 3)  # intersection 1, union 3
    assert result["pixel_accuracy"] == pytest.approx(4 / 6)
    assert result["dice"] == pytest.approx(2 * 1 / (2 + 2))


def test_empty_masks_agree_perfectly_never_nan():
    empty = [[0, 0], [0, 0]]
    result = scores(empty, empty, 2)
    assert result["iou"] == 1.0 and result["dice"] == 1.0 and result["pixel_accuracy"] == 1.0
    three_class = scores(empty, empty, 3)
    assert three_class["iou"] == 1.0


def test_multiclass_iou_averages_classes_present():
    prediction = np.array([[0, 1, 1], [2, 2, 0]])
    target = np.array([[0, 1, 2], [2, 2, 2]])
    # class 0: inter 1, union 2 -> 0.5; class 1: inter 1, union 2 -> 0.5; class 2: inter 2, union 4 -> 0.5
    result = scores(prediction.tolist(), target.tolist(), 4)  # class 3 absent from both: not averaged
    assert result["iou"] == pytest.approx(0.5)
    np.testing.assert_allclose(result["per_class_iou"], [0.5, 0.5, 0.5, 1.0])
    independent = np.mean([
        np.logical_and(prediction == c, target == c).sum() / np.logical_or(prediction == c, target == c).sum()
        for c in (0, 1, 2)
    ])
    assert result["iou"] == pytest.approx(independent)


def test_norms_match_numpy():
    rng = np.random.default_rng(0)
    original = rng.uniform(size=(1, 3, 5, 7)).astype(np.float32)
    adversarial = np.clip(original + rng.normal(0, 0.01, original.shape), 0, 1).astype(np.float32)
    l2, linf = perturbation_norms(torch.tensor(adversarial), torch.tensor(original))
    difference = (adversarial - original).astype(np.float64)
    assert math.isclose(float(l2[0]), np.sqrt((difference**2).sum()), rel_tol=1e-5)
    assert math.isclose(float(linf[0]), np.abs(difference).max(), rel_tol=1e-6)


def test_psnr_and_ssim():
    image = torch.rand(1, 3, 32, 32)
    assert psnr(image, image)[0] == math.inf
    assert math.isclose(float(ssim(image, image)[0]), 1.0, rel_tol=1e-5)
    noisy = (image + 0.1).clamp(0, 1)
    mse = float(((noisy - image) ** 2).mean())
    assert math.isclose(float(psnr(noisy, image)[0]), -10 * math.log10(mse), rel_tol=1e-5)
    assert float(ssim(noisy, image)[0]) < 1.0
