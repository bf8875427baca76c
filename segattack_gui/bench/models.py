"""The networks ``segattack bench`` times, each with the image and target its attacks run on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..core.architectures import PaddedUNet, ValidUNet
from ..core.models import ModelAdapter, ModelSpec, channels_last_pays

AdapterFactory = Callable[[torch.device, str], ModelAdapter]


@dataclass(frozen=True)
class BenchModel:
    """A network to time, with the image and target its attacks run on."""

    name: str
    description: str
    make_adapter: AdapterFactory  # (device, precision) -> a fresh adapter with these settings
    image: np.ndarray  # H x W x C float32 in [0, 1]
    target: np.ndarray  # H x W class ids on the image grid


def _disc_target(height: int, width: int, num_classes: int) -> np.ndarray:
    """A centred disc of class 1 with a core of the last class: a target unlike any random prediction."""
    rows, columns = np.mgrid[:height, :width]
    radius = np.hypot(rows - height / 2, columns - width / 2)
    target = np.zeros((height, width), np.int64)
    target[radius < min(height, width) / 3] = 1
    target[radius < min(height, width) / 8] = num_classes - 1
    return target


def _random_image(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (height, width, channels)).astype(np.float32)


def module_bench_model(name: str, description: str, build: Callable[[], torch.nn.Module], spec: ModelSpec,
                       image: np.ndarray, target: np.ndarray, seed: int = 0) -> BenchModel:
    """A bench model from a network constructor: seeded, so every precision gets the same weights."""

    def make_adapter(device: torch.device, precision: str) -> ModelAdapter:
        torch.manual_seed(seed)
        return ModelAdapter(build(), spec, device=device, precision=precision,
                            channels_last=channels_last_pays(device))  # as load_model does for real attacks

    return BenchModel(name, description, make_adapter, image, target)


def demo_bench_model(seed: int = 0, demo_name: str = "fundus") -> BenchModel:
    """A shipped demo (model, image, target); a fresh seeded demo-sized U-Net when it is absent.

    Named ``demo`` for the fundus demo (the CPU default) and ``skin`` for the dermoscopy one.
    """
    from ..assets import resource_root
    from ..demo import DEMOS

    name = next(model for model, demo in DEMO_MODELS.items() if demo == demo_name)
    demo = DEMOS[demo_name]
    paths = [demo.path(part, resource_root()) for part in ("model", "sidecar", "image", "target")]
    if all(path.is_file() for path in paths):
        from ..io.inputs import load_attack_inputs
        from ..io.model_files import load_model

        inputs = load_attack_inputs(paths[0], paths[2], paths[3], None, device="cpu")
        spec = inputs.model.adapter.spec

        def make_adapter(device: torch.device, precision: str) -> ModelAdapter:
            return load_model(paths[0], device=str(device), precision=precision).adapter

        widths = spec.architecture_args.get("widths", "?")
        return BenchModel(name, f"shipped {demo_name} demo U-Net ({paths[0].name}, widths {widths}, "
                          f"{spec.num_classes} classes)", make_adapter, inputs.image.pixels.astype(np.float32),
                          np.asarray(inputs.target.class_ids))
    spec = ModelSpec(classes=("background", "vessel", "disc"))
    return module_bench_model(
        name, "demo-sized U-Net (PaddedUNet widths 8-16-32-64, 3 classes, seeded random weights: "
        f"the shipped {demo_name} demo model was not found)",
        lambda: PaddedUNet(in_channels=3, num_classes=3, widths=(8, 16, 32, 64)), spec,
        _random_image(256, 256, 3, seed), _disc_target(256, 256, 3), seed,
    )


def unet_bench_model(seed: int = 0) -> BenchModel:
    """The paper's valid-convolution U-Net at 572 x 572 (388 x 388 output), seeded random weights."""
    return module_bench_model(
        "unet", "the paper's valid U-Net (widths 32-512, 2 classes, seeded random weights), 572 -> 388",
        lambda: ValidUNet(in_channels=3, num_classes=2), ModelSpec(),
        _random_image(572, 572, 3, seed), _disc_target(572, 572, 2), seed,
    )


BENCH_MODELS: dict[str, Callable[[int], BenchModel]] = {
    "demo": demo_bench_model, "skin": lambda seed: demo_bench_model(seed, "skin"), "unet": unet_bench_model,
}
DEMO_MODELS = {"demo": "fundus", "skin": "skin"}  # bench model -> shipped demo; the demo-rate target of docs/design.md (Performance)
