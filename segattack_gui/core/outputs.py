"""Read a model's output as it comes: a tensor, a dict, a tuple, a deep-supervision list.

Libraries return their logits in many wrappers: torchvision a dict under ``out``, Hugging
Face a ``ModelOutput`` under ``logits``, nnU-Net and MONAI's DynUNet a list of deep-supervision
outputs. The sidecar can name the member (``output_key``, ``output_index``); without it the
member is taken only where there is one sensible choice, and anything ambiguous is refused
with the sidecar field that settles it. How the chosen map lines up with the image
(same size, a whole-factor downscale, a valid-convolution crop) is :func:`alignment_rule`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


class ModelOutputError(ValueError):
    """The model's output cannot be aligned with the image (wrong rank, too large, ...)."""


UPSAMPLE_FACTORS = (2, 4, 8, 16, 32)
"""Whole factors by which a model's logits may be smaller than its input (SegFormer: 4)."""


def select_output(output, output_key: str | None = None, output_index: tuple[int, ...] | None = None):
    """The one tensor of ``output`` that holds the logits (still in the model's own geometry)."""
    if output_key is not None:
        output = _member(output, output_key)
    elif isinstance(output, dict) or _is_model_output(output):
        output = _default_member(output)
    if output_index is not None:
        for position in output_index:
            if not isinstance(output, (tuple, list)) or not -len(output) <= position < len(output):
                raise ModelOutputError(f'the sidecar\'s "output_index" {list(output_index)} does not fit the '
                                       f"model's output ({_describe(output)})")
            output = output[position]
    elif isinstance(output, (tuple, list)):
        output = _highest_resolution(output)
    return output


def _is_model_output(output) -> bool:
    """A Hugging Face ``ModelOutput`` or any mapping-like result with ``keys()``."""
    return hasattr(output, "keys") and hasattr(output, "__getitem__") and not isinstance(output, torch.Tensor)


def _member(output, key: str):
    if isinstance(output, dict) or _is_model_output(output):
        if key in output:
            return output[key]
        raise ModelOutputError(f'the model\'s output has no key "{key}" (the sidecar\'s "output_key"; keys: '
                               f"{', '.join(map(str, output.keys()))})")
    if hasattr(output, key):
        return getattr(output, key)
    raise ModelOutputError(f'the sidecar names "output_key" "{key}" but the model returned {_describe(output)}')


def _default_member(output):
    """``out`` (torchvision); else the only tensor-valued entry; else ambiguous."""
    keys = list(output.keys())
    if "out" in keys:
        return output["out"]
    tensors = [key for key in keys if isinstance(output[key], (torch.Tensor, tuple, list))]
    if len(tensors) == 1:
        return output[tensors[0]]
    raise ModelOutputError(f"the model returned a dict without an 'out' key (keys: {', '.join(map(str, keys))}); "
                           'name the one holding the logits in the sidecar\'s "output_key"')


def _highest_resolution(members):
    """The member of a list or tuple that holds the logits: the only tensor, or the largest map of a
    deep-supervision list (same channels, different sizes), wherever it sits."""
    tensors = [member for member in members if isinstance(member, torch.Tensor)]
    if len(tensors) == 1:
        return tensors[0]
    if not tensors:
        raise ModelOutputError(f"the model returned {_describe(members)} with no tensor in it; "
                               'name the member holding the logits in the sidecar\'s "output_index"')
    maps = [tensor for tensor in tensors if tensor.ndim == 4]
    channels = {tensor.shape[1] for tensor in maps}
    if len(maps) == len(tensors) and len(channels) == 1:
        areas = sorted((tensor.shape[-2] * tensor.shape[-1] for tensor in maps), reverse=True)
        if areas[0] > areas[1]:
            return max(maps, key=lambda tensor: tensor.shape[-2] * tensor.shape[-1])
    raise ModelOutputError(f"the model returned {_describe(members)}; name the member holding the logits in the "
                           'sidecar\'s "output_index" (e.g. [0])')


