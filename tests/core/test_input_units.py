"""Sidecar ``input_units``: a "raw" model is fed the image's own values (then window, mean, std)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.errors import SegAttackError
from segattack_gui.io.model_files import read_sidecar


class Echo(nn.Module):
    """Returns its input as the one logit channel, so the adapter's feed can be read off."""

    def forward(self, x):
        return x


def fed_values(spec: ModelSpec, image: np.ndarray, input_range=(0.0, 1.0)) -> np.ndarray:
    adapter = ModelAdapter(Echo(), spec)
    adapter.input_range = input_range
    placement = adapter._placement(*image.shape[:2])
    with torch.no_grad():
        return adapter._prepare(adapter.to_device(image), placement)[0, 0].numpy()


def test_raw_units_window_and_normalisation_on_raw_values():
    image = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)[..., None]
    hu_range = (-1024.0, 3071.0)  # a 12-bit CT after its modality LUT
    raw = -1024.0 + image[..., 0].astype(np.float64) * 4095.0
    unit = ModelSpec(classes=("a", "b"), output="sigmoid", in_channels=1, mean=(0.5,), std=(0.25,))
    np.testing.assert_allclose(fed_values(unit, image, hu_range), (image[..., 0] - 0.5) / 0.25, rtol=1e-6)
    plain = ModelSpec(classes=("a", "b"), output="sigmoid", in_channels=1, input_units="raw")
    np.testing.assert_allclose(fed_values(plain, image, hu_range), raw, rtol=1e-6)
    windowed = ModelSpec(classes=("a", "b"), output="sigmoid", in_channels=1, input_units="raw", window=(-100.0, 300.0),
                         mean=(40.0,), std=(80.0,))
    expected = (np.clip(raw, -100.0, 300.0) - 40.0) / 80.0
    np.testing.assert_allclose(fed_values(windowed, image, hu_range), expected, rtol=1e-6)


def test_sidecar_input_units_are_checked(tmp_path):
    sidecar = tmp_path / "m.json"
    sidecar.write_text(json.dumps({"input_units": "raw", "window": [-160, 240], "mean": [40], "std": [80]}))
    spec = read_sidecar(sidecar)
    assert spec.input_units == "raw" and spec.window == (-160.0, 240.0)
    for bad, problem in (({"input_units": "HU"}, '"input_units" must be'),
                         ({"input_units": "raw", "window": [5, 1]}, '"window" must be'),
                         ({"window": [0, 1]}, '"window" applies to raw values')):
        sidecar.write_text(json.dumps(bad))
        with pytest.raises(SegAttackError, match=problem):
            read_sidecar(sidecar)


def test_a_set_fed_to_a_raw_model_shares_one_value_range(tmp_path):
    from types import SimpleNamespace

    from PIL import Image

    from segattack_gui.io.images import read_image
    from segattack_gui.io.inputs import feed_shared_units

    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(np.full((4, 4), 700, np.uint16)).save(tmp_path / "c.png")
    adapter = ModelAdapter(Echo(), ModelSpec(classes=("a", "b"), output="sigmoid", in_channels=1, input_units="raw"))
    model = SimpleNamespace(adapter=adapter)
    feed_shared_units(model, [read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png")])
    assert adapter.input_range == (0.0, 255.0)
    with pytest.raises(SegAttackError, match="one value range") as caught:
        feed_shared_units(model, [read_image(tmp_path / "a.png"), read_image(tmp_path / "c.png")])
    assert caught.value.source.endswith("c.png")
