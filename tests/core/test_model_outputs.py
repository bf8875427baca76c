"""Outputs as libraries return them: keys, indices, deep supervision, probabilities, 1/4 logits."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segattack_gui.core.models import ModelAdapter, ModelOutputError, ModelSpec
from segattack_gui.core.outputs import alignment_rule

from .tiny_models import ThresholdModel


class Wrapped(nn.Module):
    """ThresholdModel's logits in a wrapper chosen by ``shape``."""

    def __init__(self, shape: str):
        super().__init__()
        self.inner = ThresholdModel()
        self.shape = shape

    def forward(self, x):
        logits = self.inner(x[:, :1])
        half = F.avg_pool2d(logits, 2)
        if self.shape == "hf":
            return {"logits": logits, "hidden": None}
        if self.shape == "two":
            return {"logits": logits, "aux": half}
        if self.shape == "deep_last":  # deep supervision with the full resolution last
            return [F.avg_pool2d(logits, 4), half, logits]
        if self.shape == "mixed":
            return (logits, x[:, :3])
        if self.shape == "softmax":
            return logits.softmax(1)
        raise AssertionError


def _image():
    torch.manual_seed(0)
    return torch.rand(1, 1, 8, 12)


def test_the_only_tensor_of_a_dict_and_a_named_key():
    image = _image()
    expected = ThresholdModel()(image)
    assert torch.allclose(ModelAdapter(Wrapped("hf"), ModelSpec()).logits(image), expected)
    with pytest.raises(ModelOutputError, match='"output_key"'):
        ModelAdapter(Wrapped("two"), ModelSpec()).logits(image)
    named = ModelAdapter(Wrapped("two"), ModelSpec(output_key="logits"))
    assert torch.allclose(named.logits(image), expected)
    with pytest.raises(ModelOutputError, match='no key "nope"'):
        ModelAdapter(Wrapped("two"), ModelSpec(output_key="nope")).logits(image)


def test_a_deep_supervision_list_gives_its_highest_resolution_member_wherever_it_sits():
    image = _image()
    adapter = ModelAdapter(Wrapped("deep_last"), ModelSpec())
    assert adapter.output_grid(8, 12).covers(8, 12)
    assert torch.allclose(adapter.logits(image), ThresholdModel()(image))
    assert "same size" in adapter.output_rule(8, 12)


def test_an_ambiguous_tuple_names_output_index_which_settles_it():
    image = _image().expand(-1, 3, -1, -1)
    with pytest.raises(ModelOutputError, match='"output_index"'):
        ModelAdapter(Wrapped("mixed"), ModelSpec(in_channels=3)).logits(image)
    chosen = ModelAdapter(Wrapped("mixed"), ModelSpec(in_channels=3, output_index=(0,)))
    assert torch.allclose(chosen.logits(image), ThresholdModel()(image[:, :1]))


def test_probabilities_are_attacked_through_their_logarithm():
    image = _image().requires_grad_(True)
    adapter = ModelAdapter(Wrapped("softmax"), ModelSpec(output="probabilities"))
    logits = adapter.logits(image)
    reference = ThresholdModel()(image)
    assert torch.allclose(logits.softmax(1), reference.softmax(1), atol=1e-6)
    # log-probabilities differ from the logits by a per-pixel constant only: the same cross-entropy gradient
    loss = F.cross_entropy(logits, torch.ones(1, 8, 12, dtype=torch.long))
    (gradient,) = torch.autograd.grad(loss, image)
    expected_loss = F.cross_entropy(reference, torch.ones(1, 8, 12, dtype=torch.long))
    (expected,) = torch.autograd.grad(expected_loss, image)
    assert torch.allclose(gradient, expected, atol=1e-6)


class QuarterLogits(nn.Module):
    """SegFormer-style: logits at 1/4 of the input's sides."""

    def __init__(self):
        super().__init__()
        self.inner = ThresholdModel()

    def forward(self, x):
        return self.inner(F.avg_pool2d(x, 4))


def test_logits_a_whole_factor_smaller_are_upsampled_bilinearly_to_the_image():
    image = torch.rand(1, 1, 32, 48)
    adapter = ModelAdapter(QuarterLogits(), ModelSpec())
    assert adapter.output_grid(32, 48).covers(32, 48)
    expected = F.interpolate(QuarterLogits()(image), size=(32, 48), mode="bilinear", align_corners=False)
    assert torch.allclose(adapter.logits(image), expected, atol=1e-6)
    assert "upsample" in adapter.output_rule(32, 48) and "x4" in adapter.output_rule(32, 48)


def test_an_image_the_factor_does_not_divide_is_refused_naming_size_multiple_which_fixes_it():
    with pytest.raises(ModelOutputError, match='"size_multiple"'):
        ModelAdapter(QuarterLogits(), ModelSpec()).output_grid(30, 46)
    padded = ModelAdapter(QuarterLogits(), ModelSpec(size_multiple=4))
    grid = padded.output_grid(30, 46)
    assert (grid.top, grid.left, grid.height, grid.width) == (0, 0, 30, 46)
    assert padded.logits(torch.rand(1, 1, 30, 46)).shape == (1, 2, 30, 46)


def test_the_alignment_rules_against_hand_computed_cases():
    assert alignment_rule((572, 572), (388, 388)).rule == "centre crop"  # the paper's U-Net
    assert alignment_rule((220, 220), (36, 36)).rule == "centre crop"  # a valid U-Net on a small input
    assert alignment_rule((512, 512), (128, 128)).factor == 4
    assert alignment_rule((64, 96), (32, 48)).factor == 2
    with pytest.raises(ModelOutputError):
        alignment_rule((250, 250), (63, 63))  # ceil(250 / 4): neither rule; ambiguous
    with pytest.raises(ModelOutputError):
        alignment_rule((64, 96), (32, 32))  # different factors per axis
    assert alignment_rule((250, 250), (63, 63), forced="upsample").rule == "upsample"
    assert alignment_rule((11, 11), (8, 8), forced="crop").rule == "centre crop"
