"""nnU-Net v2's 2-D prediction as one differentiable module: normalise, tile, ensemble.

nnU-Net does not run its network on the image as it is: it crops the image to the box of
its non-zero pixels, normalises every channel by the plan's scheme, cuts the result into
overlapping patches of the plan's size (half a patch apart), runs every fold's network on
every patch, weights each patch's logits by a Gaussian centred on it, and averages the folds'
logits. An attack must differentiate through all of that, so it is all here in torch, on the
current iterate: the per-image z-score in particular is recomputed from the image being
attacked, not frozen from the clean one, as nnU-Net would compute it on the adversarial image.

Not reproduced: resampling to the plan's spacing (2-D images are taken at spacing 1, as
nnU-Net's natural-image reader gives them) and test-time mirroring (off by default here, as
``nnUNetPredictor(use_mirroring=False)``; ``mirror_axes`` turns it on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

EPSILON = 1e-8  # nnU-Net's floor for a standard deviation


@dataclass(frozen=True)
class ChannelNormalisation:
    """One input channel's scheme from the plan and the statistics it needs."""

    scheme: str  # ZScoreNormalization, CTNormalization, NoNormalization, RescaleTo01Normalization, RGBTo0_1...
    use_mask: bool = False  # z-score over the non-zero pixels only, zero outside them
    clip_low: float | None = None  # CT: the dataset's 0.5th percentile of foreground intensities
    clip_high: float | None = None  # CT: its 99.5th percentile
    mean: float | None = None  # CT: the foreground mean
    std: float | None = None  # CT: the foreground standard deviation

    def apply(self, raw: torch.Tensor, nonzero: torch.Tensor) -> torch.Tensor:
        """``raw``: one channel ``[H, W]`` in the image's own values; ``nonzero``: where any channel is not 0."""
        if self.scheme == "ZScoreNormalization":
            if self.use_mask:
                pixels = raw[nonzero]
                mean, std = pixels.mean(), pixels.std(unbiased=False)
                return torch.where(nonzero, (raw - mean) / std.clamp_min(EPSILON), torch.zeros_like(raw))
            return (raw - raw.mean()) / raw.std(unbiased=False).clamp_min(EPSILON)
        if self.scheme == "CTNormalization":
            return (raw.clamp(self.clip_low, self.clip_high) - self.mean) / max(self.std, EPSILON)
        if self.scheme == "NoNormalization":
            return raw
        if self.scheme == "RescaleTo01Normalization":
            shifted = raw - raw.min()
            return shifted / shifted.max().clamp_min(EPSILON)
        if self.scheme in ("RGBTo0_1Normalization", "RGBTo01Normalization"):
            return raw / 255.0
        raise ValueError(f"unknown nnU-Net normalisation {self.scheme!r}")


NORMALISATIONS = ("ZScoreNormalization", "CTNormalization", "NoNormalization", "RescaleTo01Normalization",
                  "RGBTo0_1Normalization", "RGBTo01Normalization")


def window_starts(length: int, window: int, step_fraction: float) -> list[int]:
    """Patch starts along one axis: as few as keep neighbours at most ``step_fraction`` of a patch
    apart, spread evenly from the first pixel to the last (nnU-Net's sliding-window rule)."""
    if length <= window:
        return [0]
    count = math.ceil((length - window) / (window * step_fraction)) + 1
    spacing = (length - window) / (count - 1)
    return [round(spacing * index) for index in range(count)]


