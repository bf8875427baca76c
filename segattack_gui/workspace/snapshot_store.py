"""A bounded record of the snapshots of one run, for the iteration slider and the GIF.

A long attack sends thousands of snapshots; keeping them all as float images would
exhaust memory. Each kept frame holds the adversarial image as uint8 (what a viewer
shows and the GIF stores) and the perturbation as int8 scaled to its own maximum,
because ASMA's perturbations are far below one 8-bit step and would vanish if they
were recomputed from the uint8 image. When the store is full it drops every other
frame (always keeping the first and the newest), so frames stay spread over the run.
No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..core.results import Snapshot
from ..io.heatmaps import AUTO_PERCENTILE

DEFAULT_CAPACITY = 300
DEFAULT_BUDGET_BYTES = 192 * 2**20


def to_uint8_fast(pixels: np.ndarray) -> np.ndarray:
    """[0, 1] float32 -> uint8 for display and the GIF, rounded in float32 (``io.images.to_uint8``
    works in float64; the two can differ by one step at exact halves). Runs for every snapshot."""
    return np.rint(np.clip(pixels, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8)


@dataclass(frozen=True)
class KeptFrame:
    """One snapshot, compressed for keeping, in the forms the views draw directly."""

    iteration: int
    adversarial: np.ndarray  # H x W x C uint8
    perturbation_int8: np.ndarray  # H x W x C int8, times ``perturbation_scale``
    perturbation_scale: float
    magnitude_uint8: np.ndarray  # H x W per-pixel L2 over channels, times ``magnitude_scale``
    magnitude_scale: float
    prediction: np.ndarray | None  # h x w uint8 on the output grid
    metrics: dict[str, float]

    @classmethod
    def from_snapshot(cls, snapshot: Snapshot, original: np.ndarray) -> "KeptFrame":
        return cls.from_arrays(snapshot.iteration, snapshot.adversarial, original, snapshot.prediction,
                               snapshot.metrics)

    @classmethod
    def from_arrays(cls, iteration: int, adversarial: np.ndarray, original: np.ndarray, prediction, metrics):
        perturbation = np.asarray(adversarial, np.float32) - original
        peak = float(np.abs(perturbation).max()) if perturbation.size else 0.0
        scale = peak / 127.0 if peak > 0 else 1.0
        magnitude = np.sqrt(np.einsum("ijk,ijk->ij", perturbation, perturbation))
        magnitude_peak = float(magnitude.max()) if magnitude.size else 0.0
        magnitude_scale = magnitude_peak / 255.0 if magnitude_peak > 0 else 1.0
        return cls(
            iteration=iteration,
            adversarial=to_uint8_fast(adversarial),
            perturbation_int8=np.rint(perturbation * np.float32(1.0 / scale)).astype(np.int8),
            perturbation_scale=scale,
            magnitude_uint8=np.rint(magnitude * np.float32(1.0 / magnitude_scale)).astype(np.uint8),
            magnitude_scale=magnitude_scale,
            prediction=None if prediction is None else np.asarray(prediction, dtype=np.uint8).copy(),
            metrics=dict(metrics),
        )

    @property
    def peak_abs(self) -> float:
        """Largest |perturbation| of one channel (as kept: within half an int8 step)."""
        return float(np.abs(self.perturbation_int8).max(initial=0)) * self.perturbation_scale

    @property
    def peak_magnitude(self) -> float:
        return float(self.magnitude_uint8.max(initial=0)) * self.magnitude_scale

    @cached_property
    def bulk_magnitude(self) -> float:
        """The 99th percentile of the per-pixel magnitude over the pixels that moved (as kept, from a
        256-bin histogram: cheap enough for every redraw). The heatmap's "auto" scale tops out here,
        so a few strong pixels cannot turn the rest black."""
        counts = np.bincount(self.magnitude_uint8.ravel(), minlength=256)[1:]
        moved = int(counts.sum())
        if moved == 0:
            return 0.0
        level = int(np.searchsorted(np.cumsum(counts), AUTO_PERCENTILE / 100 * moved)) + 1
        return level * self.magnitude_scale

    def perturbation(self) -> np.ndarray:
        return self.perturbation_int8.astype(np.float32) * np.float32(self.perturbation_scale)

    def perturbation_channel(self, channel: int) -> np.ndarray:
        return self.perturbation_int8[..., channel].astype(np.float32) * np.float32(self.perturbation_scale)

    def magnitude(self) -> np.ndarray:
        return self.magnitude_uint8.astype(np.float32) * np.float32(self.magnitude_scale)

    @property
    def nbytes(self) -> int:
        arrays = (self.adversarial, self.perturbation_int8, self.magnitude_uint8, self.prediction)
        return sum(array.nbytes for array in arrays if array is not None)


class SnapshotStore:
    """Frames of one run in iteration order, at most ``capacity`` and about ``budget_bytes``.

    Frames are kept on a stride of arrivals (snapshots arrive evenly in time): when the
    store is full the stride doubles and the frames off the new stride go, so the kept
    frames stay evenly spread over the whole run. The newest snapshot is always there, on
    the stride or not, so the end of the slider is the current state. It stays a raw
    snapshot until someone reads it (the views, at their own pace) or it is kept on the
    stride: converting every snapshot would cost the GUI thread for frames nobody sees.
    """

    def __init__(self, original: np.ndarray, capacity: int = DEFAULT_CAPACITY,
                 budget_bytes: int = DEFAULT_BUDGET_BYTES, first_stride: int = 2):
        self.original = original
        self.capacity = max(3, capacity)
        self.budget_bytes = budget_bytes
        self._entries: list[list] = []  # [arrival number, KeptFrame or raw Snapshot]
        self._arrivals = 0
        self._stride = max(1, first_stride)
        self.conversions = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> KeptFrame:
        entry = self._entries[index]
        if isinstance(entry[1], Snapshot):
            entry[1] = KeptFrame.from_snapshot(entry[1], self.original)
            self.conversions += 1
        return entry[1]

    @property
    def frames(self) -> list[KeptFrame]:
        return [self[index] for index in range(len(self))]

    def newest(self) -> KeptFrame:
        return self[len(self) - 1]

    def limit(self) -> int:
        """Frames allowed: the capacity, fewer when frames are large."""
        if not self._entries:
            return self.capacity
        per_frame = max(1, self[0].nbytes)
        return max(3, min(self.capacity, self.budget_bytes // per_frame))

    def add(self, snapshot: Snapshot) -> None:
        """Append a snapshot (one of the same iteration, e.g. the final one, replaces the newest)."""
        if self._entries and self.iteration_at(-1) == snapshot.iteration:
            self._entries[-1][1] = snapshot
            return
        if self._entries:
            if self._entries[-1][0] % self._stride:
                self._entries.pop()  # the previous newest was only there for being the newest
            else:
                self[len(self) - 1]  # it stays: keep it compact
        self._entries.append([self._arrivals, snapshot])
        self._arrivals += 1
        while len(self._entries) > self.limit():
            self._stride *= 2
            newest = self._entries[-1]
            self._entries = [entry for entry in self._entries[:-1] if entry[0] % self._stride == 0] + [newest]

    def iteration_at(self, index: int) -> int:
        """The iteration of frame ``index``, without converting a raw snapshot."""
        return self._entries[index][1].iteration
