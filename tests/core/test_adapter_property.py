"""Whatever the sidecar, the image and the model, the io boundary answers SegAttackError or works.

Random sidecar dicts (known keys with values of every JSON type, unknown keys) go through
``read_sidecar``/``_spec_from_dict``; random images (1..64 px, 1-4 channels, several dtypes,
NaN and inf included) and a zoo of small models (good ones, and ones whose output or
channels do not fit) go through the adapter, ``check_channels`` and ``check_model_fits``.
The property: a SegAttackError, or every later step (logits, prediction, a short attack)
works. Any other exception is a bug.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import nn

from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter
from segattack_gui.core.runner import run_attack
from segattack_gui.errors import SegAttackError
from segattack_gui.io.images import LoadedImage
from segattack_gui.io.inputs import check_channels
from segattack_gui.io.model_files import LoadedModel, _spec_from_dict, read_sidecar

from .tiny_models import ThresholdModel, ValidThresholdModel

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- a zoo of models ----------------------------------------------------------------------------


class Conv(nn.Module):
    """``in_channels`` -> ``classes`` with a k x k convolution (valid when ``padding`` is 0)."""

    def __init__(self, in_channels=3, classes=2, kernel=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, classes, kernel, padding=padding)

    def forward(self, x):
        return self.conv(x)


class DictOut(Conv):
    def forward(self, x):
        return {"out": self.conv(x)}


class OneLogit(nn.Module):
    def forward(self, x):
        return x.mean(1, keepdim=True) - 0.5


class Downsampled(Conv):
    def forward(self, x):
        return nn.functional.avg_pool2d(self.conv(x), 2)


class Upsampled(Conv):
    def forward(self, x):
        return nn.functional.interpolate(self.conv(x), scale_factor=2.0)


class Scalar(nn.Module):
    def forward(self, x):
        return x.mean()


class NotATensor(nn.Module):
    def forward(self, x):
        return [x.shape[0]]


class EvenSizesOnly(Conv):
    """A user's model with its own size rule (U-Nets often have one) and its own exception type."""

    def forward(self, x):
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise ValueError(f"expected even sizes, got {tuple(x.shape[-2:])}")
        return self.conv(x)


MODELS = {
    "threshold": ThresholdModel,
    "valid2": lambda: ValidThresholdModel(border=2),
    "rgb": lambda: Conv(3),
    "rgba": lambda: Conv(4),
    "two_channel": lambda: Conv(2),
    "valid3x3": lambda: Conv(3, kernel=3),
    "three_classes": lambda: Conv(3, classes=3),
    "one_logit": OneLogit,
    "dict": lambda: DictOut(1),
    "down": lambda: Downsampled(3),
    "up": lambda: Upsampled(3),
    "scalar": Scalar,
    "list": NotATensor,
    "even_only": lambda: EvenSizesOnly(3),
    "scripted": lambda: torch.jit.script(Conv(1, kernel=3, padding=1)),
}


# --- random sidecars ----------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)

CLASS_LISTS = [["bg", "fg"], ["bg", "fg", "cup"], ["a", "b", "c", "d"]]

valid_values = {
    "classes": st.sampled_from(CLASS_LISTS),
    "mean": st.lists(st.floats(0, 1), min_size=1, max_size=4),
    "std": st.lists(st.floats(0.05, 2), min_size=1, max_size=4),
    "input_size": st.lists(st.integers(1, 80), min_size=2, max_size=2),
    "input_policy": st.sampled_from(["pad", "resize", "tile"]),
    "output": st.sampled_from(["logits", "sigmoid"]),
    "in_channels": st.integers(1, 4),
    "architecture": st.sampled_from(["unet", "padded_unet"]),
    "architecture_args": st.dictionaries(st.sampled_from(["widths", "depth"]), json_scalars, max_size=2),
    "description": st.text(max_size=10),
}

wrong_values = {  # values a hurried user (or a broken tool) writes
    "classes": st.sampled_from([[], ["only"], "bg,fg", [1, 2], ["x"] * 300, None]),
    "colors": st.lists(st.lists(st.integers(-5, 300), min_size=2, max_size=4), max_size=4),
    "mean": st.sampled_from([[], [True], ["0.5"], 0.5, [None]]),
    "std": st.sampled_from([[0.0], [-1.0], [1e-300], [1e-300, 1e-300, 1e-300]]),
    "input_size": st.sampled_from([[0, 8], [-3, 8], [8], [8, 8, 8], [10**6, 10**6], [True, 8], [8.5, 8], "8x8"]),
    "input_policy": st.sampled_from(["tiles", "PAD", None, ["pad"]]),
    "output": st.sampled_from(["softmax", None, 1]),
    "in_channels": st.sampled_from([0, -1, True, 2.5, "3"]),
    "architecture": st.sampled_from(["resnet", ["unet"], {"name": "unet"}, 3]),
    "architecture_args": st.sampled_from([[], "widths=4", None]),
    "description": st.sampled_from([None, 3, ["x"]]),
}


