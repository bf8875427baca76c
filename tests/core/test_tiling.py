"""The "tile" input policy: overlap-tile stitching checked against whole-image runs (docs/design.md, Models)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segattack_gui.core import tiling
from segattack_gui.core.architectures import ValidUNet
from segattack_gui.core.models import ModelAdapter, ModelSpec, OutputGrid
from segattack_gui.errors import SegAttackError
from segattack_gui.io.model_files import _spec_from_dict

from .tiny_models import ThresholdModel, ValidThresholdModel


def conv_stack(padding: int, layers: int = 3, seed: int = 0) -> nn.Sequential:
    """``layers`` seeded 3x3 convolutions with tanh between (no dead units): receptive radius ``layers``."""
    torch.manual_seed(seed)
    modules: list[nn.Module] = []
    for index in range(layers):
        last = index == layers - 1
        modules.append(nn.Conv2d(1 if index == 0 else 4, 2 if last else 4, 3, padding=padding))
        if not last:
            modules.append(nn.Tanh())
    return nn.Sequential(*modules)


def tiled(model, window, **spec) -> ModelAdapter:
    return ModelAdapter(model, ModelSpec(input_size=window, input_policy="tile", **spec))


def whole_image(model) -> ModelAdapter:
    return ModelAdapter(model, ModelSpec())


def replicate(image: torch.Tensor, border: int) -> torch.Tensor:
    return F.pad(image, (border,) * 4, mode="replicate")


# --- the layout --------------------------------------------------------------------------------


WINDOW_AND_TRIM = [(window, trim) for window in (1, 2, 5, 8, 16, 23, 572) for trim in (0, 1, 2, 92)
                   if window > 2 * trim]


@pytest.mark.parametrize(("window", "trim"), WINDOW_AND_TRIM)
def test_axis_tiles_cover_the_image_with_context_on_every_side(window, trim):
    output = window - 2 * trim
    for length in sorted({1, 2, max(1, window - 1), window, window + 1, 3 * window + 7}):
        axis = tiling.axis_tiles(length, window, output)
        assert axis.core >= 1 and axis.pad_before >= 0 and axis.pad_after >= 0
        assert axis.core * axis.count >= length > axis.core * (axis.count - 1)  # covered, no spare window
        assert axis.pad_before + length + axis.pad_after == (axis.count - 1) * axis.core + window
        context = axis.pad_before  # window pixels before a core's first pixel
        assert context >= window // 8 and window - context - axis.core >= window // 8
        if trim * 8 >= window:  # valid convolutions already leave the context: stride = output, as in the paper
            assert (axis.core_start, axis.core) == (0, output)


def test_paper_unet_tiles_at_its_output_size():
    layout = tiling.tile_layout(1024, 768, (572, 572), (388, 388))
    assert (layout.rows.core, layout.rows.count, layout.columns.count) == (388, 3, 2)
    assert layout.padding == (92, 388 + 572 - 92 - 768, 92, 2 * 388 + 572 - 92 - 1024)


def test_image_within_the_window_gets_exactly_the_pad_placement():
    for model, window, size in [
        (lambda: ValidThresholdModel(border=92), (572, 572), (569, 428)),
        (lambda: ValidThresholdModel(border=2), (16, 20), (16, 20)),
        (ThresholdModel, (16, 20), (9, 20)),
    ]:
        padded = ModelAdapter(model(), ModelSpec(input_size=window, input_policy="pad"))
        tile = tiled(model(), window)
        assert tile._placement(*size) == padded._placement(*size)
        assert tile._placement(*size).tiles is None
        image = torch.rand(1, 1, *size)
        assert torch.equal(tile.logits(image), padded.logits(image))


@pytest.mark.parametrize("size", [(17, 21), (16, 21), (40, 9), (100, 73)])
def test_output_grid_is_the_whole_image_and_the_logits_fill_it(size):
    adapter = tiled(ValidThresholdModel(border=2), (16, 20))
    assert adapter.output_grid(*size) == OutputGrid(0, 0, *size)
    image = torch.rand(1, 1, *size)
    logits = adapter.logits(image)
    assert logits.shape == (1, 2, *size)
    # a 1x1 model trimmed by 2: every image pixel gets exactly its own logits, borders included
    assert torch.allclose(logits, whole_image(ThresholdModel()).logits(image))


# --- equivalence with a whole-image run -------------------------------------------------------------


def test_same_size_net_is_exact_where_its_receptive_field_fits_the_margin():
    """Window 24: margin 24 // 8 = 3 = the stack's receptive radius, so only the image border differs."""
    model = conv_stack(padding=1)
    image = torch.rand(1, 1, 70, 53)
    direct = whole_image(model).logits(image)
    logits = tiled(model, (24, 24)).logits(image)
    assert logits.shape == direct.shape
    assert torch.allclose(logits[..., 3:-3, 3:-3], direct[..., 3:-3, 3:-3], atol=1e-6)
    # the border sees replicated pixels instead of the model's zero padding: the direct run on the replicated image
    assert torch.allclose(logits, whole_image(model).logits(replicate(image, 3))[..., 3:-3, 3:-3], atol=1e-6)
    # a window of 16 keeps a margin of only 2 < 3: the seams show, so the check above can fail
    seamed = tiled(model, (16, 16)).logits(image)
    assert not torch.allclose(seamed[..., 3:-3, 3:-3], direct[..., 3:-3, 3:-3], atol=1e-4)


