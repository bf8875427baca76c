"""Deterministic CPU training of the demo's small U-Nets on synthetic images.

``train_demo_models`` regenerates everything the demo ships (models, sidecars, demo
image, ground truth, a ready target mask, the README); ``segattack demo`` calls it.
Training runs on the CPU on purpose: it is small enough to take a few minutes on two
cores and, with fixed seeds and deterministic algorithms, gives the same weights on
every machine with the same torch build and thread count.

The models are trained on random 128 x 128 crops of 256 x 256 generated images
(a fully convolutional net does not care, and a crop costs a quarter of a full image);
batch-norm statistics are measured on full images, the size the demo runs at, and
kept fixed for the last part of training.
The saved model takes *normalised* input; mean and std go to the sidecar and the
attack tool's adapter applies them, so attacks still work on [0, 1] images.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.demo.catalog import (
    DEMO_SAMPLE,
    DEMOS,
    HELDOUT_STREAM,
    SEED,
    TRAIN_STREAM,
    pick_target,
    sample_seed,
    sidecar_json,
    structure_iou,
    write_atomically,
    write_class_png,
    write_readme,
    write_rgb_png,
)
from segattack_gui.demo.synthetic import IMAGE_SIZE, KINDS, SyntheticKind

COMMAND = "segattack demo"

Progress = Callable[[str, float], None]
"""``progress(message, fraction)``: fraction of the whole job done, in [0, 1]."""


@dataclass(frozen=True)
class TrainingPlan:
    """How one demo model is trained; the defaults give the shipped models."""

    widths: tuple[int, ...] = (4, 8, 16, 32, 64)
    train_images: int = 320  # generated 256 x 256 images in the training pool
    heldout_images: int = 48  # generated images, other seeds, for the recorded Dice
    epochs: int = 24  # passes over the pool, one random crop per image per pass
    crop: int = 128
    batch_size: int = 16
    learning_rate: float = 4e-3
    focus: float = 0.5  # share of crops centred near the foreground (the rest anywhere)
    colour_jitter: float = 1.0  # strength of the random colour augmentation (0: none)
    calibration_images: int = 32  # full images that set the batch-norm statistics
    frozen_norm_share: float = 0.4  # last share of steps trained with those statistics fixed


PLANS = {
    # Five levels to 128 channels (1.9 MB): a U-Net with the depth and, for a 256 x 256 image,
    # the receptive field of a real one. The earlier 4-64 net on plainer images needed an L-inf
    # of 0.6 to be steered (issue 18); this one, on images with faint discs, lookalikes, haze and
    # uneven light, is moved like the paper's model (README, "The demo").
    "fundus": TrainingPlan(widths=(8, 16, 32, 64, 128)),
    "skin": TrainingPlan(widths=(8, 16, 32, 64, 128), epochs=16),
}
QUICK_PLAN = TrainingPlan(train_images=6, heldout_images=2, epochs=1, batch_size=6, calibration_images=2)


# --------------------------------------------------------------------------- data


def generate_set(kind: SyntheticKind, stream: int, count: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """``count`` samples of one stream: images N x H x W x 3 uint8, labels N x H x W uint8."""
    pairs = [kind.generate(sample_seed(stream, index, seed)) for index in range(count)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def channel_statistics(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and one std for all channels, of [0, 1] images, rounded as in the sidecar.

    One std, as ImageNet-style normalisation keeps the channels' scales alike: a fundus
    photograph's blue channel is nearly black (std 0.06 against red's 0.28), and dividing by
    its own std made the net four times as sensitive to blue, so every attack's gradient, and
    the perturbation, piled into the blue channel of a few pixels.
    """
    values = images.reshape(-1, 3).astype(np.float64) / 255.0
    mean = values.mean(0)
    std = float(np.sqrt(((values - mean) ** 2).mean()))
    return [round(float(v), 4) for v in mean], [round(std, 4)] * 3


