"""Wrap any segmentation network so attacks see one contract (docs/design.md, Models).

Attacks always work on images in [0, 1] of shape ``[B, C, H, W]`` on the *image grid*.
The :class:`ModelAdapter` owns everything between that image and the logits the
attack differentiates: channel mapping, normalisation, padding, resizing or tiling
(:mod:`.tiling`) to the model's input size, output format (dict, one-channel sigmoid),
and alignment of the output with the image. The result is logits ``[B, K, h, w]`` on
the *output grid*, a pixel-aligned box of the image (the whole image for same-size
models and for tiled images, a centred crop for valid-convolution models such as the
paper's U-Net).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .input_units import model_input_values
from .tiling import TileLayout, tile_layout, tiled_logits

Precision = Literal["fp32", "tf32", "bf16"]


class ModelOutputError(ValueError):
    """The model's output cannot be aligned with the image (wrong rank, too large, ...)."""


@dataclass(frozen=True)
class ModelSpec:
    """What the sidecar JSON says about a model; every field has a safe default."""

    classes: tuple[str, ...] = ("background", "foreground")
    classes_given: bool = True
    """False when no sidecar named the classes: ``load_model`` then counts the model's output channels."""
    colors: tuple[tuple[int, int, int], ...] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    input_size: tuple[int, int] | None = None
    input_policy: Literal["pad", "resize", "tile"] = "pad"
    size_multiple: int | None = None
    """Input sides must be multiples of this (a U-Net with k poolings: 2**k); images are padded up to it."""
    output: Literal["logits", "sigmoid"] = "logits"
    input_units: Literal["unit", "raw"] = "unit"
    """"unit": [0, 1] images (then mean/std); "raw": the image's own values, e.g. HU (see input_units.py)."""
    window: tuple[float, float] | None = None
    """With "raw": clip the raw values to [low, high] before mean/std."""
    in_channels: int | None = None
    architecture: str | None = None
    architecture_args: dict = field(default_factory=dict)
    description: str = ""

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class OutputGrid:
    """Where the model's output lies in the image: rows ``top:top+height``, columns ``left:left+width``."""

    top: int
    left: int
    height: int
    width: int

    def crop(self, image_grid_array):
        """Cut an image-grid array (``[..., H, W]``) down to the output grid."""
        return image_grid_array[..., self.top : self.top + self.height, self.left : self.left + self.width]

    def paste(self, output_grid_array, image_height: int, image_width: int, fill=0):
        """Place an output-grid array in an image-sized NumPy array, ``fill`` outside the grid."""
        import numpy as np

        canvas = np.full((image_height, image_width), fill, dtype=np.asarray(output_grid_array).dtype)
        self.crop(canvas)[...] = output_grid_array
        return canvas

    def covers(self, image_height: int, image_width: int) -> bool:
        return (self.top, self.left, self.height, self.width) == (0, 0, image_height, image_width)


@dataclass(frozen=True)
class _Placement:
    """How one image size travels through the model: input geometry and output crop."""

    grid: OutputGrid
    pad: tuple[int, int, int, int] | None  # left, right, top, bottom
    resize_to: tuple[int, int] | None
    logits_crop: tuple[int, int, int, int]  # top, left, height, width in the raw output
    logits_resize: tuple[int, int] | None
    tiles: TileLayout | None = None  # the "tile" policy on an image larger than the model input


