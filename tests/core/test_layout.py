"""Channels-last from end to end: the image, the model's input and the input gradient share one layout.

On CUDA ``load_model`` holds the weights channels-last, where convolutions run faster. If the
attack's own tensors stayed in the default layout, every iteration would convert the input
to channels-last, flatten channels-last products by copying them, and mix the two layouts in
its elementwise kernels (docs/design.md, Performance: an iteration costs the network and little else). The CPU
computes channels-last too, so these tests run here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from segattack_gui.bench import time_floor
from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_batch

SIZE = 24


DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"))]


def adapter(channels_last: bool, device: str = "cpu") -> ModelAdapter:
    torch.manual_seed(0)
    spec = ModelSpec(classes=("background", "vessel", "disc"), mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))
    return ModelAdapter(PaddedUNet(in_channels=3, num_classes=3, widths=(4, 8)), spec, device=device,
                        channels_last=channels_last)


def inputs(count: int = 2):
    rng = np.random.default_rng(0)
    images = [rng.uniform(0, 1, (SIZE, SIZE, 3)).astype(np.float32) for _ in range(count)]
    target = np.zeros((SIZE, SIZE), np.int64)
    target[6:18, 6:18] = 1
    target[10:14, 10:14] = 2
    return images, [target] * count


def is_channels_last(tensor: torch.Tensor) -> bool:
    return tensor.is_contiguous(memory_format=torch.channels_last) and not tensor.is_contiguous()


def test_the_image_the_model_input_and_the_gradient_are_channels_last():
    model = adapter(channels_last=True)
    images, _ = inputs(1)
    x = model.to_device(images[0]).requires_grad_(True)
    assert is_channels_last(x)
    logits = model.logits(x)
    (gradient,) = torch.autograd.grad(logits.sum(), x)
    assert is_channels_last(gradient)
    assert not is_channels_last(adapter(channels_last=False).to_device(images[0]))


@pytest.mark.parametrize(("method", "parameters"), [
    ("asma", {"tau": 1e-3, "beta": 1e-2}), ("dag", {"norm": "l2"}), ("pgd", {"norm": "l2", "random_start": True}),
    ("cospgd", {}),
])
def test_channels_last_attacks_the_same_way(method, parameters):
    """Only the order of the convolutions' sums differs between the layouts."""
    images, targets = inputs()
    attack = create_attack(method, iterations=5, **parameters)
    default = run_batch(adapter(channels_last=False), images, targets, attack)
    channels_last = run_batch(adapter(channels_last=True), images, targets, attack)
    for one, other in zip(default, channels_last):
        np.testing.assert_allclose(other.adversarial, one.adversarial, atol=1e-5)
        np.testing.assert_allclose(other.history["l2"], one.history["l2"], rtol=1e-4)
        assert other.adversarial.flags.c_contiguous  # results leave in the arrays' usual layout


class LayoutCopies(TorchDispatchMode):
    """Counts the copies of image-sized tensors: layout conversions and flattening of channels-last tensors."""

    COPIES = {"clone", "copy_", "_to_copy", "contiguous"}

    def __init__(self, image_numel: int):
        super().__init__()
        self.image_numel = image_numel
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split(".")[0]
        if name in self.COPIES:
            tensors = [arg for arg in args if isinstance(arg, torch.Tensor)]
            self.count += any(tensor.numel() >= self.image_numel for tensor in tensors)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_an_iteration_copies_no_image_that_the_network_does_not(channels_last, device):
    model = adapter(channels_last, device)
    images, targets = inputs()

    def copies(run) -> int:
        with LayoutCopies(image_numel=len(images) * 3 * SIZE * SIZE) as counter:
            run()
        return counter.count

    def engine(iterations):
        return copies(lambda: run_batch(model, images, targets, create_attack("asma", iterations=iterations)))

    def floor(iterations):
        return copies(lambda: time_floor(model, images[0], len(images), iterations))

    extra = (engine(12) - engine(6)) - (floor(12) - floor(6))
    assert extra == 0, f"{extra / 6:.1f} image-sized copies per iteration besides the network's own"
