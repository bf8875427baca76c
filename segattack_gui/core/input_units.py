"""The values a model is fed, from the attack's [0, 1] image (sidecar ``input_units``).

``"unit"`` (the default): the [0, 1] image, then ``mean``/``std``. ``"raw"``: the image's own
values (HU for CT), ``low + x * (high - low)`` for the range the image was read with, then the
sidecar's optional ``window`` [low, high] (values clipped to it) and ``mean``/``std`` on those
raw values; a model that windows and normalises itself gets the raw values unchanged. Attacks
always step on [0, 1]: the map is linear, so a step of d on [0, 1] is d * (high - low) in the
image's units.
"""

from __future__ import annotations

import torch


def model_input_values(x: torch.Tensor, input_units: str, input_range: tuple[float, float],
                       window: tuple[float, float] | None, mean: torch.Tensor | None,
                       std: torch.Tensor | None) -> torch.Tensor:
    """``x`` ([B, C, H, W] on [0, 1]) as the model takes it."""
    if input_units == "raw":
        low, high = input_range
        x = x * (high - low) + low
        if window is not None:
            x = x.clamp(window[0], window[1])
    if mean is not None:
        x = x - mean
    if std is not None:
        x = x / std
    return x