def _normalise(images: np.ndarray, mean, std) -> torch.Tensor:
    """N x H x W x 3 (uint8, or float in [0, 1]) -> float32 N x 3 x H x W, (x - mean) / std."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
    if images.dtype == np.uint8:
        tensor = tensor / 255.0
    return (tensor - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def _jitter_colours(rng: np.random.Generator, images: np.ndarray, strength: float) -> np.ndarray:
    """Random per-image channel gains, gamma and offset on uint8 crops -> float [0, 1].

    Without it a small net learns absolute colours ("yellow is disc") and fails on
    the generator's rarer, yellower retinas; jitter makes it rely on local contrast.
    """
    count = len(images)
    gains = (1 + strength * rng.uniform(-0.15, 0.15, (count, 1, 1, 3))) * (
        1 + strength * rng.uniform(-0.15, 0.15, (count, 1, 1, 1))
    )
    gamma = np.exp(strength * rng.uniform(-0.22, 0.22, (count, 1, 1, 1)))
    offset = strength * rng.uniform(-0.04, 0.04, (count, 1, 1, 3))
    jittered = (images.astype(np.float32) / 255.0) ** gamma * gains + offset
    return np.clip(jittered, 0.0, 1.0).astype(np.float32)


def _crop_batches(
    rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, plan: TrainingPlan
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of random crops with flips, in batches.

    Most crops are centred near the foreground (jittered), where the boundaries to
    learn are; the rest are anywhere, so the net also learns what is *not* a target.
    """
    count, size = labels.shape[0], labels.shape[1]
    crop = plan.crop
    order = rng.permutation(count)
    for first in range(0, count, plan.batch_size):
        batch_images, batch_labels = [], []
        for index in order[first : first + plan.batch_size]:
            foreground = np.argwhere(labels[index] > 0)
            if len(foreground) and rng.random() < plan.focus:
                cy, cx = foreground.mean(axis=0) + rng.uniform(-0.35, 0.35, 2) * crop
            else:
                cy, cx = rng.uniform(crop / 2, size - crop / 2, 2)
            top = int(np.clip(round(cy - crop / 2), 0, size - crop))
            left = int(np.clip(round(cx - crop / 2), 0, size - crop))
            image = images[index, top : top + crop, left : left + crop]
            label = labels[index, top : top + crop, left : left + crop]
            if rng.random() < 0.5:
                image, label = image[:, ::-1], label[:, ::-1]
            if rng.random() < 0.5:
                image, label = image[::-1], label[::-1]
            batch_images.append(image)
            batch_labels.append(label)
        yield np.stack(batch_images), np.stack(batch_labels)


# --------------------------------------------------------------------------- training


@contextlib.contextmanager
def deterministic_torch(seed: int, num_threads: int | None) -> Iterator[None]:
    """Seed torch and demand deterministic kernels; restore the caller's settings after."""
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    was_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    old_threads = torch.get_num_threads()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    if num_threads:
        torch.set_num_threads(num_threads)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_deterministic, warn_only=was_warn_only)
        torch.set_num_threads(old_threads)


