"""The target and region of the image being worked on, and where each came from (no Qt).

:class:`MaskLayers` holds the arrays and their undo history; this adds, per layer, the
file or rule its content came from. A source is tied to the layer's revision: once the
layer changes (a stroke, an undo, a transform), its file no longer describes it and it
counts as painted. So "is this saved?", "what does summary.json record?" and "did the
masks change since the run?" are all answered by comparing revision numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mask_layers import LAYERS, MaskLayers

__all__ = ["LayerSource", "PaintedMasks"]

PAINTED = "painted"
EMPTY = "empty"


@dataclass(frozen=True)
class LayerSource:
    """Where a layer's content came from; it holds while the layer stays at ``revision``."""

    revision: int
    origin: str  # "empty", "painted", "model prediction on ...", how a mask file was read, ...
    path: str | None = None  # the file it was read from or saved to
    sha256: str | None = None  # of that file, as `sha256sum` gives it
    saved: bool = False  # the file was written from here (its origin is still what was painted)


class PaintedMasks:
    """The target and region of one image with their history and sources."""

    def __init__(self, shape: tuple[int, int] = (1, 1), max_undo: int = 100):
        self.layers = MaskLayers(shape, max_undo=max_undo)
        self._sources = {layer: LayerSource(self.layers.revision[layer], EMPTY) for layer in LAYERS}

    @property
    def shape(self) -> tuple[int, int]:
        return self.layers.shape

    @property
    def target(self) -> np.ndarray:
        """The target's class ids (the live array: copy it to keep it)."""
        return self.layers.target

    def region_limit(self) -> np.ndarray | None:
        """The pixels the attack may change (a copy), or None: every pixel may."""
        return self.layers.region_limit()

    def revisions(self) -> tuple[int, int]:
        """(target, region) revisions: equal tuples mean the same masks."""
        return self.layers.revision["target"], self.layers.revision["region"]

    # ------------------------------------------------------------------ changes
    def start_over(self, shape: tuple[int, int]) -> None:
        """A new image: empty masks, no history, no sources."""
        self.layers.reset(shape)
        for layer in LAYERS:
            self._sources[layer] = LayerSource(self.layers.revision[layer], EMPTY)

    def replace(self, layer: str, content: np.ndarray | None, origin: str, path: str | None = None,
                sha256: str | None = None) -> None:
        """New content for ``layer`` from ``origin`` (one undo step, except onto blank masks with no
        history, where undoing would only give back the empty mask nobody painted). For the region,
        None or an all-True mask mean no limit."""
        history = self.layers.history
        blank = not history.can_undo() and not history.can_redo() and not self.layers.array(layer).any()
        if layer == "target":
            self.layers.replace("target", np.asarray(content, dtype=np.uint8))
        else:
            self.layers.set_region_limit(content)
        if blank:
            history.clear()
        self._sources[layer] = LayerSource(self.layers.revision[layer], origin, path, sha256)

    def note_saved(self, layer: str, path: str, sha256: str) -> None:
        """``layer`` as it is now was written to ``path``: nothing is lost if the window closes."""
        origin = self.source(layer).origin
        self._sources[layer] = LayerSource(self.layers.revision[layer], origin, str(path), sha256, saved=True)

    # ------------------------------------------------------------------ questions
    def source(self, layer: str) -> LayerSource:
        """Where ``layer`` came from; "painted", with no file, once it changed after that."""
        source = self._sources[layer]
        if source.revision == self.layers.revision[layer]:
            return source
        return LayerSource(self.layers.revision[layer], PAINTED)

    def unsaved_layers(self) -> list[str]:
        """The layers that exist nowhere but here: painted, transformed or predicted, and not
        saved since. A mask read from a file can be read again; an empty one holds nothing."""
        unsaved = []
        if self.source("target").path is None and bool(self.layers.target.any()):
            unsaved.append("target")
        if self.source("region").path is None and bool(self.layers.region.any()):
            unsaved.append("region")
        return unsaved

    def rule(self, layer: str) -> str:
        """How the layer came about, in words, for summary.json."""
        source = self.source(layer)
        if source.path is None:
            return source.origin
        if source.saved:
            return f"{source.origin}, saved to the {layer} file"
        return f"read from file ({source.origin})"
