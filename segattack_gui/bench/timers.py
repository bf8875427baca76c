"""One timed run per function: the published loop, the engine, the floor, adv-lib's ASMA.

Each returns seconds; on CUDA every timed region starts and ends with a synchronisation.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch

from ..core.attacks import create_attack
from ..core.models import ModelAdapter
from ..core.published_asma import published_asma_loop
from ..core.results import Snapshot
from ..core.runner import (
    LIVE_SNAPSHOT_INTERVAL,
    AttackControl,
    prepare_batch,
    run_batch,
)
from .adv_lib import AdapterModule, AdvLibAsma
from .environment import synchronize


def time_published(adapter: ModelAdapter, image: np.ndarray, target: np.ndarray, iterations: int) -> float:
    """Seconds for ``iterations`` steps of the published loop's structure on one image."""
    x, target_grid, _, _ = prepare_batch(adapter, [image], [target], None)
    adapter.apply_backend_settings()
    synchronize(adapter.device)
    started = time.perf_counter()
    with torch.enable_grad():
        published_asma_loop(adapter, x, target_grid, iterations)
    synchronize(adapter.device)
    return time.perf_counter() - started


def time_engine(adapter: ModelAdapter, images: Sequence[np.ndarray], targets: Sequence[np.ndarray], iterations: int,
                on_snapshot: Callable[[Snapshot], None] | None = None, control: AttackControl | None = None) -> float:
    """Seconds of the runner's loop for ``iterations`` ASMA steps on ``images`` at once."""
    attack = create_attack("asma", iterations=iterations)
    synchronize(adapter.device)
    results = run_batch(adapter, images, targets, attack, on_snapshot=on_snapshot,
                        snapshot_interval=LIVE_SNAPSHOT_INTERVAL, control=control)
    return results[0].seconds


def time_floor(adapter: ModelAdapter, image: np.ndarray, batch: int, iterations: int) -> float:
    """Seconds for ``iterations`` forward + input-only backward passes of the bare network.

    The input has the shape and memory layout the adapter feeds the network; the network
    runs under the adapter's precision. No normalisation, metrics, loss or step: the floor.
    """
    device = adapter.device
    height, width = adapter.spec.input_size or image.shape[:2]
    channels = adapter.expected_channels(image.shape[2] if image.ndim == 3 else 1)
    generator = torch.Generator(device="cpu").manual_seed(0)
    x = torch.rand(batch, channels, height, width, generator=generator).to(device)
    x = x.contiguous(memory_format=adapter.memory_format)
    x.requires_grad_(True)
    adapter.apply_backend_settings()
    synchronize(device)
    started = time.perf_counter()
    with torch.enable_grad():
        for _ in range(iterations):
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=adapter.precision == "bf16"):
                output = _first_tensor(adapter.model(x))
            torch.autograd.grad(output.float().sum(), x)
    synchronize(device)
    return time.perf_counter() - started


def time_adv_lib(asma: AdvLibAsma, adapter: ModelAdapter, images: Sequence[np.ndarray],
                 targets: Sequence[np.ndarray], iterations: int) -> float:
    """Seconds for ``iterations`` steps of adv-lib's targeted ASMA (its defaults) on ``images`` at once."""
    inputs, labels, _, _ = prepare_batch(adapter, images, targets, None)  # as the engine gets them
    model = AdapterModule(adapter)
    adapter.apply_backend_settings()
    synchronize(adapter.device)
    started = time.perf_counter()
    with torch.enable_grad():
        asma(model, inputs, labels, targeted=True, num_steps=iterations)
    synchronize(adapter.device)
    return time.perf_counter() - started


def _first_tensor(output) -> torch.Tensor:
    if isinstance(output, dict):
        output = output["out"]
    if isinstance(output, (tuple, list)):
        output = output[0]
    return output


class GuiLikeReceiver:
    """A snapshot callback that keeps what the GUI keeps per snapshot (uint8 frame, int8 perturbation)."""

    def __init__(self, original: np.ndarray):
        self.original = np.asarray(original, dtype=np.float32)
        self.frames: list[tuple] = []
        self.count = 0

    def __call__(self, snapshot: Snapshot) -> None:
        frame = np.clip(np.round(snapshot.adversarial * 255), 0, 255).astype(np.uint8)
        perturbation = snapshot.adversarial - self.original.reshape(snapshot.adversarial.shape)
        peak = float(np.abs(perturbation).max()) if perturbation.size else 0.0
        scale = peak / 127 if peak > 0 else 1.0
        kept = (frame, np.round(perturbation / scale).astype(np.int8), snapshot.prediction.copy(),
                {name: values.copy() for name, values in snapshot.history.items()})
        self.frames = self.frames[-2:] + [kept]  # the GUI's store is bounded too
        self.count += 1