def test_valid_convolutions_are_exact_wherever_the_whole_image_run_predicts():
    model = conv_stack(padding=0)  # three unpadded 3x3 convolutions: the output is trimmed by 3
    image = torch.rand(1, 1, 61, 47)
    direct = whole_image(model).logits(image)
    assert direct.shape[-2:] == (55, 41)
    logits = tiled(model, (20, 18)).logits(image)
    assert logits.shape[-2:] == (61, 47)
    assert torch.allclose(logits[..., 3:-3, 3:-3], direct, atol=1e-6)
    assert torch.allclose(logits, whole_image(model).logits(replicate(image, 3)), atol=1e-6)


def test_valid_unet_tiles_match_their_windows_and_the_whole_image_run_on_its_pooling_grid():
    """ValidUNet (4 poolings) is shift-equivariant only by multiples of 16; its output for a 220 window is 36.

    Every stitched core must be the model's output for its own window of the replicated image; and the
    windows that start on the whole-image run's pooling grid (every fourth: 4 * 36 = 9 * 16) must match
    that run exactly.
    """
    torch.manual_seed(0)
    model = ValidUNet(in_channels=1, widths=(4, 4, 8, 8, 8)).eval()
    image = torch.rand(1, 1, 180, 230)
    logits = tiled(model, (220, 220)).logits(image)
    assert logits.shape == (1, 2, 180, 230)
    assert logits.std() > 0
    padded = F.pad(image, (92, 300, 92, 300), mode="replicate")  # window (i, j) starts at (36 i, 36 j)
    with torch.no_grad():
        for top, left in [(0, 0), (1, 2), (4, 4), (4, 5)]:
            y, x = top * 36, left * 36
            window_output = model(padded[..., y : y + 220, x : x + 220])
            core = logits[..., y : y + 36, x : x + 36]
            assert torch.allclose(core, window_output[..., : core.shape[-2], : core.shape[-1]], atol=1e-5)
        direct = model(padded[..., : 4 * 36 + 220, : 4 * 36 + 220])  # output pixel i is image pixel i
    for y in (0, 144):
        for x in (0, 144):
            assert torch.allclose(logits[..., y : y + 36, x : x + 36], direct[..., y : y + 36, x : x + 36], atol=1e-5)


# --- gradients, batches, chunks -----------------------------------------------------------------


@pytest.mark.parametrize("padding", [0, 1])
def test_input_gradient_through_the_stitching_equals_the_whole_image_gradient(padding):
    model = conv_stack(padding=padding)
    image = torch.rand(1, 1, 50, 45)
    weights = torch.randn(1, 2, 50, 45)

    def gradient(logits_of):
        x = image.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad((logits_of(x) * weights).sum(), x)
        return grad

    def direct(x):  # the whole-image run on the replicated image, cropped back to the image when it keeps the size
        logits = whole_image(model).logits(replicate(x, 3))
        return logits[..., 3:-3, 3:-3] if padding else logits

    tiled_gradient = gradient(tiled(model, (24, 24)).logits)
    direct_gradient = gradient(direct)
    assert (tiled_gradient != 0).all()  # every pixel of every tile
    assert torch.allclose(tiled_gradient, direct_gradient, atol=1e-5)


def test_valid_unet_gradient_reaches_every_tile():
    torch.manual_seed(1)
    adapter = tiled(ValidUNet(in_channels=1, widths=(4, 4, 8, 8, 8)), (220, 220))
    image = torch.rand(1, 1, 230, 80, requires_grad=True)
    (grad,) = torch.autograd.grad(adapter.logits(image)[:, 1].sum(), image)
    layout = adapter._placement(230, 80).tiles
    assert (layout.rows.count, layout.columns.count) == (7, 3)
    for y in range(0, 230, 36):
        for x in range(0, 80, 36):
            assert grad[..., y : y + 36, x : x + 36].abs().sum() > 0


class CountingModel(nn.Module):
    """Records the batch size of every forward call."""

    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner
        self.batches: list[int] = []

    def forward(self, x):
        self.batches.append(x.shape[0])
        return self.inner(x)


def test_a_batch_runs_all_windows_together_in_chunks_and_equals_one_image_at_a_time(monkeypatch):
    monkeypatch.setattr(tiling, "MAX_WINDOW_PIXELS_PER_FORWARD", 5 * 20 * 18)  # five windows per forward
    model = CountingModel(conv_stack(padding=0))
    adapter = tiled(model, (20, 18))
    images = torch.rand(2, 1, 61, 47)
    layout = adapter._placement(61, 47).tiles
    assert layout.count == 5 * 4
    model.batches.clear()
    together = adapter.logits(images)
    assert model.batches == [5] * 8  # 2 images x 20 windows
    apart = torch.cat([adapter.logits(images[:1]), adapter.logits(images[1:])])
    assert torch.allclose(together, apart, atol=1e-6)


def test_rgb_model_with_normalisation_tiles_every_image_of_a_batch():
    torch.manual_seed(2)
    model = nn.Conv2d(3, 3, 1)
    spec = {"classes": ("a", "b", "c"), "mean": (0.4, 0.5, 0.6), "std": (0.2, 0.3, 0.25)}
    images = torch.rand(3, 3, 33, 29)
    direct = ModelAdapter(model, ModelSpec(**spec)).logits(images)
    assert torch.allclose(tiled(model, (8, 8), **spec).logits(images), direct, atol=1e-6)


# --- the sidecar ---------------------------------------------------------------------------------


def test_sidecar_accepts_tile_and_lists_the_three_policies():
    assert _spec_from_dict({"input_size": [8, 8], "input_policy": "tile"}, "MODEL.json").input_policy == "tile"
    with pytest.raises(SegAttackError, match='"input_policy" must be "pad", "resize" or "tile"'):
        _spec_from_dict({"input_policy": "tiles"}, "MODEL.json")