class ModelAdapter:
    """A frozen model plus the pre- and post-processing its sidecar describes.

    Parameters never need gradients; only the input does. The adapter chooses the
    device, the precision (``fp32``, ``tf32`` or ``bf16`` autocast) and memory layout:
    ``channels_last`` holds the model's weights and every image tensor of an attack
    channels-last (callers ask where :func:`channels_last_pays`, as ``load_model`` does).
    """

    def __init__(
        self,
        model: nn.Module,
        spec: ModelSpec = ModelSpec(),
        device: str | torch.device = "cpu",
        precision: Precision = "fp32",
        channels_last: bool = False,
    ):
        self.spec = spec
        self.device = torch.device(device)
        self.precision = precision
        self.apply_backend_settings()
        self.channels_last = channels_last
        model = model.eval().to(self.device)
        set_requires_grad(model, False)
        if self.channels_last and not isinstance(model, torch.jit.ScriptModule):
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self._conv_channels = first_conv_channels(model)
        self._placements: dict[tuple[int, int], _Placement] = {}
        self._mean = self._channel_tensor(spec.mean)
        self._std = self._channel_tensor(spec.std)
        self.input_range: tuple[float, float] = (0.0, 1.0)
        """What [0, 1] stands for in the image's own values (set per image; used by "raw" models)."""

    # ------------------------------------------------------------------ public API
    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.spec.classes

    @property
    def memory_format(self) -> torch.memory_format:
        """The layout of the images this adapter feeds its model (see ``channels_last``)."""
        return torch.channels_last if self.channels_last else torch.contiguous_format

    def count_output_classes(self, height: int, width: int) -> int:
        """How many classes the model predicts on a ``height x width`` input (a one-channel output: two)."""
        probe = torch.zeros(1, self.expected_channels(3), height, width, device=self.device)
        with torch.no_grad():
            return max(2, self._raw_output(self._prepare(probe, _probe_placement(height, width))).shape[1])

    def output_grid(self, image_height: int, image_width: int) -> OutputGrid:
        return self._placement(image_height, image_width).grid

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Differentiable logits ``[B, K, h, w]`` (float32) on the output grid of ``images``."""
        placement = self._placement(images.shape[-2], images.shape[-1])
        model_input = self._prepare(images, placement)
        if placement.tiles is not None:
            return tiled_logits(self._run, model_input, placement.tiles)
        raw = self._run(model_input)
        top, left, height, width = placement.logits_crop
        logits = raw[..., top : top + height, left : left + width]
        if placement.logits_resize is not None:
            logits = F.interpolate(logits, size=placement.logits_resize, mode="bilinear", align_corners=False)
        return logits

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> torch.Tensor:
        """Class ids ``[B, h, w]`` on the output grid."""
        return class_ids(self.logits(images))

    def apply_backend_settings(self) -> None:
        """Set the process-wide cuDNN and TF32 switches this adapter's precision needs (CUDA only).

        They are global, so the runner calls this at the start of every attack: an adapter
        made earlier with another precision cannot leak its settings into this one's run.
        """
        if self.device.type != "cuda":
            return
        # fp32 means strict fp32; tf32 lets cuDNN and matmuls use TF32 tensor cores.
        torch.backends.cuda.matmul.allow_tf32 = self.precision == "tf32"
        torch.backends.cudnn.allow_tf32 = self.precision == "tf32"
        torch.backends.cudnn.benchmark = True  # attack shapes are fixed: pick the fastest kernels once

    def to_device(self, array) -> torch.Tensor:
        """An ``H x W x C`` float array in [0, 1] as a ``[1, C, H, W]`` float32 tensor on the device.

        In the adapter's memory layout, so the attack's image tensors, the model's input and
        the input gradient share one layout and no iteration converts between two.
        """
        tensor = torch.as_tensor(array, dtype=torch.float32)
        if tensor.ndim == 2:
            tensor = tensor[..., None]
        return tensor.permute(2, 0, 1).unsqueeze(0).to(self.device).contiguous(memory_format=self.memory_format)

    # ------------------------------------------------------------------ internals
    def _channel_tensor(self, values) -> torch.Tensor | None:
        if values is None:
            return None
        return torch.tensor(values, dtype=torch.float32, device=self.device).view(1, -1, 1, 1)

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return torch.autocast(device_type=self.device.type, enabled=False)

    def expected_channels(self, image_channels: int) -> int:
        """Input channels the model takes: sidecar, else normalisation vector, else first conv."""
        if self.spec.in_channels:
            return self.spec.in_channels
        if self._mean is not None:
            return self._mean.shape[1]
        return self._conv_channels or image_channels

    def _prepare(self, images: torch.Tensor, placement: _Placement) -> torch.Tensor:
        x = images
        wanted = self.expected_channels(x.shape[1])
        if x.shape[1] != wanted:
            if x.shape[1] == 1:
                x = x.expand(-1, wanted, -1, -1)
            elif x.shape[1] == 3 and wanted == 1:
                luminance = torch.tensor([0.299, 0.587, 0.114], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
                x = (x * luminance).sum(1, keepdim=True)
            else:
                raise ModelOutputError(f"the model expects {wanted} input channels, the image has {x.shape[1]}")
        x = model_input_values(x, self.spec.input_units, self.input_range, self.spec.window, self._mean, self._std)
        if placement.pad is not None and any(placement.pad):
            x = F.pad(x, placement.pad, mode="replicate")
        if placement.resize_to is not None:
            x = F.interpolate(x, size=placement.resize_to, mode="bilinear", align_corners=False)
        return x

    def _run(self, model_input: torch.Tensor) -> torch.Tensor:
        """The model on a prepared input: float32 logits ``[N, K, h', w']`` in the model's own geometry."""
        return self._standardise(self._raw_output(model_input)).float()

    def _raw_output(self, model_input: torch.Tensor) -> torch.Tensor:
        """The model's own output as ``[N, C, h', w']``, before its channels are read as classes."""
        model_input = model_input.contiguous(memory_format=self.memory_format)  # free when already so
        with self._autocast():
            return unwrap_output(self.model(model_input), len(model_input))

    def _standardise(self, output: torch.Tensor) -> torch.Tensor:
        """``[B, C, h', w']`` model outputs become ``[B, K, h', w']`` logits (one-channel sigmoid: two)."""
        if self.spec.output == "sigmoid" or output.shape[1] == 1:
            # One logit z becomes two-class logits [-z/2, z/2]: softmax equals sigmoid(z)
            # and both classes carry gradient.
            if output.shape[1] != 1:
                raise ModelOutputError(f"a sigmoid model must output one channel, this one has {output.shape[1]}")
            output = torch.cat([-output / 2, output / 2], dim=1)
        if output.shape[1] != self.num_classes:
            if not self.spec.classes_given:  # they could not be counted when the model was loaded
                raise ModelOutputError(f"the model outputs {output.shape[1]} classes; name them in a sidecar "
                                       '("classes": [...]) beside the model')
            raise ModelOutputError(
                f"the model outputs {output.shape[1]} classes but the sidecar names {self.num_classes}"
            )
        return output

    def _placement(self, height: int, width: int) -> _Placement:
        key = (height, width)
        if key not in self._placements:
            self._placements[key] = self._place(height, width)
        return self._placements[key]

    def _place(self, height: int, width: int) -> _Placement:
        """Probe the model once per image size to find where its output lies in the image."""
        pad = resize_to = None
        input_height, input_width = height, width
        if self.spec.input_size is not None:
            input_height, input_width = self.spec.input_size
            larger = input_height < height or input_width < width
            if self.spec.input_policy == "resize":
                resize_to = (input_height, input_width)
            elif larger and self.spec.input_policy == "tile":
                return self._place_tiles(height, width)
            elif larger:
                raise ModelOutputError(
                    f"the image ({height}x{width}, height x width) is larger than the model input "
                    f"({input_height}x{input_width}) and the sidecar's \"input_policy\" is \"pad\"; "
                    f"crop or downscale the image to at most {input_height}x{input_width}, or set "
                    f"\"input_policy\": \"tile\" in the sidecar to run the model on overlapping "
                    f"{input_height}x{input_width} windows, or \"input_policy\": \"resize\" to resize every "
                    f"image to the model input"
                )
            else:  # "pad", and "tile" with an image that fits one window
                pad = _centred_pad(height, width, input_height, input_width)
        elif self.spec.size_multiple and (height % self.spec.size_multiple or width % self.spec.size_multiple):
            multiple = self.spec.size_multiple
            input_height, input_width = -(-height // multiple) * multiple, -(-width // multiple) * multiple
            pad = _centred_pad(height, width, input_height, input_width)
        out_height, out_width = self._probe(height, width, pad, resize_to, (input_height, input_width))
        # The output grid is centred in the model input (valid convolutions trim equally).
        offset_y, offset_x = (input_height - out_height) // 2, (input_width - out_width) // 2
        if resize_to is not None:
            scale_y, scale_x = height / input_height, width / input_width
            top, left = round(offset_y * scale_y), round(offset_x * scale_x)
            grid_height = max(1, round((offset_y + out_height) * scale_y) - top)
            grid_width = max(1, round((offset_x + out_width) * scale_x) - left)
            grid = OutputGrid(top, left, grid_height, grid_width)
            needs_resize = (grid_height, grid_width) != (out_height, out_width)
            return _Placement(
                grid, None, resize_to, (0, 0, out_height, out_width), (grid_height, grid_width) if needs_resize else None
            )
        pad_top = pad[2] if pad else 0
        pad_left = pad[0] if pad else 0
        # Output rows map to image rows offset_y - pad_top + i; keep those inside the image.
        image_top = max(0, offset_y - pad_top)
        image_left = max(0, offset_x - pad_left)
        image_bottom = min(height, offset_y - pad_top + out_height)
        image_right = min(width, offset_x - pad_left + out_width)
        if image_bottom <= image_top or image_right <= image_left:
            raise ModelOutputError("the model output does not overlap the image")
        grid = OutputGrid(image_top, image_left, image_bottom - image_top, image_right - image_left)
        crop = (image_top - (offset_y - pad_top), image_left - (offset_x - pad_left), grid.height, grid.width)
        return _Placement(grid, pad, None, crop, None)

    def _place_tiles(self, height: int, width: int) -> _Placement:
        """The "tile" policy on an image larger than the model input: the whole image is the output grid."""
        window = self.spec.input_size
        output = self._probe(*window, None, None, window)
        if min(output) < 1:
            raise ModelOutputError(f"the model output for a {window[0]}x{window[1]} input is empty")
        layout = tile_layout(height, width, window, output)
        return _Placement(OutputGrid(0, 0, height, width), layout.padding, None, (0, 0, height, width), None, layout)

    def _probe(self, height: int, width: int, pad, resize_to, input_size: tuple[int, int]) -> tuple[int, int]:
        """The model's output size for a ``height x width`` image padded or resized to ``input_size``."""
        probe_placement = _probe_placement(height, width, pad, resize_to)
        probe = torch.zeros(1, self.expected_channels(3), height, width, device=self.device, requires_grad=True)
        # The gradient is tracked so a gradient-free output shows, but no activation is kept for a
        # backward that never comes: the probe costs the memory of a no_grad pass (a 2048 x 2048
        # image on the demo U-Net: 1127 MiB peak against 1055 without gradient, 2156 with a graph).
        with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(_discard, _discard):
            output = self._run(self._prepare(probe, probe_placement))
        if not output.requires_grad:
            raise ModelOutputError(
                "the model's output carries no gradient with respect to its input (an argmax, a detached or an "
                "integer output?); gradient attacks need the logits: export the model without that last step"
            )
        out_height, out_width = output.shape[-2:]
        del output
        input_height, input_width = input_size
        if out_height > input_height or out_width > input_width:
            raise ModelOutputError(
                f"the model output ({out_height}x{out_width}) is larger than its input ({input_height}x{input_width})"
            )
        return out_height, out_width


def _probe_placement(height: int, width: int, pad=None, resize_to=None) -> _Placement:
    """What ``_prepare`` needs to feed a probe: padding and resizing, no output crop yet."""
    return _Placement(OutputGrid(0, 0, height, width), pad, resize_to, (0, 0, 0, 0), None)


def _discard(_) -> None:
    """A saved-tensor hook that keeps nothing (see ``ModelAdapter._probe``)."""
    return None


def _centred_pad(height: int, width: int, input_height: int, input_width: int) -> tuple[int, int, int, int]:
    """``F.pad`` widths (left, right, top, bottom) that centre the image in the model input."""
    top, left = (input_height - height) // 2, (input_width - width) // 2
    return left, input_width - width - left, top, input_height - height - top


def unwrap_output(output, batch_size: int) -> torch.Tensor:
    """The model's output as a ``[B, C, h', w']`` tensor: the ``out`` of a dict (torchvision), the
    first of a tuple, and ``[B, h', w']`` (one logit per pixel) with its channel axis restored."""
    if isinstance(output, dict):
        if "out" not in output:
            raise ModelOutputError(f"the model returned a dict without an 'out' key (keys: {sorted(output)})")
        output = output["out"]
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ModelOutputError(f"the model returned {type(output).__name__}, not a tensor")
    if not output.is_floating_point():
        raise ModelOutputError(f"the model returned {output.dtype} values (class ids?), not logits; gradient "
                               "attacks need the logits: export the model without its argmax")
    if output.ndim == 3 and output.shape[0] == batch_size:
        output = output.unsqueeze(1)
    if output.ndim != 4:
        raise ModelOutputError(f"the model output has shape {tuple(output.shape)} for a batch of {batch_size}, "
                               "expected [N, C, H, W] (or [N, H, W] for one logit per pixel)")
    if output.shape[0] != batch_size:
        raise ModelOutputError(f"the model returned {output.shape[0]} outputs for a batch of {batch_size} images")
    return output


def first_conv_channels(model: nn.Module) -> int | None:
    """Input channels of the first 2-D convolution, also inside TorchScript (scripted or traced) models."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d) or getattr(module, "original_name", None) == "Conv2d":
            channels = getattr(module, "in_channels", None)  # a traced module keeps only its weight
            if channels is None and isinstance(getattr(module, "weight", None), torch.Tensor):
                channels = module.weight.shape[1] * getattr(module, "groups", 1)
            return int(channels) if channels else None
    return None


def class_ids(logits: torch.Tensor) -> torch.Tensor:
    """Argmax over the class axis of ``[B, K, h, w]`` logits: ``[B, h, w]`` class ids.

    ``max(1).indices`` gives exactly ``argmax(1)`` (the first maximum; NaN counts as the
    maximum) and is about ten times faster on the CPU, where ``argmax`` over a
    non-innermost axis takes a slow path.
    """
    return logits.detach().max(1).indices  # detached: no autograd node for the unused values


def set_requires_grad(model: nn.Module, enabled: bool) -> None:
    """Per parameter, so it works for TorchScript modules too (they lack ``requires_grad_``)."""
    for parameter in model.parameters():
        parameter.requires_grad_(enabled)


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"there is no {name} (this machine has {torch.cuda.device_count()} CUDA devices)")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {name!r} (use auto, cpu, cuda or cuda:N)")
    return device


def available_devices() -> list[str]:
    """``cpu`` plus every CUDA device found, for the GUI's device list."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    return devices


def channels_last_pays(device: str | torch.device) -> bool:
    """Whether a model should run channels-last on ``device``: yes on CUDA, where convolutions
    run faster so; no on the CPU, where it gained nothing in fp32 and lost in bf16 (measured on
    2026-12-02, docs/performance.md)."""
    return torch.device(device).type == "cuda"


def cpu_has_native_bf16() -> bool:
    """Whether oneDNN has bf16 instructions here (AVX512-BF16 or AMX); without them bf16 is emulated, slowly."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def fast_precisions(device: str | torch.device) -> list[str]:
    """The precisions worth offering on ``device``, for the GUI's list.

    CUDA: strict fp32, TF32 (tensor cores for convolutions and matmuls) and bf16 autocast
    where the card supports it. CPU: fp32, and bf16 autocast only where the CPU computes
    bf16 natively (elsewhere it is emulated and several times slower than fp32).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return ["fp32", "tf32"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    return ["fp32"] + (["bf16"] if device.type == "cpu" and cpu_has_native_bf16() else [])
