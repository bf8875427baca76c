"""Immutable records the runner hands out: live snapshots and the finished result."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .models import OutputGrid

HISTORY_COLUMNS = ("iou", "pixel_accuracy", "dice", "l2", "linf", "loss", "multiplier")
"""Per-iteration metrics recorded on the device; ``iteration`` and ``seconds`` are added on the host."""


@dataclass(frozen=True)
class Snapshot:
    """The state of a running attack at one iteration, as copies the receiver may keep.

    ``history`` holds one array per column of :data:`HISTORY_COLUMNS` plus
    ``iteration`` and ``seconds``, with rows ``0..iteration`` for item 0 of the batch.
    """

    iteration: int
    total_iterations: int
    adversarial: np.ndarray  # H x W x C float32 in [0, 1]
    prediction: np.ndarray  # h x w uint8 class ids on the output grid
    history: dict[str, np.ndarray]
    elapsed: float
    final: bool = False

    @property
    def metrics(self) -> dict[str, float]:
        return {name: float(values[-1]) for name, values in self.history.items()}


@dataclass
class AttackResult:
    """Everything one attacked image leaves behind; the exporters read only this."""

    method: str
    config: dict
    original: np.ndarray  # H x W x C float32
    adversarial: np.ndarray  # last iterate, float32
    best_adversarial: np.ndarray
    target: np.ndarray  # H x W class ids on the image grid
    region: np.ndarray | None  # H x W bool, None = everywhere
    grid: OutputGrid
    class_names: tuple[str, ...]
    prediction_original: np.ndarray  # h x w on the output grid
    prediction_adversarial: np.ndarray
    prediction_quantized: np.ndarray
    history: dict[str, np.ndarray]
    final: dict
    final_quantized: dict
    best: dict
    iterations_run: int
    seconds: float
    device: str
    seed: int
    stop_reason: str
    error: str | None = None
    precision: str = "fp32"  # the adapter's: fp32, tf32 or bf16 autocast
    adversarial_8bit: np.ndarray | None = None
    """What ``adversarial.png`` holds, on the [0, 1] scale: the last iterate rounded to 8 bits and kept
    inside the method's budget (``Attack.quantize``); ``final_quantized`` scores it."""
    extra: dict = field(default_factory=dict)

    @property
    def perturbation(self) -> np.ndarray:
        return (self.adversarial - self.original).astype(np.float32)