@st.composite
def sidecars(draw) -> dict:
    """Mostly valid sidecars (so most examples reach the model), some keys wrong, some unknown keys."""
    sidecar = {key: draw(strategy) for key, strategy in valid_values.items() if draw(st.integers(0, 2)) == 0}
    if "classes" in sidecar and draw(st.booleans()):
        sidecar["colors"] = [draw(st.lists(st.integers(0, 255), min_size=3, max_size=3)) for _ in sidecar["classes"]]
    for key in draw(st.lists(st.sampled_from(sorted(wrong_values)), max_size=2, unique=True)):
        sidecar[key] = draw(st.one_of(wrong_values[key], json_values))
    sidecar.update(draw(st.dictionaries(st.text(max_size=6), json_values, max_size=2)))
    return sidecar


@st.composite
def images(draw) -> np.ndarray:
    height, width = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    channels = draw(st.sampled_from([1, 3, 4, 2]))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.uint8, np.uint16, np.bool_]))
    fill = draw(st.sampled_from(["uniform", "elements"]))
    if fill == "uniform":  # cheap for large images
        seed = draw(st.integers(0, 2**32 - 1))
        values = np.random.default_rng(seed).uniform(0, 1, (height, width, channels))
        return values.astype(dtype) if dtype != np.bool_ else values > 0.5
    elements = st.floats(width=32, allow_nan=True, allow_infinity=True) if np.dtype(dtype).kind == "f" else None
    return draw(arrays(dtype, (height, width, channels), elements=elements))


# --- the property -------------------------------------------------------------------------------


def through_the_boundary(spec_source, model_name: str, pixels: np.ndarray):
    """Everything the CLI and the GUI do before an attack; returns the adapter, or raises SegAttackError."""
    spec = spec_source()
    adapter = ModelAdapter(MODELS[model_name](), spec)
    loaded = LoadedModel(adapter, Path("model.pt"), "0" * 64, "pickle", None)
    image = LoadedImage(pixels, Path("image.png"), "as given", str(pixels.dtype), pixels.shape)
    check_channels(loaded, image)
    from segattack_gui.io.model_files import check_model_fits

    check_model_fits(loaded, *pixels.shape[:2])
    return adapter


def assert_works_or_says_why(spec_source, model_name, pixels):
    try:
        adapter = through_the_boundary(spec_source, model_name, pixels)
    except SegAttackError as error:
        assert error.problem and "\n" not in error.one_line()
        return
    height, width = pixels.shape[:2]
    grid = adapter.output_grid(height, width)
    assert 0 <= grid.top and grid.top + grid.height <= height and 0 <= grid.left and grid.left + grid.width <= width
    logits = adapter.logits(adapter.to_device(pixels))
    assert logits.shape == (1, adapter.num_classes, grid.height, grid.width) and logits.dtype == torch.float32
    prediction = adapter.predict(adapter.to_device(pixels))
    assert prediction.shape == (1, grid.height, grid.width)
    target = np.zeros((height, width), int)
    target[: height // 2] = adapter.num_classes - 1
    image = np.clip(np.nan_to_num(pixels.astype(np.float32), nan=0.5), 0, 1)  # the readers' contract
    result = run_attack(adapter, image, target, create_attack("asma", iterations=2, tau=1e-3))
    assert result.iterations_run <= 2 and result.adversarial.shape == image.shape


@SETTINGS
@given(sidecar=sidecars(), model_name=st.sampled_from(sorted(MODELS)), pixels=images())
def test_random_sidecar_model_and_image(sidecar, model_name, pixels):
    assert_works_or_says_why(lambda: _spec_from_dict(dict(sidecar), "MODEL.json"), model_name, pixels)


@SETTINGS
@given(sidecar=sidecars(), overrides=st.dictionaries(st.sampled_from(sorted(valid_values)), json_values, max_size=2))
def test_random_sidecar_files(tmp_path_factory, sidecar, overrides):
    path = tmp_path_factory.mktemp("sidecar") / "MODEL.json"
    path.write_text(json.dumps(sidecar), encoding="utf-8")
    try:
        spec = read_sidecar(path, overrides)
    except SegAttackError as error:
        assert error.source == str(path)
        return
    assert len(spec.classes) >= 2 and spec.input_policy in ("pad", "resize", "tile")


@pytest.mark.parametrize("text", ["[" * 100_000, "{\"classes\": NaN}", "\ufeff{}", "null", "{\"mean\": [1e999]}", ""])
def test_hostile_sidecar_texts(tmp_path, text):
    path = tmp_path / "MODEL.json"
    path.write_text(text, encoding="utf-8")
    try:
        read_sidecar(path)
    except SegAttackError as error:
        assert error.source == str(path)


def test_in_channels_of_torchscript_models_are_found():
    """A scripted 1-channel model probed with 3 channels failed before; the probe now knows its input."""
    scripted = torch.jit.script(ThresholdModel())
    adapter = ModelAdapter(scripted, _spec_from_dict({}, "MODEL.json"))
    assert adapter.expected_channels(3) == 1
    assert adapter.output_grid(5, 6).height == 5