def _describe(output) -> str:
    if isinstance(output, torch.Tensor):
        return f"a tensor of shape {list(output.shape)}"
    if isinstance(output, (tuple, list)):
        inner = ", ".join(_describe(member) if isinstance(member, torch.Tensor) else type(member).__name__
                          for member in output[:6])
        return f"a {type(output).__name__} of {len(output)} ({inner}{', ...' if len(output) > 6 else ''})"
    return f"a {type(output).__name__}"


def probabilities_to_logits(probabilities: torch.Tensor) -> torch.Tensor:
    """Logits whose softmax is ``probabilities`` (their logarithm; one channel p: [log(1-p), log p]).

    Attacking probabilities as if they were logits flattens the loss where the model is sure;
    their logarithm gives the softmax back exactly and keeps the gradient alive.
    """
    tiny = torch.finfo(probabilities.dtype).tiny
    if probabilities.shape[1] == 1:
        probabilities = torch.cat([1 - probabilities, probabilities], dim=1)
    return probabilities.clamp_min(tiny).log()


@dataclass(frozen=True)
class Alignment:
    """How a model output of ``output`` size lies on its ``input``: the rule and, to apply it, the upsampling."""

    rule: str  # "same size", "upsample", "centre crop"
    factor: int | None = None  # for "upsample"
    detail: str = ""

    def describe(self) -> str:
        return self.rule + (f" ({self.detail})" if self.detail else "")


def alignment_rule(input_size: tuple[int, int], output_size: tuple[int, int], forced: str = "auto") -> Alignment:
    """Which rule maps an ``output_size`` map onto an ``input_size`` input.

    Same size: nothing. Smaller by one whole factor f in :data:`UPSAMPLE_FACTORS` on both
    axes: bilinear upsampling by f (SegFormer-style 1/4 logits). Smaller by the same even margin
    on both axes: the valid-convolution centre crop (unpadded convolutions trim a fixed border
    whatever the input; the paper's U-Net: 572 -> 388). Else ambiguous: refused, naming the
    sidecar fields that settle it (``forced``: their value).
    """
    (input_height, input_width), (height, width) = input_size, output_size
    if height < 1 or width < 1:  # e.g. a valid-convolution U-Net given an image smaller than its margins
        raise ModelOutputError(f"the model's output is empty ({height}x{width}) for a {input_height}x"
                               f"{input_width} input: the image is too small for this model")
    if (height, width) == (input_height, input_width) and forced != "upsample":
        return Alignment("same size")
    if height > input_height or width > input_width:
        raise ModelOutputError(f"the model output ({height}x{width}) is larger than its input "
                               f"({input_height}x{input_width})")
    if forced == "upsample":
        return Alignment("upsample", None, f"{height}x{width} resized bilinearly to {input_height}x{input_width}, "
                                           'as the sidecar\'s "output_alignment" asks')
    margin_y, margin_x = input_height - height, input_width - width
    if forced == "crop":
        return Alignment("centre crop", None, f"margins {margin_y // 2}/{margin_y - margin_y // 2} rows, "
                                              f"{margin_x // 2}/{margin_x - margin_x // 2} columns, as the sidecar's "
                                              '"output_alignment" asks')
    factors = {input_height // height if input_height % height == 0 else 0,
               input_width // width if input_width % width == 0 else 0}
    if len(factors) == 1 and (factor := factors.pop()) in UPSAMPLE_FACTORS:
        return Alignment("upsample", factor, f"logits 1/{factor} of the input, upsampled bilinearly x{factor}")
    if margin_y == margin_x and margin_y % 2 == 0:
        return Alignment("centre crop", None, f"valid convolutions: {margin_y // 2} rows and {margin_x // 2} "
                                              "columns trimmed on each side")
    raise ModelOutputError(
        f"the model output ({height}x{width}) for a {input_height}x{input_width} input is neither a whole-factor "
        f"downscale ({', '.join(map(str, UPSAMPLE_FACTORS))}) nor a centred valid-convolution crop; set the "
        'sidecar\'s "size_multiple" (e.g. 32) so inputs are padded to sizes the model divides evenly, or '
        '"output_alignment": "upsample" or "crop" to say how its output lies on the input'
    )
