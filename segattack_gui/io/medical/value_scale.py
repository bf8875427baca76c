"""How an image's own values (HU, stored grey levels) map onto the attack's [0, 1] space.

Attacks work on [0, 1]; a study of a CT model needs its perturbation in Hounsfield units and an
adversarial file on the scanner's integer grid. One linear map serves both: 0 is ``low`` and 1 is
``high`` in the image's units, and, for integer files, ``levels`` equal steps between them are
exactly the stored integers (so rounding to that grid is what an exported file can hold).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ValueScale:
    """x in [0, 1] stands for ``low + x * (high - low)`` in ``units``."""

    low: float
    high: float
    levels: int | None
    """Steps of the stored grid between ``low`` and ``high`` (255 for 8 bits); None for float files."""
    units: str = ""
    """"HU" for CT after its modality LUT; "" when the file states none (stored grey levels)."""
    rule: str = ""
    """One phrase saying which range this is (recorded in summary.json)."""

    @property
    def span(self) -> float:
        return self.high - self.low

    def to_raw(self, unit_values: np.ndarray) -> np.ndarray:
        """[0, 1] values -> the image's own values (float64)."""
        return self.low + np.asarray(unit_values, dtype=np.float64) * self.span

    def file_values(self, unit_values: np.ndarray) -> np.ndarray:
        """[0, 1] values of an image read from a file -> its values exactly (whole grid steps for an
        integer file; float32 [0, 1] alone is off by up to 0.002 HU on a 16-bit grid)."""
        if self.levels is None:
            return self.to_raw(unit_values)
        return self.low + self.grid_steps(unit_values) * (self.span / self.levels)

    def to_unit(self, raw_values: np.ndarray) -> np.ndarray:
        """The image's own values -> [0, 1] (float32)."""
        return ((np.asarray(raw_values, dtype=np.float64) - self.low) / self.span).astype(np.float32)

    def grid_steps(self, unit_values: np.ndarray) -> np.ndarray:
        """[0, 1] values -> the nearest grid step 0..levels (int64), rounded, not truncated."""
        if self.levels is None:
            raise ValueError("a float image has no integer grid")
        return np.round(np.clip(np.asarray(unit_values, dtype=np.float64), 0.0, 1.0) * self.levels).astype(np.int64)

    def record(self) -> dict:
        """What summary.json states as the image's value range."""
        return {"low": self.low, "high": self.high, "levels": self.levels, "units": self.units, "rule": self.rule}

    def words(self, value: float) -> str:
        """A value in the image's units for people: '12 HU', '0.5'."""
        return f"{value:.6g} {self.units}".rstrip()


def integer_range(bits: int, signed: bool) -> tuple[int, int]:
    """The stored integers ``bits`` bits can hold (two's complement when ``signed``)."""
    if signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def stored_scale(stored_min: int, stored_max: int, slope: float, intercept: float, units: str,
                 rule: str) -> ValueScale:
    """The scale of an integer file: x = 0 at ``stored_min``, 1 at ``stored_max``, one grid step per
    stored integer, values ``slope * stored + intercept`` (the modality LUT, or NIfTI's scl_*)."""
    return ValueScale(low=slope * stored_min + intercept, high=slope * stored_max + intercept,
                      levels=int(stored_max - stored_min), units=units, rule=rule)


def raw_norms(scores: dict, scale: ValueScale, adversarial: np.ndarray, original: np.ndarray,
              on_grid: bool = False) -> dict:
    """``scores`` plus ``l2_raw`` and ``linf_raw``: the perturbation in the image's units, over all
    channels. ``on_grid``: both images hold stored integers (an exported file), so the difference
    is counted in whole grid steps, exactly (a float32 [0, 1] difference is not)."""
    if on_grid and scale.levels is not None:
        steps = scale.grid_steps(adversarial) - scale.grid_steps(original)
        delta = steps.astype(np.float64) * (scale.span / scale.levels)
    else:
        delta = (np.asarray(adversarial, np.float64) - np.asarray(original, np.float64)) * scale.span
    return {**scores, "l2_raw": float(np.sqrt(np.sum(delta * delta))), "linf_raw": float(np.abs(delta).max(initial=0.0))}
