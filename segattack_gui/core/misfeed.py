"""Say when a model is probably fed wrongly, before its numbers mislead.

A model given images normalised otherwise than in training (a forgotten ImageNet
``mean``/``std``), or a greyscale image repeated into an RGB model's channels, still
predicts, and an attack on it still "succeeds". Two cheap signs are reported as warnings:
the clean prediction puts one class on nearly the whole output grid while the target
holds others, and a one-channel image feeding a model that takes three.
"""

from __future__ import annotations

import numpy as np

ONE_CLASS_SHARE = 0.99
"""A clean prediction with one class on at least this share of the output grid is suspect."""


def one_class_warning(prediction: np.ndarray, target_on_grid: np.ndarray, class_names) -> str | None:
    """A warning when ``prediction`` is one class on >= 99 % of the grid while the target holds others."""
    counts = np.bincount(np.asarray(prediction, dtype=np.int64).ravel(), minlength=len(class_names))
    dominant = int(counts.argmax())
    share = counts[dominant] / max(1, counts.sum())
    if share < ONE_CLASS_SHARE or not np.any(np.asarray(target_on_grid) != dominant):
        return None
    name = class_names[dominant] if dominant < len(class_names) else f"class {dominant}"
    return (f"the clean prediction is {name!r} on {share:.1%} of the output grid while the target holds other "
            "classes; unless the image really shows nothing else, the model may be fed otherwise than it was "
            "trained: check the sidecar's \"mean\"/\"std\" (ImageNet's: [0.485, 0.456, 0.406]/[0.229, 0.224, "
            "0.225]) and \"in_channels\"")


def channel_warning(image_channels: int, model_channels: int) -> str | None:
    """A warning when a greyscale image is repeated into the channels of a colour model."""
    if image_channels == 1 and model_channels == 3:
        return ("a greyscale image feeds a model that takes 3 channels (RGB): its one channel is repeated into "
                "all three; if the model was trained on colour images its predictions may mean little")
    return None


def misfeed_warnings(adapter, pixels: np.ndarray, target: np.ndarray | None) -> list[str]:
    """Both checks for one image (``H x W x C`` in [0, 1]) and its image-grid target."""
    warnings = []
    channels = channel_warning(pixels.shape[-1], adapter.expected_channels(pixels.shape[-1]))
    if channels:
        warnings.append(channels)
    if target is not None:
        prediction = adapter.predict(adapter.to_device(pixels))[0].cpu().numpy()
        grid = adapter.output_grid(pixels.shape[0], pixels.shape[1])
        one_class = one_class_warning(prediction, grid.crop(np.asarray(target)), adapter.class_names)
        if one_class:
            warnings.append(one_class)
    return warnings
