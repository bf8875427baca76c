"""Our one-forward ASMA loop follows the published two-forward loop's trajectory."""

import numpy as np
import torch

from segattack_gui.core.architectures import ValidUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.published_asma import published_asma_loop
from segattack_gui.core.runner import run_attack

from .tiny_models import ValidThresholdModel


def compare(adapter, image, target, iterations, tau, beta):
    grid = adapter.output_grid(*target.shape)
    reference = published_asma_loop(adapter, adapter.to_device(image), torch.as_tensor(grid.crop(target))[None],
                                    iterations, tau, beta)
    ours = run_attack(adapter, image, target, create_attack("asma", iterations=iterations, tau=tau, beta=beta))
    # The published loop reports the image *after* step n; our row n + 1 is that image.
    return reference, {name: ours.history[name][1:] for name in ("iou", "pixel_accuracy", "l2", "linf")}


def test_trajectory_matches_on_a_valid_convolution_model():
    adapter = ModelAdapter(ValidThresholdModel(border=3), ModelSpec())
    rng = np.random.default_rng(0)
    image = rng.uniform(0.30, 0.45, (24, 24, 1)).astype(np.float32)  # predicted background everywhere
    target = np.zeros((24, 24), int)
    target[4:16, 6:20] = 1  # IoU 0 at the start, so both loops begin with tau_0 = tau
    reference, ours = compare(adapter, image, target, iterations=80, tau=2e-3, beta=2e-2)
    for name in reference:
        np.testing.assert_allclose(ours[name], reference[name], rtol=1e-4, atol=1e-6, err_msg=name)
    assert reference["iou"][-1] > 0.5  # the attack did move the prediction


def test_trajectory_matches_on_the_paper_unet_structure():
    torch.manual_seed(0)
    adapter = ModelAdapter(ValidUNet(widths=(4, 8, 8, 16, 16)), ModelSpec())
    rng = np.random.default_rng(1)
    image = rng.uniform(0.2, 0.8, (188, 188, 3)).astype(np.float32)
    grid = adapter.output_grid(188, 188)
    original = adapter.predict(adapter.to_device(image))[0].numpy()
    target = np.zeros((188, 188), int)
    grid.crop(target)[...] = 1 - original  # the opposite of the prediction: IoU 0 at the start
    reference, ours = compare(adapter, image, target, iterations=12, tau=5e-2, beta=5e-1)
    for name in reference:
        np.testing.assert_allclose(ours[name], reference[name], rtol=2e-3, atol=1e-5, err_msg=name)
