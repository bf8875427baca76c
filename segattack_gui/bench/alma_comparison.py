"""SegAttack's ALMA prox against adv-lib's ``alma_prox`` on the same model, images and targets.

Both run in one process on the same :class:`~segattack_gui.core.models.ModelAdapter`, for the
same number of iterations, towards the same targets; each image's answer is scored the same
way: reached (at least ``success_share`` of the pixels on their target class) and its L-inf.
Timing is image-iterations per second over the whole run (adv-lib has no early stop; ours runs
every iteration too, its metrics history included).

adv-lib's ``alma_prox`` needs at least four classes (its difference-of-logits ratio reads the
fourth largest logit). The shipped demo models have two and three, so the comparison runs the
fundus demo U-Net with a fourth output, the mean of the other three logits: never the argmax,
so its predictions and every target are unchanged, and a genuine four-class model to both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..core.attacks.alma_prox import ALMAProx, ALMAProxConfig
from ..core.models import ModelAdapter
from ..core.runner import run_batch


class WithMeanLogit(torch.nn.Module):
    """A segmentation network with one more output channel: the mean of its logits."""

    def __init__(self, network: torch.nn.Module):
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.network(x)
        return torch.cat([logits, logits.mean(1, keepdim=True)], 1)


@dataclass
class Outcome:
    """One implementation's answers over the images."""

    label: str
    reached: list[bool]
    linf: list[float]
    seconds: float
    iterations: int

    def add(self, other: "Outcome") -> None:
        """Another chunk of images, run by the same implementation."""
        self.reached += other.reached
        self.linf += other.linf
        self.seconds += other.seconds

    @property
    def images(self) -> int:
        return len(self.reached)

    def median_linf(self, among: list[bool] | None = None) -> float:
        """Median L-inf of the images reached (or of those marked in ``among``, e.g. every
        implementation's common successes: medians of different image sets do not compare)."""
        chosen = self.reached if among is None else among
        values = [v for v, ok in zip(self.linf, chosen) if ok]
        return float(np.median(values)) if values else float("nan")

    @property
    def image_iterations_per_second(self) -> float:
        return self.images * self.iterations / self.seconds

    def row(self, common: list[bool]) -> str:
        return (f"| {self.label} | {sum(self.reached)}/{self.images} | {self.median_linf() * 255:.3f}/255 "
                f"| {self.median_linf(common) * 255:.3f}/255 | {self.image_iterations_per_second:.2f} |")


def score(adapter: ModelAdapter, x: torch.Tensor, x0: torch.Tensor, target: torch.Tensor,
          share: float) -> tuple[list[bool], list[float]]:
    """Per image: did at least ``share`` of the output pixels reach the target, and the L-inf."""
    with torch.no_grad():
        prediction = adapter.predict(x)
    shares = (prediction == target).flatten(1).float().mean(1)
    linf = (x - x0).flatten(1).abs().amax(1)
    return [bool(s >= share) for s in shares], [float(v) for v in linf]


def run_ours(adapter, images, targets, config: ALMAProxConfig, batch_size: int) -> Outcome:
    reached, linf, seconds = [], [], 0.0
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        began = time.perf_counter()
        results = run_batch(adapter, images[chunk], targets[chunk], ALMAProx(config), check_every=config.iterations)
        seconds += time.perf_counter() - began
        x = torch.stack([adapter.to_device(r.adversarial)[0] for r in results])
        x0 = torch.stack([adapter.to_device(image)[0] for image in images[chunk]])
        target = torch.stack([torch.as_tensor(t) for t in targets[chunk]]).to(adapter.device)
        ok, size = score(adapter, x, x0, target, config.success_share)
        reached += ok
        linf += size
    return Outcome(f"SegAttack alma_prox ({config.penalty_gradient})", reached, linf, seconds, config.iterations)


def run_adv_lib(adapter, images, targets, config: ALMAProxConfig, batch_size: int) -> Outcome:
    from adv_lib.attacks.segmentation import alma_prox

    from .adv_lib import AdapterModule

    module = AdapterModule(adapter)
    reached, linf, seconds = [], [], 0.0
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        x0 = torch.cat([adapter.to_device(image) for image in images[chunk]])
        target = torch.stack([torch.as_tensor(t) for t in targets[chunk]]).to(adapter.device)
        began = time.perf_counter()
        with torch.enable_grad():
            x = alma_prox(module, x0, target, targeted=True, adv_threshold=config.success_share,
                          num_steps=config.iterations, lr_init=config.learning_rate,
                          lr_reduction=config.lr_reduction)
        seconds += time.perf_counter() - began
        ok, size = score(adapter, x, x0, target, config.success_share)
        reached += ok
        linf += size
    return Outcome("adv-lib alma_prox", reached, linf, seconds, config.iterations)