def segmentation_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus soft Dice over the foreground classes.

    The Dice term keeps small classes (the optic cup covers ~1% of the image) from
    being drowned by the background in the cross-entropy.
    """
    cross_entropy = F.cross_entropy(logits, labels)
    probabilities = logits.softmax(dim=1)[:, 1:]
    one_hot = F.one_hot(labels, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].float()
    overlap = (probabilities * one_hot).sum(dim=(0, 2, 3))
    total = probabilities.sum(dim=(0, 2, 3)) + one_hot.sum(dim=(0, 2, 3))
    dice = (2 * overlap + 1.0) / (total + 1.0)
    return cross_entropy + (1.0 - dice).mean()


def fit(
    model: torch.nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    mean,
    std,
    plan: TrainingPlan,
    seed: int = SEED,
    report: Callable[[int, int, float], None] | None = None,
) -> None:
    """Adam with a one-cycle schedule on random crops; ``report(step, steps, loss)``.

    For the last ``plan.frozen_norm_share`` of the steps, batch norm uses fixed
    statistics measured on full images (see ``freeze_batch_norm``), so the weights
    adapt to exactly the normalisation the eval-mode model will apply.
    """
    rng = np.random.default_rng([seed, 99])
    steps_per_epoch = -(-len(images) // plan.batch_size)
    steps = steps_per_epoch * plan.epochs
    freeze_at = int(round(steps * (1.0 - plan.frozen_norm_share)))
    optimiser = torch.optim.Adam(model.parameters(), lr=plan.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, plan.learning_rate, total_steps=steps, pct_start=0.15)
    model.train()
    step = 0
    for _ in range(plan.epochs):
        for batch_images, batch_labels in _crop_batches(rng, images, labels, plan):
            if step == freeze_at:
                freeze_batch_norm(model, images[: plan.calibration_images], mean, std)
            inputs = _normalise(_jitter_colours(rng, batch_images, plan.colour_jitter), mean, std)
            targets = torch.from_numpy(np.ascontiguousarray(batch_labels)).long()
            loss = segmentation_loss(model(inputs), targets)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            step += 1
            if report is not None:
                report(step, steps, loss.item())
    if freeze_at >= steps:
        freeze_batch_norm(model, images[: plan.calibration_images], mean, std)
    model.eval()


def _batch_norms(model: torch.nn.Module) -> list[torch.nn.BatchNorm2d]:
    return [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)]


@torch.no_grad()
def freeze_batch_norm(model: torch.nn.Module, images: np.ndarray, mean, std) -> None:
    """Measure batch-norm statistics on full-size images, then stop updating them.

    Training batches are crops, half of them centred on the structure: their batch
    statistics differ from a whole 256 x 256 image's, and a net this narrow leans on
    them (train-mode error 1%, eval-mode 8% before this step). Measuring the running
    statistics on whole images and then training on with them fixed removes the gap.
    The norms stay in eval mode; the caller's ``model.train()`` would undo that.
    """
    norms = _batch_norms(model)
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over all calibration batches
    model.train()
    for first in range(0, len(images), 8):
        model(_normalise(images[first : first + 8], mean, std))
    for norm in norms:
        norm.momentum = 0.1
        norm.eval()


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, mean, std) -> np.ndarray:
    """Class ids N x H x W of an eval-mode model on uint8 images."""
    model.eval()
    return np.concatenate(
        [model(_normalise(images[i : i + 8], mean, std)).argmax(1).numpy() for i in range(0, len(images), 8)]
    ).astype(np.uint8)


def dice_per_class(prediction: np.ndarray, truth: np.ndarray, classes: list[str]) -> dict[str, float]:
    """Mean over images of each foreground class's Dice (both empty counts as 1), and their mean."""
    if prediction.ndim == 2:
        prediction, truth = prediction[None], truth[None]
    scores = {}
    for class_id, name in enumerate(classes[1:], start=1):
        per_image = []
        for pred, true in zip(prediction == class_id, truth == class_id):
            total = pred.sum() + true.sum()
            per_image.append(1.0 if total == 0 else 2.0 * (pred & true).sum() / total)
        scores[name] = round(float(np.mean(per_image)), 4)
    scores["mean"] = round(float(np.mean([scores[name] for name in classes[1:]])), 4)
    return scores


def input_gradient_rate(model: torch.nn.Module, size: int = IMAGE_SIZE, seconds: float = 3.0) -> float:
    """Forward + input-gradient backward passes per second on one image (eval mode).

    One attack iteration costs exactly this, so it bounds the demo's attack speed.
    """
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    image = torch.rand(1, 3, size, size)

    def iteration() -> None:
        x = image.clone().requires_grad_(True)
        model(x).sum().backward()

    for _ in range(3):
        iteration()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        iteration()
        count += 1
    rate = count / (time.perf_counter() - start)
    for parameter in model.parameters():
        parameter.requires_grad_(True)
    return rate


# --------------------------------------------------------------------------- the whole job


def train_demo_models(
    out_dir: Path | None = None,
    *,
    which: tuple[str, ...] = ("fundus", "skin"),
    quick: bool = False,
    progress: Progress | None = None,
    seed: int = SEED,
    num_threads: int | None = None,
    measure_speed: bool | None = None,
) -> dict:
    """Regenerate the demo data and retrain the demo models into ``out_dir``.

    Writes, per demo, the state dict, its sidecar, the demo image, its truth and a
    ready target mask (paths as in ``DEMOS``), then ``README.md`` for every sidecar
    present. ``out_dir`` defaults to the shipped ``resources/``. ``quick`` trains a
    tiny, useless model in seconds (tests); ``num_threads`` caps torch's CPU threads
    for the run (restored after). Returns, per demo, the sidecar written, the files
    and the measured forward + input-gradient rate at 256 x 256 (or None).
    """
    if out_dir is None:
        from segattack_gui.assets import resource_root

        out_dir = resource_root()
    out_dir = Path(out_dir)
    unknown = [name for name in which if name not in KINDS]
    if unknown:
        raise ValueError(f"unknown demo {unknown[0]!r} (known: {', '.join(KINDS)})")
    if measure_speed is None:
        measure_speed = not quick
    notify = progress or (lambda message, fraction: None)
    results = {}
    for position, name in enumerate(which):
        plan = QUICK_PLAN if quick else PLANS[name]

        def report(message: str, share: float, position=position) -> None:
            notify(f"{name}: {message}", (position + share) / len(which))

        results[name] = _build_demo(out_dir, KINDS[name], plan, seed, num_threads, measure_speed, report)
    write_readme(out_dir, DEMO_SAMPLE, threads=num_threads or torch.get_num_threads())
    notify("done", 1.0)
    return results


