"""Overlap-tile: a model with a fixed input size applied to a larger image (Ronneberger et al. 2015).

The model sees windows of exactly its input size h x w. Of each window's output (oh x ow,
centred in the window: smaller for valid convolutions, the same for padded nets) only a
centred *core* is kept, and the cores tile the image edge to edge without overlap, so
every image pixel is predicted by exactly one window, the one in which it is (nearly)
most central. Neighbouring windows therefore overlap by the window minus the core.

The core leaves at least ``window // 8`` pixels of window context on each side of every
kept prediction: a valid-convolution net already leaves ``(h - oh) // 2`` (the paper's
U-Net: 92 of 572, so its cores are its whole 388 x 388 outputs, stride 388, as in the
paper); a same-size net gets a margin of ``h // 8`` cut from each side of its output.
Keeping one window per pixel, rather than averaging overlapping logits, keeps the result
exactly equal to a whole-image run wherever the model's receptive field fits in that
context, and the stitching is a reshape, so input gradients pass through unchanged.

Windows at the border read beyond the image: the image is extended by repeating its edge
pixels (replicate padding, as the ``pad`` policy does; reflection would fail on an image
thinner than the context it needs), so the stitched output covers the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

MAX_WINDOW_PIXELS_PER_FORWARD = 1 << 22
"""Windows go through the model in chunks of at most this many input pixels (about 12 of 572 x 572)."""


@dataclass(frozen=True)
class AxisTiles:
    """The tiling along one image axis (rows or columns), in pixels of that axis."""

    window: int  # the model's input length
    core_start: int  # where the kept core begins in a window's output
    core: int  # the kept core's length, also the stride between windows
    count: int  # windows along this axis
    pad_before: int  # replicated image pixels before the image (window 0 starts there)
    pad_after: int  # replicated image pixels after it (the last window ends there)


@dataclass(frozen=True)
class TileLayout:
    """Which h x w windows of the padded image the model sees, and how their outputs stitch."""

    rows: AxisTiles
    columns: AxisTiles
    image_height: int
    image_width: int

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """Left, right, top, bottom: the ``F.pad`` order."""
        return (self.columns.pad_before, self.columns.pad_after, self.rows.pad_before, self.rows.pad_after)

    @property
    def count(self) -> int:
        return self.rows.count * self.columns.count


def axis_tiles(image_length: int, window: int, output_length: int) -> AxisTiles:
    """Windows of ``window`` pixels whose centred ``output_length`` outputs cover ``image_length`` pixels."""
    output_offset = (window - output_length) // 2  # output pixel i comes from window pixel output_offset + i
    core_start = max(0, window // 8 - output_offset)
    core = output_length - 2 * core_start
    count = -(-image_length // core)
    pad_before = output_offset + core_start  # image pixel 0 is the first core pixel of window 0
    pad_after = (count - 1) * core + window - pad_before - image_length
    return AxisTiles(window, core_start, core, count, pad_before, pad_after)


def tile_layout(image_height: int, image_width: int, window: tuple[int, int], output: tuple[int, int]) -> TileLayout:
    """The layout for one image size, given the model's input size and its output size for that input."""
    rows = axis_tiles(image_height, window[0], output[0])
    columns = axis_tiles(image_width, window[1], output[1])
    return TileLayout(rows, columns, image_height, image_width)


def windows(padded: torch.Tensor, layout: TileLayout) -> torch.Tensor:
    """The ``[B * T, C, h, w]`` windows of a padded ``[B, C, H', W']`` image, row-major per image."""
    rows, columns = layout.rows, layout.columns
    grid = padded.unfold(2, rows.window, rows.core).unfold(3, columns.window, columns.core)  # B, C, Ty, Tx, h, w
    batch, channels = padded.shape[:2]
    return grid.permute(0, 2, 3, 1, 4, 5).reshape(batch * layout.count, channels, rows.window, columns.window)


def stitch(window_logits: torch.Tensor, layout: TileLayout) -> torch.Tensor:
    """Put the cores of ``[B * T, K, oh, ow]`` window outputs side by side: ``[B, K, H, W]`` on the image."""
    rows, columns = layout.rows, layout.columns
    cores = window_logits[
        ..., rows.core_start : rows.core_start + rows.core, columns.core_start : columns.core_start + columns.core
    ]
    classes = cores.shape[1]
    cores = cores.reshape(-1, rows.count, columns.count, classes, rows.core, columns.core)  # B, Ty, Tx, K, ky, kx
    height, width = rows.count * rows.core, columns.count * columns.core
    stitched = cores.permute(0, 3, 1, 4, 2, 5).reshape(-1, classes, height, width)  # B, K, Ty * ky, Tx * kx
    return stitched[..., : layout.image_height, : layout.image_width]


def tiled_logits(run_model: Callable[[torch.Tensor], torch.Tensor], padded: torch.Tensor, layout: TileLayout):
    """``run_model`` over every window of ``padded`` (all images' windows together, in chunks), stitched."""
    model_input = windows(padded, layout)
    chunk = max(1, MAX_WINDOW_PIXELS_PER_FORWARD // (layout.rows.window * layout.columns.window))
    outputs = [run_model(part) for part in model_input.split(chunk)]
    return stitch(outputs[0] if len(outputs) == 1 else torch.cat(outputs), layout)