def gaussian_weights(size: tuple[int, int], device, sigma_scale: float = 1 / 8) -> torch.Tensor:
    """A patch's weight map: a Gaussian centred on the patch, sigma = size / 8, floored above zero."""
    axes = []
    for length in size:
        position = torch.arange(length, device=device, dtype=torch.float32)
        sigma = length * sigma_scale
        axes.append(torch.exp(-0.5 * ((position - length // 2) / sigma) ** 2))
    weights = axes[0][:, None] * axes[1][None, :]
    weights = weights / weights.max()
    return weights.clamp_min(weights[weights > 0].min())


class NnUNetPrediction(nn.Module):
    """nnU-Net's prediction of one 2-D configuration: ``[B, C, H, W]`` images in [0, 1] -> logits.

    ``value_range``: the image values that [0, 1] stands for (0-255 for 8-bit images), so the
    plan's schemes (CT clipping, RGB / 255) see the values nnU-Net was trained on.
    """

    def __init__(self, networks: list[nn.Module], patch_size: tuple[int, int],
                 normalisations: list[ChannelNormalisation], value_range: tuple[float, float] = (0.0, 255.0),
                 step_fraction: float = 0.5, mirror_axes: tuple[int, ...] = (), transpose: bool = False):
        super().__init__()
        self.networks = nn.ModuleList(networks)
        self.patch_size = tuple(int(s) for s in patch_size)
        self.normalisations = list(normalisations)
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.step_fraction = step_fraction
        self.mirror_axes = tuple(mirror_axes)
        self.transpose = transpose  # the plan's transpose_forward swaps the two image axes

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.transpose:
            images = images.transpose(-1, -2)
        logits = torch.stack([self._predict_one(image) for image in images])
        return logits.transpose(-1, -2) if self.transpose else logits

    def _predict_one(self, image: torch.Tensor) -> torch.Tensor:
        low, high = self.value_range
        raw = low + image * (high - low)
        nonzero = (raw.detach() != 0).any(0)
        rows, columns = torch.nonzero(nonzero.any(1)).flatten(), torch.nonzero(nonzero.any(0)).flatten()
        height, width = raw.shape[-2:]
        if len(rows) == 0:  # nnU-Net crops to the non-zero box; an all-zero image keeps its whole extent
            top, bottom, left, right = 0, height, 0, width
        else:
            top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(columns[0]), int(columns[-1]) + 1
        box, box_mask = raw[:, top:bottom, left:right], nonzero[top:bottom, left:right]
        normalised = torch.stack([self.normalisations[c].apply(box[c], box_mask) for c in range(len(box))])
        logits = self._sliding_window(normalised)
        outside = torch.full((logits.shape[0], height, width), -10.0, device=logits.device, dtype=logits.dtype)
        outside[0] = 10.0  # nnU-Net sets everything outside the non-zero box to background
        outside[:, top:bottom, left:right] = logits
        return outside

    def _sliding_window(self, data: torch.Tensor) -> torch.Tensor:
        """Gaussian-weighted average of every fold's logits over overlapping patches (zero-padded to a patch)."""
        patch_height, patch_width = self.patch_size
        height, width = data.shape[-2:]
        pad_height, pad_width = max(0, patch_height - height), max(0, patch_width - width)
        padding = (pad_width // 2, pad_width - pad_width // 2, pad_height // 2, pad_height - pad_height // 2)
        padded = F.pad(data, padding) if any(padding) else data
        full_height, full_width = padded.shape[-2:]
        corners = [(y, x) for y in window_starts(full_height, patch_height, self.step_fraction)
                   for x in window_starts(full_width, patch_width, self.step_fraction)]
        patches = torch.stack([padded[:, y:y + patch_height, x:x + patch_width] for y, x in corners])
        patch_logits = self._ensemble(patches)
        weights = gaussian_weights(self.patch_size, data.device)
        total = torch.zeros((patch_logits.shape[1], full_height, full_width), device=data.device,
                            dtype=patch_logits.dtype)
        coverage = torch.zeros((full_height, full_width), device=data.device)
        for (y, x), logits in zip(corners, patch_logits):
            total = total + F.pad(logits * weights, (x, full_width - x - patch_width, y, full_height - y - patch_height))
            coverage[y:y + patch_height, x:x + patch_width] += weights
        averaged = total / coverage
        return averaged[:, padding[2]:padding[2] + height, padding[0]:padding[0] + width]

    def _ensemble(self, patches: torch.Tensor) -> torch.Tensor:
        """The folds' mean logits on a batch of patches (with test-time mirroring if asked)."""
        total = None
        for network in self.networks:
            logits = _first(network(patches))
            flips = [axes for count in range(1, len(self.mirror_axes) + 1)
                     for axes in _combinations(self.mirror_axes, count)]
            for axes in flips:
                dims = [axis + 2 for axis in axes]
                logits = logits + _first(network(patches.flip(dims))).flip(dims)
            logits = logits / (len(flips) + 1)
            total = logits if total is None else total + logits
        return total / len(self.networks)


def _first(output) -> torch.Tensor:
    """A network built with deep supervision off returns a tensor; with it on, the full-resolution first."""
    return output[0] if isinstance(output, (tuple, list)) else output


def _combinations(items: tuple[int, ...], count: int):
    from itertools import combinations

    return combinations(items, count)