def _build_demo(
    out_dir: Path,
    kind: SyntheticKind,
    plan: TrainingPlan,
    seed: int,
    num_threads: int | None,
    measure_speed: bool,
    report: Callable[[str, float], None],
) -> dict:
    """Generate, train, evaluate and write one demo; returns its result entry."""
    start = time.perf_counter()
    report(f"generating {plan.train_images} + {plan.heldout_images} images", 0.0)
    images, labels = generate_set(kind, TRAIN_STREAM, plan.train_images, seed)
    heldout_images, heldout_labels = generate_set(kind, HELDOUT_STREAM, plan.heldout_images, seed)
    mean, std = channel_statistics(images)

    with deterministic_torch(seed, num_threads):
        model = PaddedUNet(in_channels=3, num_classes=len(kind.classes), widths=plan.widths)

        def on_step(step: int, steps: int, loss: float) -> None:
            if step % 10 == 0 or step == steps:
                report(f"training step {step}/{steps}, loss {loss:.3f}", 0.1 + 0.8 * step / steps)

        fit(model, images, labels, mean, std, plan, seed, on_step)
        report("evaluating on held-out images", 0.92)
        dice = dice_per_class(predict(model, heldout_images, mean, std), heldout_labels, kind.classes)
        seconds = time.perf_counter() - start
        rate = input_gradient_rate(model) if measure_speed else None

    files = DEMOS[kind.name]
    sidecar = {
        "description": kind.description,
        "classes": kind.classes,
        "colors": kind.colors,
        "mean": mean,
        "std": std,
        "input_size": None,
        "output": "logits",
        "architecture": "padded_unet",
        "architecture_args": {"in_channels": 3, "num_classes": len(kind.classes), "widths": list(plan.widths)},
        "heldout_dice": dice,
        "training": {
            "seed": seed,
            "images": plan.train_images,
            "epochs": plan.epochs,
            "seconds": round(seconds, 1),
            "torch": torch.__version__,
            "command": COMMAND,
        },
    }
    report("writing files", 0.97)
    model.eval()
    state = {key: value.detach().clone() for key, value in model.state_dict().items()}  # float32 weights
    write_atomically(files.path("model", out_dir), lambda path: torch.save(state, path))
    write_atomically(files.path("sidecar", out_dir), lambda path: path.write_text(sidecar_json(sidecar)))
    target_iou = write_demo_inputs(out_dir, kind, seed)
    return {
        "sidecar": sidecar,
        "files": {field: files.path(field, out_dir) for field in ("model", "sidecar", "image", "truth", "target")},
        "target_iou": target_iou,
        "input_gradient_rate": rate,
    }


def write_demo_inputs(out_dir: Path, kind: SyntheticKind, seed: int = SEED) -> float:
    """The demo image (held-out sample ``DEMO_SAMPLE``), its truth and its target, written into
    ``out_dir``; returns the truth's IoU with the target. Needs no model: it is a pure function of
    the seeds and the generator code."""
    files = DEMOS[kind.name]
    host = sample_seed(HELDOUT_STREAM, DEMO_SAMPLE[kind.name], seed)
    image, truth = kind.generate(host)
    target, _ = pick_target(kind, host, seed)
    write_atomically(files.path("image", out_dir), lambda path: write_rgb_png(path, image))
    write_atomically(files.path("truth", out_dir), lambda path: write_class_png(path, truth, kind.colors))
    write_atomically(files.path("target", out_dir), lambda path: write_class_png(path, target, kind.colors))
    return round(structure_iou(truth, target, len(kind.classes)), 3)
