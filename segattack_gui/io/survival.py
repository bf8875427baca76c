"""What happens to an image on its way to a model: the transforms an adversarial must survive.

Each transform takes and returns an ``H x W x C`` float image in [0, 1] and is named by a short
token that the CLI reads (``--survival png8,jpeg75,blur1,rescale0.5``) and the summary records:

* ``png8``: an 8-bit PNG (rounded to 1/255; the pixels of ``adversarial.png``);
* ``png16``: a 16-bit PNG or TIFF, the integer grid of 16-bit sources (rounded to 1/65535);
* ``jpegQ``: JPEG at quality Q (1-100; OpenCV's encoder, 4:2:0 chroma subsampling);
* ``blurS``: a Gaussian blur of standard deviation S pixels;
* ``rescaleF``: down to F times the size (area averaging) and back up (bilinear), F in (0, 1).
"""

from __future__ import annotations

import re
from typing import Callable

import cv2
import numpy as np

DEFAULT_SURVIVAL = "png8,png16,jpeg90,jpeg75,blur1,rescale0.5"

Transform = Callable[[np.ndarray], np.ndarray]


def _grid(levels: int) -> Transform:
    return lambda image: np.round(np.clip(image, 0, 1) * levels) / levels


def _jpeg(quality: int) -> Transform:
    def transform(image: np.ndarray) -> np.ndarray:
        pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
        colour = pixels.shape[-1] == 3
        encoded_input = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR) if colour else pixels[..., 0]
        ok, encoded = cv2.imencode(".jpg", encoded_input, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
            raise RuntimeError("JPEG encoding failed")
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR if colour else cv2.IMREAD_GRAYSCALE)
        decoded = cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if colour else decoded[..., None]
        return decoded.astype(np.float32) / 255

    return transform


def _blur(sigma: float) -> Transform:
    def transform(image: np.ndarray) -> np.ndarray:
        blurred = cv2.GaussianBlur(image.astype(np.float32), (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
        return blurred.reshape(image.shape)

    return transform


def _rescale(factor: float) -> Transform:
    def transform(image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        small = cv2.resize(image.astype(np.float32), (max(1, round(width * factor)), max(1, round(height * factor))),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR).reshape(image.shape)

    return transform


def survival_transform(token: str) -> Transform:
    """The transform a token names; ``ValueError`` (saying what is accepted) for anything else."""
    if token in ("png8", "png16"):
        return _grid(255 if token == "png8" else 65535)
    match = re.fullmatch(r"(jpeg|blur|rescale)(\d+(?:\.\d+)?)", token)
    if match:
        kind, value = match.group(1), float(match.group(2))
        if kind == "jpeg" and value == int(value) and 1 <= value <= 100:
            return _jpeg(int(value))
        if kind == "blur" and value > 0:
            return _blur(value)
        if kind == "rescale" and 0 < value < 1:
            return _rescale(value)
    raise ValueError(f"{token!r} is no transform: use png8, png16, jpegQ (Q 1-100), blurS (S > 0 pixels), "
                     "rescaleF (0 < F < 1), comma-separated, or none")


def parse_survival(text: str) -> list[str]:
    """The tokens of a ``--survival`` list, each checked; ``none`` (or nothing) is the empty list."""
    tokens = [token.strip().lower() for token in text.split(",") if token.strip()]
    if tokens == ["none"]:
        return []
    for token in tokens:
        survival_transform(token)
    return list(dict.fromkeys(tokens))
