"""The adapter's contract: output formats, normalisation, channels and the output grid (docs/design.md, Models)."""

import numpy as np
import pytest
import torch
from torch import nn

from segattack_gui.core.architectures import ValidUNet
from segattack_gui.core.models import ModelAdapter, ModelOutputError, ModelSpec

from .tiny_models import ThresholdModel, ValidThresholdModel


class DictOutput(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = ThresholdModel()

    def forward(self, x):
        return {"out": self.inner(x), "aux": None}


class OneLogit(nn.Module):
    def forward(self, x):
        return x[:, :1] - 0.5


def test_paper_unet_output_grid_is_centred():
    adapter = ModelAdapter(ValidUNet(), ModelSpec(input_size=(572, 572)))
    grid = adapter.output_grid(572, 572)
    assert (grid.top, grid.left, grid.height, grid.width) == (92, 92, 388, 388)


def test_pad_policy_maps_output_grid_into_the_image():
    # RIM-ONE images are 569 x 428; padded to 572 the 388 output starts 92 - 1 rows and 92 - 72 columns in.
    adapter = ModelAdapter(ValidThresholdModel(border=92), ModelSpec(input_size=(572, 572)))
    grid = adapter.output_grid(569, 428)
    assert (grid.top, grid.left, grid.height, grid.width) == (91, 20, 388, 388)
    logits = adapter.logits(torch.rand(1, 1, 569, 428))
    assert logits.shape == (1, 2, 388, 388)


def test_valid_model_without_input_size_crops_target_centrally():
    adapter = ModelAdapter(ValidThresholdModel(border=2), ModelSpec())
    image = torch.zeros(1, 1, 10, 12)
    image[..., 5, 6] = 1.0
    grid = adapter.output_grid(10, 12)
    assert (grid.top, grid.left, grid.height, grid.width) == (2, 2, 6, 8)
    prediction = adapter.predict(image)[0].numpy()
    expected = grid.crop((image[0, 0] > 0.5).long().numpy())
    np.testing.assert_array_equal(prediction, expected)


def test_dict_output_and_one_logit_sigmoid():
    image = torch.tensor([[[[0.2, 0.9]]]])
    assert ModelAdapter(DictOutput(), ModelSpec()).predict(image).tolist() == [[[0, 1]]]
    adapter = ModelAdapter(OneLogit(), ModelSpec(output="sigmoid"))
    logits = adapter.logits(image)
    assert logits.shape == (1, 2, 1, 2)
    # softmax of [-z/2, z/2] equals sigmoid(z)
    z = image[0, 0] - 0.5
    np.testing.assert_allclose(logits.softmax(1)[0, 1].numpy(), torch.sigmoid(z).numpy(), rtol=1e-6)


def test_normalisation_is_inside_the_adapter():
    class Identity(nn.Module):
        def forward(self, x):
            return torch.cat([torch.zeros_like(x[:, :1]), x[:, :1]], 1)

    adapter = ModelAdapter(Identity(), ModelSpec(mean=(0.5,), std=(0.25,), in_channels=1))
    logits = adapter.logits(torch.full((1, 1, 2, 2), 0.75))
    assert torch.allclose(logits[:, 1], torch.ones(1, 2, 2))


def test_grey_image_feeds_an_rgb_model():
    class Sum(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 2, 1)

        def forward(self, x):
            return self.conv(x)

    adapter = ModelAdapter(Sum(), ModelSpec())
    x = torch.rand(1, 1, 4, 4, requires_grad=True)
    adapter.logits(x).sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_misfits_are_clear():
    with pytest.raises(ModelOutputError, match='larger than the model input.*"input_policy": "tile"'):
        ModelAdapter(ThresholdModel(), ModelSpec(input_size=(8, 8))).output_grid(16, 16)
    with pytest.raises(ModelOutputError, match="classes"):
        ModelAdapter(ThresholdModel(), ModelSpec(classes=("a", "b", "c"))).output_grid(4, 4)


def test_resize_policy_returns_logits_on_the_image_grid():
    adapter = ModelAdapter(ThresholdModel(), ModelSpec(input_size=(16, 16), input_policy="resize"))
    grid = adapter.output_grid(40, 30)
    assert (grid.top, grid.left, grid.height, grid.width) == (0, 0, 40, 30)
    assert adapter.logits(torch.rand(1, 1, 40, 30)).shape == (1, 2, 40, 30)


def test_parameters_are_frozen():
    adapter = ModelAdapter(ThresholdModel(), ModelSpec())
    assert not any(p.requires_grad for p in adapter.model.parameters())
    assert not adapter.model.training


def test_an_exception_without_a_message_still_makes_one_line(tmp_path, monkeypatch):
    """Errors from code we do not own may carry no text; the line then names the exception's type."""
    import json

    from segattack_gui.errors import SegAttackError, first_line
    from segattack_gui.io import model_files

    assert first_line(RuntimeError("")) == "" and first_line(ValueError("\n  first\nsecond")) == "first"

    def refuse(*_arguments, **_keywords):
        raise RuntimeError("")

    torch.save({"weight": torch.zeros(1)}, tmp_path / "weights.pt")
    (tmp_path / "weights.json").write_text(json.dumps({"classes": ["a", "b"], "architecture": "padded_unet"}))
    monkeypatch.setattr(model_files, "build_architecture", refuse)
    with pytest.raises(SegAttackError, match=r"does not fit the 'padded_unet' architecture \(RuntimeError\)$"):
        model_files.load_model(tmp_path / "weights.pt", device="cpu")
