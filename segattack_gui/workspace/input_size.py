"""What to offer when an image is larger than a model takes, or too large to attack whole (no Qt).

A sidecar can say how a model meets large images (``"input_policy"``: pad, resize or tile;
docs/model-files.md). A user who opens a 2048 x 2048 image in the window should get the same
choice there instead of an error or an attack that crawls: run the model on overlapping tiles,
or resize inside the model. The choice is a sidecar override, recorded in ``summary.json``
(``model_overrides``) so ``segattack rerun`` applies it too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.models import ModelSpec

__all__ = ["LARGE_SIDE", "SizeChoice", "size_choices"]

LARGE_SIDE = 1024
"""A side above this, for a model without a fixed input, makes an attack slow enough to offer tiles."""
WINDOW_SIDE = 512
"""The tile (or resize) size offered to a model without a fixed input."""


@dataclass(frozen=True)
class SizeChoice:
    """One way to meet the image: a button's words and the sidecar fields it overrides."""

    words: str
    overrides: dict


def size_choices(spec: ModelSpec, height: int, width: int) -> list[SizeChoice]:
    """The choices for an image of ``height`` x ``width``; empty when the model takes it as it is."""
    if spec.input_size is not None:
        input_height, input_width = spec.input_size
        if (height > input_height or width > input_width) and spec.input_policy == "pad":
            return [SizeChoice(f"Overlapping {input_height}x{input_width} tiles", {"input_policy": "tile"}),
                    SizeChoice(f"Resize to {input_height}x{input_width} inside the model", {"input_policy": "resize"})]
        return []
    if max(height, width) > LARGE_SIDE:
        size = [WINDOW_SIDE, WINDOW_SIDE]
        return [SizeChoice(f"Overlapping {WINDOW_SIDE}x{WINDOW_SIDE} tiles", {"input_size": size, "input_policy": "tile"}),
                SizeChoice(f"Resize to {WINDOW_SIDE}x{WINDOW_SIDE} inside the model",
                           {"input_size": size, "input_policy": "resize"})]
    return []
