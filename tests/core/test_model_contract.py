"""Models that cannot be attacked as they are say so at load time; models with size rules just work.

Each case here once ran silently or crashed with PyTorch's own words (reliability audit of
2026-12-02): a gradient-free model "attacked" to L2 = 0, a [C, H, W] output misread as a
batch, the demo U-Net refusing images whose sides are not multiples of 16, a sidecar-less
three-class model refused for the two classes nobody named.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelOutputError, resolve_device
from segattack_gui.core.runner import run_attack
from segattack_gui.errors import SegAttackError
from segattack_gui.io.model_files import check_model_fits, load_model

from .tiny_models import ThresholdModel


class Wrapped(nn.Module):
    """A two-class threshold model with something done to its output (TorchScript-able)."""

    def __init__(self):
        super().__init__()
        self.inner = ThresholdModel()


class ArgmaxModel(Wrapped):
    """Post-processing baked into the export: class ids, not logits."""

    def forward(self, x):
        return self.inner(x).argmax(1)


class DetachedModel(Wrapped):
    def forward(self, x):
        return self.inner(x).detach()


class DropsBatchAxis(Wrapped):
    """Returns [C, H, W] for a batch of one: the batch axis squeezed away."""

    def forward(self, x):
        return self.inner(x)[0]


class FirstItemOnly(Wrapped):
    def forward(self, x):
        return self.inner(x)[:1]


class ThreeClasses(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, kernel_size=1)

    def forward(self, x):
        return self.conv(x)


def save_scripted(module: nn.Module, path) -> None:
    torch.jit.script(module).save(str(path))


@pytest.mark.parametrize("model", [ArgmaxModel(), DetachedModel()], ids=["argmax", "detached"])
def test_a_model_without_gradient_is_refused_when_probed(tmp_path, model):
    path = tmp_path / "model.ts"
    save_scripted(model, path)
    loaded = load_model(path, device="cpu")
    with pytest.raises(SegAttackError, match="no gradient|class ids") as caught:
        check_model_fits(loaded, 16, 16)
    assert caught.value.source == str(path)


def test_a_three_class_argmax_model_is_named_for_what_it_returns(tmp_path):
    """Not "outputs 2 classes but the sidecar names 3": the class ids themselves are the problem."""
    save_scripted(ArgmaxModel(), tmp_path / "model.ts")
    (tmp_path / "model.json").write_text(json.dumps({"classes": ["a", "b", "c"]}))
    with pytest.raises(SegAttackError, match="int64 values .class ids.., not logits"):
        check_model_fits(load_model(tmp_path / "model.ts", device="cpu"), 16, 16)


def test_an_output_without_its_batch_axis_is_named_as_such():
    adapter = ModelAdapter(DropsBatchAxis(), device="cpu")
    with pytest.raises(ModelOutputError, match=r"shape \(2, 8, 8\) for a batch of 1"):
        adapter.output_grid(8, 8)


def test_an_output_of_another_batch_size_is_an_error_not_a_crash():
    adapter = ModelAdapter(FirstItemOnly(), device="cpu")
    adapter.output_grid(8, 8)  # a batch of one cannot tell
    with pytest.raises(ModelOutputError, match="returned 1 outputs for a batch of 2"):
        adapter.logits(torch.zeros(2, 1, 8, 8))


@pytest.mark.parametrize("size", [(255, 257), (569, 428), (16, 16)])
def test_the_demo_unet_takes_any_image_size(tmp_path, size):
    torch.manual_seed(0)
    network = PaddedUNet(in_channels=3, num_classes=2, widths=(4, 8, 16, 32, 64))
    torch.save(network.state_dict(), tmp_path / "unet.pt")
    (tmp_path / "unet.json").write_text(json.dumps({
        "architecture": "padded_unet", "architecture_args": {"in_channels": 3, "widths": [4, 8, 16, 32, 64]},
    }))
    loaded = load_model(tmp_path / "unet.pt", device="cpu")
    assert loaded.adapter.spec.size_multiple == 16
    height, width = size
    check_model_fits(loaded, height, width)
    assert loaded.adapter.output_grid(height, width).covers(height, width)
    image = np.random.default_rng(0).uniform(0.2, 0.8, (height, width, 3)).astype(np.float32)
    target = np.zeros((height, width), np.int64)
    target[height // 4 : height // 2, width // 4 : width // 2] = 1
    result = run_attack(loaded.adapter, image, target, create_attack("asma", iterations=2))
    assert result.iterations_run == 2 and result.adversarial.shape == image.shape
    assert np.isfinite(result.final["iou"])


def test_a_sidecar_can_ask_for_a_size_multiple(tmp_path):
    class NeedsEvenSides(Wrapped):
        def forward(self, x):
            if x.shape[-1] % 2 or x.shape[-2] % 2:
                raise RuntimeError("Sizes of tensors must match")
            return self.inner(x)

    save_scripted(NeedsEvenSides(), tmp_path / "even.ts")
    with pytest.raises(SegAttackError, match="fails on a 9x7 image"):
        check_model_fits(load_model(tmp_path / "even.ts", device="cpu"), 9, 7)
    (tmp_path / "even.json").write_text(json.dumps({"size_multiple": 2}))
    loaded = load_model(tmp_path / "even.ts", device="cpu")
    check_model_fits(loaded, 9, 7)
    assert loaded.adapter.logits(torch.rand(1, 1, 9, 7)).shape == (1, 2, 9, 7)
    (tmp_path / "even.json").write_text(json.dumps({"size_multiple": 0}))
    with pytest.raises(SegAttackError, match="size_multiple"):
        load_model(tmp_path / "even.ts", device="cpu")


def test_without_a_sidecar_the_classes_are_counted(tmp_path):
    save_scripted(ThreeClasses(), tmp_path / "three.ts")
    loaded = load_model(tmp_path / "three.ts", device="cpu")
    assert loaded.adapter.class_names == ("background", "class 1", "class 2")
    check_model_fits(loaded, 8, 8)
    (tmp_path / "three.json").write_text(json.dumps({"classes": ["a", "b"]}))  # named: a mismatch is an error
    with pytest.raises(SegAttackError, match="outputs 3 classes but the sidecar names 2"):
        check_model_fits(load_model(tmp_path / "three.ts", device="cpu"), 8, 8)


def test_a_numpy_file_is_not_mistaken_for_a_pickled_model(tmp_path):
    path = tmp_path / "weights.pt"
    with path.open("wb") as handle:
        np.save(handle, np.zeros(3))
    with pytest.raises(SegAttackError, match="NumPy array"):
        load_model(path, device="cpu")


def test_an_unknown_device_is_a_plain_error():
    with pytest.raises(ValueError, match="unknown device 'foo'"):
        resolve_device("foo")


def test_classes_that_could_not_be_counted_are_asked_for(tmp_path):
    class OnlyTwelve(nn.Module):  # refuses the 256 x 256 counting input
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 3, kernel_size=1)

        def forward(self, x):
            if x.shape[-1] != 12:
                raise RuntimeError("this model takes 12 pixels wide images only")
            return self.conv(x)

    save_scripted(OnlyTwelve(), tmp_path / "twelve.ts")
    loaded = load_model(tmp_path / "twelve.ts", device="cpu")
    with pytest.raises(SegAttackError, match=r"outputs 3 classes; name them in a sidecar"):
        check_model_fits(loaded, 12, 12)
